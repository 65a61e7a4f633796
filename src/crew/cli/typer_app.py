"""The typer app behind every `crew` command line except `crew`, `crew -h/--help` and
`crew --version` (answered by crew.cli.app without it). Built from crew.cli.commands, the
table the fast help is rendered from; heavy modules load inside commands, never at import."""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer

from crew import __version__
from crew.cli.commands import COMMANDS, EPILOG, ROOT_HELP, VERSION_HELP

app = typer.Typer(
    name="crew",
    help=ROOT_HELP,
    epilog=EPILOG,
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
                                          help=VERSION_HELP)] = False,
) -> None:
    """crew: plan, build, test and review a feature with a crew of agents."""


def _target(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _register() -> None:
    """Every command of the table, in its order, with its one-line summary."""
    for command in COMMANDS:
        target = _target(command.target)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=command.name, short_help=command.summary)
        else:
            app.command(command.name, short_help=command.summary)(target)


_register()
