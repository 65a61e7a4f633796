"""What `crew run` shows while it works: three views behind one interface (`RunDisplay`).

- `LiveView` (a terminal): a rich Live task tree — status, pattern and roles per task, the
  agents speaking now and their current tool call — with a footer of cost, tokens and time.
- `PlainView` (stdout is not a terminal): one plain line per task start/end and point event;
  no cursor movement, no colours, no spinners.
- `JsonView` (`--json`): one JSON object per line on stdout for every tracer event plus the
  launcher's notices (`crew.message`); nothing else goes to stdout.

One channel feeds a view during a run: it is a tracer sink (`on_event`/`flush`/`close`) and
sees the same redacted events as the event log — the observations and the run's own events
(the plan, skipped tasks, notes: crew.run.view_events). `message` carries the launcher's
notices around the run (sandbox, branch, cleanup) and `finish` the run's final counts. Views
are thread-safe. What they show is folded in `crew.cli.live_board`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from crew.cli.live_board import ICONS, STYLES, Board, TaskRow, event_line, task_text
from crew.run import view_events
from crew.run.state import PlannedTask
from crew.textsafe import safe_data, safe_text

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.text import Text

__all__ = ["JsonView", "LiveView", "PlainView", "RunDisplay", "make_view"]


@runtime_checkable
class RunDisplay(Protocol):
    """The display of one run: a tracer sink, plus the launcher's notices and last frame."""

    def on_event(self, event: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def finish(self, wall_s: float, statuses: Mapping[str, str],
               spent: Mapping[str, float] | None = None) -> None: ...
    def message(self, text: str) -> None: ...


class LiveView:
    """A rich Live task tree for a terminal, refreshed `refresh_per_second` times a second."""

    def __init__(self, console: Console, *, title: str = "", refresh_per_second: float = 4.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.board = Board(title)
        self.refresh_per_second = refresh_per_second
        self._clock = clock
        self._started: float | None = None
        self._final: float | None = None  # the run's wall time, once it ended
        self._live: Live | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        from rich.live import Live

        with self._lock:
            if self._live is not None:
                return
            if self._started is None:
                self._started = self._clock()
            self._live = Live(console=self.console, get_renderable=self.render,
                              refresh_per_second=self.refresh_per_second)
            self._live.start()

    def stop(self) -> None:
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()  # leaves the final tree on screen

    def pause(self) -> None:
        """Stop drawing (for a question on the terminal); the clock runs on."""
        self.stop()

    def resume(self) -> None:
        self.start()

    def finish(self, wall_s: float, statuses: Mapping[str, str],
               spent: Mapping[str, float] | None = None) -> None:
        """The last frame: the run's own statuses, totals (every session's, from the ledger)
        and wall time, as its report says them."""
        self.board.settle(statuses, spent)
        self._final = wall_s
        self.refresh()

    def refresh(self) -> None:
        live = self._live
        if live is not None:
            live.refresh()

    def render(self) -> RenderableType:
        """The tree and footer as they are now."""
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.text import Text
        from rich.tree import Tree

        with self.board.lock:
            tree = Tree(Text(self.board.title or "crew run", style="bold"))
            for row in self.board.tasks.values():
                label = Text(task_text(row), style=STYLES.get(row.status, ""))
                if row.status == "running":
                    node = tree.add(Spinner("dots", text=label, style="cyan"))
                else:
                    node = tree.add(Text.assemble((ICONS.get(row.status, "?") + " ",
                                                   STYLES.get(row.status, "")), label))
                for sp in row.speakers.values():
                    who = node.add(Text(f"{sp.role} · turn {sp.turn}", style="bold"))
                    if sp.tool:
                        who.add(Text(f"⚙ {sp.tool}", style="dim"))
        elapsed = self._final if self._final is not None else (
            self._clock() - self._started if self._started is not None else None)
        return Group(tree, Text(self.board.footer(elapsed), style="dim"))

    def message(self, text: str) -> None:
        live = self._live
        (live.console if live is not None else self.console).print(
            safe_text(text), markup=False, highlight=False)

    def on_event(self, event: dict[str, Any]) -> None:
        self.board.apply(event)
        if event.get("type") == "run.start":
            self._started = self._clock()  # the run's wall time starts here, as the report's
        elif event.get("type") == "event" and event.get("name") != view_events.PLAN:
            self.message(event_line(event))  # (the tree shows the plan)

    def flush(self) -> None:
        self.refresh()

    def close(self) -> None:
        self.stop()


class PlainView:
    """Line-per-event output for logs and pipes: no Live, no spinners, no colours."""

    def __init__(self, console: Console, *, title: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.board = Board(title)
        self._clock = clock
        self._started: float | None = None
        self._final: float | None = None
        self._printed: dict[str, str] = {}  # task id → last status printed
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        self.console.print(_plain(text), soft_wrap=True)

    def start(self) -> None:
        if self._started is None:
            self._started = self._clock()

    def stop(self) -> None:
        if self._started is not None:
            elapsed = self._final if self._final is not None else self._clock() - self._started
            self._print(self.board.footer(elapsed))
            self._started = None

    def pause(self) -> None:
        self.console.file.flush()

    def resume(self) -> None:
        return None

    def finish(self, wall_s: float, statuses: Mapping[str, str],
               spent: Mapping[str, float] | None = None) -> None:
        self.board.settle(statuses, spent)
        self._final = wall_s

    def _plan(self, tasks: list[PlannedTask]) -> None:
        lines = [f"plan: {len(tasks)} task{'s' if len(tasks) != 1 else ''}"]
        for t in tasks:
            after = f" (after {', '.join(t.depends_on)})" if t.depends_on else ""
            lines.append(f"  {t.id}  {t.title} · {t.pattern} · {', '.join(t.roles)}{after}")
        self._print("\n".join(lines))

    def _report(self, task_id: str, status: str) -> None:
        with self._lock:
            if self._printed.get(task_id) == status:
                return
            self._printed[task_id] = status
        with self.board.lock:
            row = self.board.tasks.get(task_id) or TaskRow(task_id)
            text = task_text(row)
            spent = f" · ${row.cost_usd:.4f} · {row.tokens:,} tokens" if row.tokens else ""
        if status == "running":
            self._print(f"▶ {text}")
        else:
            self._print(f"{ICONS.get(status, '?')} {task_id} {status}{spent}")

    def message(self, text: str) -> None:
        self._print(text)

    def on_event(self, event: dict[str, Any]) -> None:
        self.board.apply(event)
        kind = event.get("type")
        if kind == "run.start":
            self._started = self._clock()
        elif kind in ("task.start", "task.end") and not _is_plan(event):
            payload = event.get("payload") or {}
            task_id = str(payload.get("task_id") or event.get("name", ""))
            if kind == "task.start":
                self._report(task_id, "running")
            else:
                with self.board.lock:
                    row = self.board.tasks.get(task_id)
                if row is not None:  # the planning call has no row
                    self._report(task_id, row.status)
        elif kind == "event" and event.get("name") == view_events.PLAN:
            self._plan(view_events.plan_of(event.get("payload") or {})[0])
        elif kind == "event":
            self._print(event_line(event))

    def flush(self) -> None:
        self.console.file.flush()

    def close(self) -> None:
        self.flush()


RUN_STEPS = ("plan", "knowledge")


def _is_plan(event: Mapping[str, Any]) -> bool:
    """The run's own steps (planning, the knowledge distil call): not tasks of the plan."""
    name = event.get("name")
    return name in RUN_STEPS and (event.get("payload") or {}).get("pattern") == name


def _plain(text: str) -> Text:
    from rich.text import Text

    return Text(safe_text(text))  # never parsed as markup, never highlighted


class JsonView:
    """JSON lines on stdout: every tracer event as is, plus crew.message (notices)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()

    def _write(self, obj: Mapping[str, Any]) -> None:
        line = json.dumps(safe_data(obj), ensure_ascii=False, separators=(",", ":"),
                          default=str)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def start(self) -> None:
        return None

    def stop(self) -> None:
        self.flush()

    def pause(self) -> None:
        self.flush()

    def resume(self) -> None:
        return None

    def finish(self, wall_s: float, statuses: Mapping[str, str],
               spent: Mapping[str, float] | None = None) -> None:
        return None  # the crew.result line carries the outcome

    def message(self, text: str) -> None:
        self._write({"type": "crew.message", "ts": time.time(), "text": text})

    def on_event(self, event: dict[str, Any]) -> None:
        self._write(event)

    def flush(self) -> None:
        with self._lock:
            self.stream.flush()

    def close(self) -> None:
        self.flush()


def make_view(console: Console, json_mode: bool, *, title: str = "",
              stream: TextIO | None = None) -> RunDisplay:
    """The view for this output: JSON lines (`--json`), a live tree on a terminal, plain
    lines otherwise. In JSON mode print human text to stderr, never to stdout."""
    if json_mode:
        return JsonView(stream)
    if console.is_terminal:
        return LiveView(console, title=title)
    return PlainView(console, title=title)
