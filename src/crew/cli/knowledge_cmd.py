"""`crew knowledge show|edit|clear [--repo PATH] [--committed]`: what crew learned about a
repository across runs (crew.run.knowledge). The notes of `knowledge: on` live in
`<repo>/.crew/knowledge.md`; `--committed` works on `CREW.md` (`knowledge: commit`) instead.

Registered as `crew knowledge` by the command table (crew.cli.commands).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from crew.errors import UserError

knowledge_app = typer.Typer(help="What crew learned about a repository across runs.",
                            no_args_is_help=True, add_completion=False)

RepoOpt = Annotated[Path | None, typer.Option(
    "--repo", help="The repository (default: the one holding the current directory).")]
CommittedOpt = Annotated[bool, typer.Option(
    "--committed", help="CREW.md (knowledge: commit) instead of .crew/knowledge.md.")]


@knowledge_app.callback()
def _group() -> None:
    """What crew learned about a repository across runs: commands, conventions, pitfalls."""


def _path(repo: Path | None, committed: bool) -> Path:
    from crew.run.knowledge import COMMIT_FILE, LOCAL_FILE
    from crew.workspace.git import repo_root

    try:
        root = repo_root(repo or Path.cwd())
    except UserError as e:
        raise UserError(e.problems[0].message, field="--repo",
                        hint="run it inside the repository, or pass --repo PATH") from None
    return root / (COMMIT_FILE if committed else LOCAL_FILE)


@knowledge_app.command("show")
def show_command(repo: RepoOpt = None, committed: CommittedOpt = False) -> None:
    """Print the notes every role of a run on this repository reads."""
    path = _path(repo, committed)
    if not path.is_file():
        typer.echo(f"no notes yet: {path} does not exist (a finished run writes it; "
                   "`knowledge: off` in a feature or crew turns it off)")
        return
    typer.echo(f"# {path}")
    typer.echo(path.read_text(encoding="utf-8", errors="replace").rstrip())


@knowledge_app.command("edit")
def edit_command(repo: RepoOpt = None, committed: CommittedOpt = False) -> None:
    """Open the notes in $VISUAL / $EDITOR (made from the template when there are none)."""
    from crew.run import knowledge_notes as kn

    path = _path(repo, committed)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kn.render(kn.Notes()), encoding="utf-8")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        code = subprocess.run([*shlex.split(editor), str(path)], check=False).returncode
    except OSError as e:
        raise UserError(f"cannot start the editor {editor!r}: {e.strerror}", field="EDITOR",
                        hint="set VISUAL or EDITOR to an installed editor") from None
    if code != 0:
        typer.echo(f"the editor exited {code}; {path} is as it left it", err=True)
        raise typer.Exit(1)
    entries = len(kn.parse(path.read_text(encoding="utf-8", errors="replace")).entries())
    typer.echo(f"{path}: {entries} entr{'y' if entries == 1 else 'ies'}")


@knowledge_app.command("clear")
def clear_command(repo: RepoOpt = None, committed: CommittedOpt = False,
                  yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False
                  ) -> None:
    """Forget the notes (remove the file; CREW.md is then a change to commit)."""
    from crew.run import knowledge_notes as kn

    path = _path(repo, committed)
    if not path.is_file():
        typer.echo(f"nothing to clear: {path} does not exist")
        return
    entries = len(kn.parse(path.read_text(encoding="utf-8", errors="replace")).entries())
    if not yes and not (sys.stdin.isatty() and typer.confirm(
            f"Remove {path} ({entries} entries)?", default=False)):
        raise UserError("nothing removed", field="--yes", hint="pass --yes to remove the notes")
    path.unlink()
    typer.echo(f"removed {path} ({entries} entr{'y' if entries == 1 else 'ies'})")
