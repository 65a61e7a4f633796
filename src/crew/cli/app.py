"""The `crew` entry point. `crew`, `crew -h/--help` and `crew --version` are answered here
from the command table (crew.cli.commands) without importing typer, click or rich; every other
command line goes to the typer app (crew.cli.typer_app), loaded then. Heavy modules load
inside commands, never at import."""

from __future__ import annotations

import errno
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~10 ms here)
if TYPE_CHECKING:
    from typing import Any


def __getattr__(name: str) -> Any:
    """`crew.cli.app.app`: the typer app (loaded on first use; it lives in crew.cli.typer_app)."""
    if name == "app":
        from crew.cli.typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _answer_without_typer(args: list[str]) -> None:
    """`crew` (help on stderr, exit 2), `crew -h`/`--help` and `crew --version` exactly as the
    typer app answers them (tests/unit/cli/test_fast_help.py), in a fraction of its start-up."""
    if args == ["--version"]:
        from crew import __version__

        _echo(sys.stdout, f"crew {__version__}\n")
        sys.exit(0)
    if args in ([], ["-h"], ["--help"]):
        from crew.cli.commands import help_width, program_name, render_help

        _echo(sys.stdout if args else sys.stderr, render_help(program_name(), help_width()))
        sys.exit(2 if not args else 0)


def _echo(stream: Any, text: str) -> None:
    """click.echo's manners: nothing when the stream is closed (`crew -h >&-`), exit 1
    without a traceback when the reader went away (`crew -h | true`)."""
    if stream is None:
        return
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # quiet final flush
        sys.exit(1)


def _redact_output() -> None:
    """Every byte crew prints goes through the redactor (the files it writes already do)."""
    from crew.observability.redact import RedactingStream

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


def main() -> None:
    """The CLI in-process (tests call this): UserError → short message, exit 2; Ctrl-C →
    exit 4; always ends in SystemExit."""
    _answer_without_typer(sys.argv[1:])
    _redact_output()
    from crew.llm._litellm import defer_to_prewarm

    defer_to_prewarm()  # commands load litellm when they need it (`crew run`: in the background)
    from crew.cli.typer_app import app
    from crew.errors import UserError

    try:
        app()
    except UserError as e:
        for p in e.problems:
            sys.stderr.write(f"error: {p.render()}\n")
        sys.exit(e.exit_code)
    except (RuntimeError, OSError) as e:  # a symlink loop pathlib met outside the spec checks
        if not (str(e).startswith("Symlink loop") or getattr(e, "errno", None) == errno.ELOOP):
            raise
        sys.stderr.write(f"error: {getattr(e, 'filename', None) or e}: symlink loop "
                         "(a link on the path points back to itself)\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(4)
    except Exception as e:  # a bug in crew outside a run (a run saves its own in crash.txt)
        sys.stderr.write(f"error: {_crash_note(e)}\n")
        sys.exit(1)


def _crash_note(e: Exception) -> str:
    """Save `e`'s traceback to a file; one line saying crew crashed and where it is."""
    import os
    import tempfile
    import traceback

    from crew.textsafe import safe_text

    text = safe_text("".join(traceback.format_exception(e)))
    try:
        fd, where = tempfile.mkstemp(prefix="crew-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        where = "(not saved: the temporary directory is not writable)"
    return (f"crew crashed (a bug in crew): {safe_text(f'{type(e).__name__}: {e}')[:500]}; "
            f"traceback in {where} - please report it with that file")


def entry() -> None:
    """The `crew` console script and `python -m crew`: `main()`, then, once a command has
    loaded litellm, exit without interpreter teardown (~1 s of freeing litellm's modules).
    Every command has finished by then: the run's journals, state writer and trace sinks are
    closed and the live view stopped; atexit handlers still run, stdout/stderr are flushed."""
    try:
        main()
        code: int | str | None = 0
    except SystemExit as e:
        code = e.code
    warming = getattr(sys.modules.get("crew.llm._litellm"), "_prewarm", None)
    if "litellm" not in sys.modules and not warming:
        sys.exit(code)
    import atexit
    import contextlib
    import os

    if isinstance(code, str):  # what sys.exit would print
        sys.stderr.write(code + "\n")
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to deliver
            stream.flush()
    os._exit(code or 0)
