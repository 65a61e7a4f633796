"""`crew show RUN_ID [--repo PATH] [--html FILE]`: a run's conversation from its event log.

Reads ``<repo>/.crew/runs/<run-id>/events.jsonl`` and renders the transcript in the terminal
(tasks, rounds, who said what, tool calls, cost) or writes it as one self-contained HTML page;
prints the Langfuse trace URL when the run was traced there. Register it with
``app.command("show")(show_cmd.show_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crew.errors import UserError

EVENTS_FILE = "events.jsonl"  # = crew.observability.events.EVENTS_FILE (not imported: cheap)


def find_run_dir(run_id: str, repo: Path | None = None) -> Path:
    """The directory of run `run_id` (or of the one run whose id starts with it) that has an
    event log; `repo` defaults to the git repository around the cwd."""
    from crew.run.state import find_run_dir as find

    return find(run_id, repo, marker=EVENTS_FILE)


def show(run_id: str, repo: Path | None, html: Path | None) -> None:
    """Print the transcript of a run, or write it as an HTML page to `html`."""
    from rich.console import Console

    from crew.observability.events import read_events
    from crew.observability.transcript import render_terminal, trace_url, write_html

    run_dir = find_run_dir(run_id, repo)
    events = read_events(run_dir)
    console = Console(highlight=False)
    if html is None:
        render_terminal(events, console)
        return
    try:
        write_html(events, html)
    except OSError as e:
        raise UserError(f"cannot write the transcript: {e.strerror or e}", file=str(html),
                        hint="pick a writable path for --html") from None
    console.print(f"wrote {html}", markup=False)
    url = trace_url(events)
    if url:
        console.print(f"Langfuse: {url}", markup=False)


def show_command(
    run_id: Annotated[str, typer.Argument(help="The run's id (a unique prefix will do).")],
    repo: Annotated[Path | None, typer.Option(
        "--repo", help="The repository the run worked on (default: the repository holding the "
                       "current directory, then crew's index of runs).")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML transcript to this file instead.")] = None,
) -> None:
    """Show a run's conversation: tasks, rounds, who said what, tool calls, cost."""
    show(run_id, repo, html)
