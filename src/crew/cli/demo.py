"""`crew demo [DIR]`: the offline todo-csv demo — the sample project as a fresh git repo beside a
feature, a models.yaml pointing at the replay model and its script — then `crew run` on it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from crew.errors import UserError

FILES = ("feature.yaml", "models.yaml", "replay.yaml")
_GIT_ENV = {"GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.invalid",
            "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.invalid"}


def demo_source() -> Path:
    """The demo's files: `crew/library/examples/todo-csv` in a wheel, `examples/` in a checkout."""
    from crew.spec.library import builtin_library_dir

    src = builtin_library_dir() / "examples" / "todo-csv"
    if not (src / "feature.yaml").is_file():
        raise UserError("the demo files are missing from this installation",
                        hint="reinstall crew (pip install --no-deps -e . from a checkout)")
    return src


def make_demo(dest: Path, source: Path | None = None) -> Path:
    """Create the demo in `dest` (new or empty); returns its feature.yaml."""
    src = source or demo_source()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} is not an empty directory", field="DIR",
                        hint="pick a new directory, e.g. `crew demo /tmp/crew-demo`")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(src / name, dest / name)
        project = dest / "project"
        shutil.copytree(src / "project", project, ignore=shutil.ignore_patterns(
            "__pycache__", ".pytest_cache", "todos.json", ".git"))
    except OSError as e:
        raise UserError(f"cannot write the demo: {e.strerror or e}", file=str(dest)) from None
    env = {**os.environ, **_GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["commit", "-q", "--no-verify", "-m", "todo: the sample project"]):
        subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=project,
                       check=True, env=env, stdout=subprocess.DEVNULL)
    return dest / "feature.yaml"


def demo_command(
    directory: Annotated[Path, typer.Argument(help="Where to make the demo (new or empty).")]
    = Path("crew-demo"),
    sandbox: Annotated[str | None, typer.Option("--sandbox", help="auto, docker, bwrap or "
                                                "local.")] = None,
    no_trace: Annotated[bool, typer.Option("--no-trace", help="Do not send to Langfuse.")]
    = False,
    json_mode: Annotated[bool, typer.Option("--json", help="Print JSON lines instead.")]
    = False,
) -> None:
    """Run the offline demo (replay model: no key, no network) on a sample todo CLI."""
    from crew.cli.run_cmd import run
    from crew.llm import prewarm

    prewarm()  # litellm imports while the demo's repository is made
    feature = make_demo(directory)
    project = (directory / "project").resolve()
    typer.echo(f"demo: a todo CLI as a fresh git repo in {project}; the crew adds CSV export",
               err=json_mode)
    run(feature, sandbox=sandbox, no_trace=no_trace, json_mode=json_mode)
