"""`crew demo [DIR]`: the offline todo-csv demo — the sample project as a fresh git repo beside a
feature, a models.yaml pointing at the replay model and its script — then `crew run` on it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
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


def _is_demo(dest: Path) -> bool:
    return all((dest / n).is_file() for n in FILES) and (dest / "project" / ".git").is_dir()


def _passed_before(dest: Path) -> bool:
    from crew.run.state import RunStatus, scan_runs

    return any(s is not None and s.status == RunStatus.PASSED
               for _, s in scan_runs(dest / "project"))


def _fresh_name(dest: Path) -> Path:
    n = 2
    while dest.with_name(f"{dest.name}-{n}").exists():
        n += 1
    return dest.with_name(f"{dest.name}-{n}")


def make_demo(dest: Path, source: Path | None = None) -> Path:
    """Create the demo in `dest` (new or empty) and return its feature.yaml; a demo made
    there before that has not passed yet (a failed or stopped first try) is run again as it
    is."""
    src = source or demo_source()
    if dest.is_dir() and _is_demo(dest) and not _passed_before(dest):
        return dest / "feature.yaml"
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        done = dest.is_dir() and _is_demo(dest)
        raise UserError(
            f"{dest} " + ("holds a demo that already passed" if done else
                          "is not an empty directory"), field="DIR",
            hint=(f"see its run with `crew runs --repo {dest / 'project'}`, or " if done
                  else "") + f"make a new one: `crew demo {_fresh_name(dest)}`")
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

    again = directory.is_dir() and _is_demo(directory)
    feature = make_demo(directory)
    project = (directory / "project").resolve()
    where = "again, on the demo made before in" if again else "a todo CLI as a fresh git repo in"
    typer.echo(f"demo: {where} {project}; the crew adds CSV export", err=json_mode)
    if sandbox is None:
        sandbox = demo_sandbox()
        if sandbox == "local":
            typer.echo(LOCAL_NOTE, err=json_mode)
    run(feature, sandbox=sandbox, no_trace=no_trace, json_mode=json_mode)


LOCAL_NOTE = ("demo: neither Docker nor bubblewrap is available here, so the demo's commands run "
              "with `--sandbox local` (no filesystem isolation; no network and its own process "
              "namespace where user namespaces work). They are crew's own, from its replay "
              "script: the sample project's tests and the CSV export. Your own features stop "
              "instead: install bubblewrap (`apt-get install bubblewrap`) or Docker first.")


def demo_sandbox(status: Callable[[str], tuple[bool, str]] | None = None) -> str:
    """The demo's sandbox: the first isolating backend available, else `local` — the demo
    only runs crew's own replayed commands, so it works wherever Python does (a user's feature
    never falls back: `auto` stops and says how to install one)."""
    if status is None:
        from crew.tools.sandbox import backend_status

        status = backend_status
    for name in ("docker", "bwrap"):
        if status(name)[0]:
            return "auto"
    return "local"
