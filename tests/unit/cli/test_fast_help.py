"""`crew`, `crew -h/--help` and `crew --version` skip typer, click and rich (a fast start) and
answer exactly what the typer app answers: same text at every width, same stream, same exit
code; the commands listed are the app's commands."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import typer.main

from crew import __version__
from crew.cli.app import _answer_without_typer
from crew.cli.commands import COMMANDS, render_help
from crew.cli.typer_app import app

NOT_LOADED = ("typer", "click", "rich", "shellingham", "litellm", "pydantic", "yaml")
# exactly what the console script does (`from crew.cli.app import entry` … `entry()`)
CONSOLE_SCRIPT = "import sys; sys.argv[0] = 'crew'; from crew.cli.app import entry; entry()"
TYPER = "import sys; sys.argv[0] = 'crew'; from crew.cli.typer_app import app; app()"


GROUP: Any = typer.main.get_command(app)  # typer's click group (duck-typed)


def _typer_help(prog: str, width: int) -> str:
    ctx = GROUP.make_context(prog, [], resilient_parsing=True, terminal_width=width)
    return str(ctx.get_help()) + "\n"


@pytest.mark.parametrize("prog", ["crew", "python -m crew"])
def test_the_fast_help_is_typers_help_at_every_width(prog: str) -> None:
    for width in range(20, 101):  # click's own width is 50..78; wider and narrower too
        assert render_help(prog, width) == _typer_help(prog, width), f"width {width}"


def test_the_listed_commands_are_the_apps_commands_in_order() -> None:
    text = render_help("crew", 78)
    listed = text.split("\nCommands:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in listed] == list(GROUP.commands)
    assert [c.name for c in COMMANDS] == list(GROUP.commands)
    assert "Run 'crew COMMAND -h'" in text  # how to get a command's own help


def test_every_summary_is_one_line_that_fits_80_columns() -> None:
    for c in COMMANDS:
        assert "\n" not in c.summary and c.summary == c.summary.strip(), c.name
        assert render_help("crew", 78).count(f"  {c.name} ") == 1
    assert len(render_help("crew", 78).splitlines()) == 11 + len(COMMANDS)  # nothing wraps


def _run(code: str, args: list[str], columns: str | None,
         *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, *flags, "-c", code, *args], capture_output=True,
                          text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def _imported(stderr: str) -> tuple[set[str], str]:
    """The modules `-X importtime` reports, and the rest of stderr."""
    lines = stderr.splitlines(keepends=True)
    names = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    return names, "".join(line for line in lines if not line.startswith("import time:"))


@pytest.mark.parametrize("args,columns", [([], "60"), (["-h"], "60"), (["--help"], None),
                                          (["--help"], "50"), (["--version"], None)],
                         ids=["no-args", "-h", "--help", "--help-narrow", "--version"])
def test_the_console_script_answers_as_typer_without_loading_it(args: list[str],
                                                                 columns: str | None) -> None:
    fast = _run(CONSOLE_SCRIPT, args, columns, "-X", "importtime")
    slow = _run(TYPER, args, columns)
    imported, stderr = _imported(fast.stderr)
    loaded = sorted(m for m in imported if m.split(".")[0] in NOT_LOADED)
    assert loaded == [], f"`crew {' '.join(args)}` imported {loaded}"
    assert "crew.cli.app" in imported  # the probe ran crew's entry point
    assert (fast.returncode, fast.stdout, stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode == (2 if not args else 0)
    if args == ["--version"]:
        assert fast.stdout == f"crew {__version__}\n"
    else:  # `crew` alone: the help on stderr
        assert (fast.stdout if args else stderr).startswith("Usage: crew [OPTIONS] COMMAND")


def test_python_dash_m_crew_names_itself_in_the_usage_line() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "crew", "--help"],
                          capture_output=True, text=True, timeout=120)
    imported, _ = _imported(proc.stderr)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: python -m crew [OPTIONS] COMMAND [ARGS]...")
    assert not {"typer", "click", "rich"} & imported


@pytest.mark.parametrize("args", [["--help", "--version"], ["-h", "run"], ["--versio"],
                                  ["run", "-h"], ["--help="], ["-hv"]])
def test_anything_else_goes_to_typer(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _answer_without_typer(args)  # returned: main() hands the command line to typer
    assert capsys.readouterr() == ("", "")


def _to_gone_reader(code: str) -> tuple[int, str]:
    """Exit code and stderr with stdout a pipe whose reader has already gone (`| true`)."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-c", code, "--help"], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    return proc.returncode, proc.stderr


def _stdout_closed(code: str, arg: str) -> tuple[int, str]:
    proc = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-c", code, arg],
                          stderr=subprocess.PIPE, text=True, timeout=120)
    return proc.returncode, proc.stderr


@pytest.mark.slow  # three typer processes
def test_a_gone_reader_or_a_closed_stdout_is_handled_as_click_does() -> None:
    assert _to_gone_reader(CONSOLE_SCRIPT) == _to_gone_reader(TYPER) == (1, "")
    for arg in ("--help", "--version"):
        assert _stdout_closed(CONSOLE_SCRIPT, arg) == _stdout_closed(TYPER, arg) == (0, "")


def _on_terminal(code: str, columns: int) -> bytes:
    """What `code --help` prints on a pseudo-terminal `columns` wide (no COLUMNS set)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-c", code, "--help"], stdout=follower,
                            stderr=follower, env=env)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    proc.wait(timeout=120)
    return out


def test_on_a_terminal_the_width_is_the_terminals_as_with_typer() -> None:
    fast = _on_terminal(CONSOLE_SCRIPT, 60)
    assert fast == _on_terminal(TYPER, 60)
    assert max(len(line) for line in fast.decode().splitlines()) <= 58  # wrapped to fit
