"""The `crew` command line. Heavy modules load inside commands, never at import."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from crew import __version__
from crew.errors import UserError

app = typer.Typer(
    name="crew",
    help="A crew of LLM agents that builds a whole software feature.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crew {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """crew: plan, build, test and review a feature with a crew of agents."""


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Files of any kind (feature, role, "
                                                     "pattern, task, crew, models).")],
    kind: Annotated[str | None, typer.Option(help="Force the kind instead of detecting it.")]
    = None,
    mcp: Annotated[bool, typer.Option(
        "--mcp", help="Also start a feature's MCP servers and load its hooks: check the roles' "
        "mcp: tools against the servers' listings and the hooks' settings.")] = False,
    spec_only: Annotated[bool, typer.Option(
        "--spec-only", help="Check the files only, not what a feature needs on this machine "
        "(its repository, os.environ/ variables, sandbox, installed engines).")] = False,
) -> None:
    """Validate spec files; a feature is checked with everything it references, pattern
    params and engines included, and (unless --spec-only) with everything `crew run` checks
    before it starts: repository, router config and its variables, sandbox."""
    from crew.errors import Problem
    from crew.patterns.checks import pattern_kinds
    from crew.spec.validate import validate_path

    problems: list[Problem] = []
    kinds = pattern_kinds(require_installed=not spec_only)
    for p in paths:
        try:
            done = validate_path(p, kind, kinds=kinds)
            if done.resolved is not None and not spec_only:
                _preflight(done.resolved)
            if mcp and done.kind == "feature":
                _check_live_tools(p)
        except UserError as e:
            problems.extend(e.problems)
            continue
        for w in done.warnings:
            sys.stderr.write(f"warning: {w.render()}\n")
        typer.echo(f"ok  {p} ({done.kind})")
        for note in done.notes:
            typer.echo(f"    {note}")
    if problems:
        raise UserError("invalid", problems=problems)


def _preflight(resolved: Any) -> None:
    """The checks `crew run` makes before it creates anything (crew.run.preflight)."""
    from crew.run.launch import RunOptions
    from crew.run.preflight import preflight

    preflight(resolved, RunOptions(trace=False))


def _check_live_tools(feature: Path) -> None:
    from crew.run.tooling import run_tools
    from crew.spec.resolve import resolve_feature

    with run_tools(resolve_feature(feature)) as tools:
        if tools.hub is not None:
            typer.echo(f"    MCP tools: {', '.join(t.ref for t in tools.hub.tools) or 'none'}")


def _list_or_show(kind: str, name: str | None, directory: Path) -> None:
    from crew.cli.listing import list_entries, show_entry

    if name is None:
        list_entries(kind, directory)
    else:
        show_entry(kind, name, directory)


_DIR_OPT = typer.Option("--dir", help="Look for local library folders here first.")


def _library_command(kind: str, what: str) -> None:
    def command(name: str | None = typer.Argument(
                    None, help=f"One of the {what} to show as YAML (default: list them all)."),
                directory: Annotated[Path, _DIR_OPT] = Path(".")) -> None:
        _list_or_show(kind, name, directory)

    command.__doc__ = f"List {what}, or show one."
    app.command(name=f"{kind}s")(command)


for _kind, _what in (("role", "roles"), ("pattern", "pattern templates"),
                     ("task", "task templates"), ("crew", "crews")):
    _library_command(_kind, _what)


@app.command()
def schema(
    kind: Annotated[str, typer.Argument(help="feature, role, pattern, task, crew, models or suite")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")]
    = None,
) -> None:
    """Print the JSON Schema of a file kind (for editor completion and checks)."""
    from crew.spec.schema import schema_json

    text = schema_json(kind)
    if output is None:
        typer.echo(text)
    else:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write: {e.strerror or e}", file=str(output)) from None
        typer.echo(f"wrote {output}")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold a feature.yaml and a models.yaml that validate."""
    from crew.cli.scaffold import scaffold

    for path in scaffold(directory, force=force):
        typer.echo(f"wrote {path}")
    typer.echo("next: edit feature.yaml, then `crew validate feature.yaml`")


def _register_commands() -> None:
    from crew.cli import run_cmd, show_cmd
    from crew.cli.clean_cmd import clean_command
    from crew.cli.demo import demo_command
    from crew.cli.eval_cmd import eval_command
    from crew.cli.import_cmd import import_app

    run_cmd.register(app)
    app.command("clean")(clean_command)
    app.command("demo")(demo_command)
    app.command("show")(show_cmd.show_command)
    app.command("eval")(eval_command)
    app.add_typer(import_app, name="import")


_register_commands()


def main() -> None:
    """The CLI in-process (tests call this): UserError → short message, exit 2; Ctrl-C →
    exit 4; always ends in SystemExit."""
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
