"""`crew show RUN_ID [--repo PATH] [--html FILE] [--follow [--json]]`: a run's conversation
from its event log.

Reads ``<repo>/.crew/runs/<run-id>/events.jsonl`` and renders the transcript in the terminal
(tasks, rounds, who said what, tool calls, cost) or writes it as one self-contained HTML page;
prints the Langfuse trace URL when the run was traced there. `--follow` prints the events as
they are appended (one JSON object per line with `--json`) until the run ends, then exits with
the run's exit code. Register it with ``app.command("show")(show_cmd.show_command)``.
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


def show_follow(run_id: str, repo: Path | None, json_mode: bool) -> int:
    """Print the run's events as they happen until it ends; returns its exit code."""
    import json
    import sys

    from crew.cli.follow_lines import FollowPrinter
    from crew.observability.redact import default_redactor
    from crew.run.follow import follow
    from crew.run.state import find_run_dir as find

    run_dir = find(run_id, repo)  # state.json: a run that has not written an event yet
    redact = default_redactor()

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def as_json(event: dict[str, object]) -> None:
        write(json.dumps(redact(event), ensure_ascii=False, separators=(",", ":")))

    printer = FollowPrinter(lambda line: write(redact.text(line)))
    try:
        end = follow(run_dir, as_json if json_mode else printer)
    except KeyboardInterrupt:
        return 130
    if json_mode:
        write(json.dumps({"type": "crew.result", "run_id": run_dir.name, "status": end.status,
                          "exit_code": end.exit_code}))
    else:
        write(f"run {run_dir.name} ended: {end.status} (exit {end.exit_code})")
    return end.exit_code


def show_command(
    run_id: Annotated[str, typer.Argument(help="The run's id (a unique prefix will do).")],
    repo: Annotated[Path | None, typer.Option(
        "--repo", help="The repository the run worked on (default: the repository holding the "
                       "current directory, then crew's index of runs).")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML transcript to this file instead.")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Print the run's turns, tool calls, decisions and gate results "
                               "as they happen; exit with the run's exit code when it ends.")]
    = False,
    json_mode: Annotated[bool, typer.Option(
        "--json", help="With --follow: one JSON event per line on stdout.")] = False,
) -> None:
    """Show a run's conversation: tasks, rounds, who said what, tool calls, cost."""
    if follow and html is not None:
        raise UserError("--follow and --html cannot be combined", field="--follow",
                        hint="write the HTML transcript after the run ends")
    if json_mode and not follow:
        raise UserError("--json needs --follow", field="--json",
                        hint="`crew show RUN_ID --follow --json`")
    if follow:
        raise typer.Exit(show_follow(run_id, repo, json_mode))
    show(run_id, repo, html)
