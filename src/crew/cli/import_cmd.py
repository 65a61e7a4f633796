"""`crew import crewai PATH`: bring a project over from another agent framework; `crew import
swebench FILE`: SWE-bench-style instances and local clones as a `crew eval` suite.

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


@import_app.command("swebench")
def import_swebench_command(
    instances: Annotated[Path, typer.Argument(help="SWE-bench-style JSONL: instance_id, repo, "
                                                   "base_commit, problem_statement, "
                                                   "test_patch, FAIL_TO_PASS, PASS_TO_PASS.")],
    clones: Annotated[Path, typer.Option("--clones", help="Folder of local clones, one per "
                                         "repository (owner__name, owner/name or name; a "
                                         "directory or NAME.bundle).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The suite folder to write.")],
    test_cmd: Annotated[str, typer.Option("--test-cmd", help="Runs the instances' test ids "
                                          "(in the sandbox, on the result).")]
    = "python3 -m pytest -q -p no:cacheprovider",
    force: Annotated[bool, typer.Option(help="Write into a non-empty folder.")] = False,
) -> None:
    """Turn SWE-bench-style instances and local clones into a `crew eval` suite."""
    from crew.eval.swebench import import_swebench

    result = import_swebench(instances, clones, out, force=force, test_cmd=test_cmd)
    typer.echo(f"wrote {len(result.cases)} cases to {result.suite}\n"
               f"run them with: crew eval {result.suite}")
