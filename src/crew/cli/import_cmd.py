"""`crew import crewai PATH`: bring a project over from another agent framework.

Registered as `crew import` by the command table (crew.cli.commands).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(help="Import a project from another agent framework.",
                         no_args_is_help=True, add_completion=False)


@import_app.callback()
def _group() -> None:
    """Import a project from another agent framework (the result validates with crew)."""


@import_app.command("crewai")
def import_crewai_command(
    path: Annotated[Path, typer.Argument(help="The CrewAI project folder (crew.jsonc, or "
                                              "config/agents.yaml and config/tasks.yaml).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write the crew "
                                             "files (default: PATH/crew).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Turn a CrewAI project into crew roles, task templates, a crew and a feature.yaml."""
    from crew.cli.scaffold import from_cwd
    from crew.interop.crewai_import import REPORT_FILE, import_crewai

    result = import_crewai(path, out, force=force)
    typer.echo(result.report.render(from_cwd(result.out_dir / "feature.yaml")))
    typer.echo(f"wrote {len(result.written)} files to {result.out_dir} "
               f"(this report: {result.out_dir / REPORT_FILE})")
