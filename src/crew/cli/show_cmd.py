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

RUNS_DIR = Path(".crew") / "runs"
EVENTS_FILE = "events.jsonl"  # = crew.observability.events.EVENTS_FILE (not imported: cheap)


def runs_with_events(runs: Path) -> list[str]:
    """Ids of the runs under `runs` that have an event log, newest first."""
    if not runs.is_dir():
        return []
    found = [d for d in runs.iterdir() if (d / EVENTS_FILE).is_file()]
    found.sort(key=lambda d: (d / EVENTS_FILE).stat().st_mtime, reverse=True)
    return [d.name for d in found]


def find_run_dir(run_id: str, repo: Path | None = None) -> Path:
    """The directory of run `run_id` (or of the one run whose id starts with it).

    `repo` defaults to the git repository holding the current directory. An unknown id is a
    UserError listing the runs that exist.
    """
    if repo is not None and (repo / RUNS_DIR).is_dir():
        runs = repo / RUNS_DIR
    else:
        from crew.run.gitutil import repo_root

        runs = repo_root(repo if repo is not None else Path.cwd()) / RUNS_DIR
    known = runs_with_events(runs)
    if run_id in known:
        return runs / run_id
    prefixed = [k for k in known if run_id and k.startswith(run_id)]
    if len(prefixed) == 1:
        return runs / prefixed[0]
    if not known:
        raise UserError(f"no run {run_id!r}: {runs} holds no runs", field="RUN_ID",
                        hint="start one with `crew run feature.yaml`, or pass --repo PATH "
                             "for another repository")
    from crew.spec.suggest import did_you_mean

    shown = ", ".join(known[:20]) + (f" … ({len(known)} in all)" if len(known) > 20 else "")
    what = (f"{run_id!r} matches {len(prefixed)} runs" if prefixed
            else f"no run {run_id!r} in {runs}{did_you_mean(run_id, known)}")
    raise UserError(what, field="RUN_ID", hint=f"runs, newest first: {shown}")


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
        "--repo", help="The repository the run worked on (default: the one holding the "
                       "current directory).")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML transcript to this file instead.")] = None,
) -> None:
    """Show a run's conversation: tasks, rounds, who said what, tool calls, cost."""
    show(run_id, repo, html)
