"""`crew ui [--port P] [--repo PATH] [--host H]`: the local read-only web view of runs (needs
the `crew[ui]` extra). Register it with ``app.command("ui")(ui_cmd.ui_command)``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_PORT = 8765


def ui_command(
    port: Annotated[int, typer.Option(
        "--port", help=f"The port to listen on (default {DEFAULT_PORT}; 0: any free port).")]
    = DEFAULT_PORT,
    repo: Annotated[Path | None, typer.Option(
        "--repo", help="Show the runs of this repository only (default: every run in crew's "
                       "index of runs).")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", help="Listen on this address instead of 127.0.0.1. Any address that is not "
                       "loopback gets a token, printed once, that the page asks for.")] = None,
) -> None:
    """A local read-only web view of runs, updated live while a run works."""
    from crew.ui.server import require_extra, serve

    require_extra()

    root = None
    if repo is not None:
        from crew.workspace.git import repo_root

        root = repo_root(repo)
    with contextlib.suppress(KeyboardInterrupt):
        serve(root, host, port, say=lambda line: typer.echo(line))
