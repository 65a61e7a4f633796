"""What `crew run` shows while it works: three views behind one interface (`RunDisplay`).

- `LiveView` (a terminal): a rich Live task tree — status, pattern and roles per task, the
  agents speaking now and their current tool call — with a footer of cost, tokens and time.
- `PlainView` (stdout is not a terminal): one plain line per task start/end and point event;
  no cursor movement, no colours, no spinners.
- `JsonView` (`--json`): one JSON object per line on stdout for every tracer event plus the
  view calls (`crew.plan`, `crew.status`, `crew.message`); nothing else goes to stdout.

Every view is a tracer sink (`on_event`/`flush`/`close`): pass it in `extra_sinks` and it sees
the same redacted events as the event log. Views are thread-safe.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from crew.run.state import PlannedTask

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.text import Text

ICONS = {"pending": "○", "running": "▶", "done": "✔", "failed": "✘", "budget": "$",
         "guard": "⛔", "no_consensus": "≠", "interrupted": "⏸", "skipped": "–",
         "error": "✘"}
STYLES = {"pending": "dim", "running": "cyan", "done": "green", "failed": "red",
          "budget": "yellow", "guard": "red", "no_consensus": "yellow",
          "interrupted": "yellow", "skipped": "dim", "error": "red"}
_SCALARS = (str, int, float, bool)


@runtime_checkable
class RunDisplay(Protocol):
    """The display of one run: a tracer sink plus the runner's own calls."""

    def on_event(self, event: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def finish(self, wall_s: float, statuses: Mapping[str, str],
               spent: Mapping[str, float] | None = None) -> None: ...
    def set_plan(self, tasks: list[PlannedTask]) -> None: ...
    def set_task_status(self, task_id: str, status: str) -> None: ...
    def message(self, text: str) -> None: ...


# ---------------------------------------------------------------------------------- model

@dataclass
class Speaker:
    role: str
    turn: int
    tool: str | None = None
    tool_id: str | None = None


@dataclass
class TaskRow:
    id: str
    title: str = ""
    pattern: str = ""
    roles: list[str] = field(default_factory=list)
    status: str = "pending"
    cost_usd: float = 0.0
    tokens: int = 0
    speakers: dict[str, Speaker] = field(default_factory=dict)  # agent observation id → who


@dataclass(frozen=True)
class _Obs:
    kind: str
    task_id: str | None
    agent_id: str | None


def usage_tokens(usage: Any) -> int:
    """Total tokens of a generation.end `usage` payload (tracer or LiteLLM key names)."""
    if not isinstance(usage, Mapping):
        return 0
    if isinstance(usage.get("total"), int):
        return int(usage["total"])
    parts = ("input", "output") if "input" in usage else ("prompt_tokens", "completion_tokens")
    return sum(int(v) for k in parts if isinstance(v := usage.get(k), int | float))


def tool_label(name: str, tool_input: Any, width: int = 48) -> str:
    """`read_file(src/app.py)`: the tool and its first argument, shortened."""
    arg = ""
    if isinstance(tool_input, Mapping):
        arg = next((str(v) for v in tool_input.values() if isinstance(v, _SCALARS)), "")
    elif isinstance(tool_input, _SCALARS):
        arg = str(tool_input)
    arg = " ".join(arg.split())
    if len(arg) > width:
        arg = arg[: width - 1] + "…"
    return f"{name}({arg})"


def event_line(event: Mapping[str, Any]) -> str:
    """One line for a point event (gate result, budget warning, guard stop, …)."""
    payload = event.get("payload") or {}
    level = payload.get("level", "DEFAULT")
    if "passed" in payload:
        icon = "✔" if payload["passed"] else "✘"
    else:
        icon = {"WARNING": "⚠", "ERROR": "✘"}.get(level, "·")
    details = [f"{k}={v}" for k, v in payload.items()
               if k != "level" and k != "passed" and isinstance(v, _SCALARS)][:6]
    text = " ".join(" ".join(str(d).split()) for d in details)
    if len(text) > 160:
        text = text[:159] + "…"
    return f"{icon} {event.get('name', '')}" + (f": {text}" if text else "")


class Board:
    """The state every view shows, folded from tracer events. Thread-safe."""

    def __init__(self, title: str = "") -> None:
        self.lock = threading.RLock()
        self.title = title
        self.tasks: dict[str, TaskRow] = {}
        self.cost_usd = 0.0
        self.tokens = 0
        self.calls = 0
        self.phase = "loading models…"  # until the run starts; then planning, then ""
        self._obs: dict[str, _Obs] = {}

    def set_plan(self, tasks: list[PlannedTask]) -> None:
        with self.lock:
            self.phase = ""
            rows = {}
            for t in tasks:
                row = self.tasks.get(t.id) or TaskRow(t.id)
                row.title, row.pattern, row.roles = t.title, t.pattern, list(t.roles)
                rows[t.id] = row
            rows.update({k: v for k, v in self.tasks.items() if k not in rows})
            self.tasks = rows

    def set_status(self, task_id: str, status: str) -> None:
        with self.lock:
            row = self.tasks.setdefault(task_id, TaskRow(task_id))
            row.status = status
            if status != "running":
                row.speakers.clear()

    def settle(self, statuses: Mapping[str, str], spent: Mapping[str, float] | None) -> None:
        """Take the checkpoint's statuses and the ledger's totals (`RunState.spent`)."""
        with self.lock:
            for task_id, status in statuses.items():
                self.set_status(task_id, status)
            if spent:
                self.cost_usd = float(spent.get("cost_usd", self.cost_usd))
                self.calls = int(spent.get("calls", self.calls))
                self.tokens = int(spent.get("prompt_tokens", 0)
                                  + spent.get("completion_tokens", 0)) or self.tokens

    def apply(self, event: Mapping[str, Any]) -> None:
        """Fold one tracer event into the board."""
        kind, _, phase = str(event.get("type", "")).partition(".")
        oid = str(event.get("id", ""))
        payload = event.get("payload") or {}
        with self.lock:
            if phase == "start":
                self._start(kind, oid, event.get("parent_id"), str(event.get("name", "")),
                            payload)
            elif phase == "end":
                self._end(kind, oid, payload)

    def _start(self, kind: str, oid: str, parent_id: Any, name: str,
               payload: Mapping[str, Any]) -> None:
        parent = self._obs.get(str(parent_id)) if parent_id else None
        task_id = parent.task_id if parent else None
        agent_id = parent.agent_id if parent else None
        if kind == "run":
            self.title = self.title or name
            if self.phase:  # models are loaded once the run starts
                self.phase = "starting…"
        elif kind == "task" and name == "plan" and payload.get("pattern") == "plan":
            self.phase = "planning…"  # the supervisor's call: not a task of the plan
            task_id = None
        elif kind == "task":
            self.phase = ""
            task_id = str(payload.get("task_id") or name)
            row = self.tasks.setdefault(task_id, TaskRow(task_id))
            row.title = row.title or str(payload.get("title") or "")
            row.pattern = row.pattern or str(payload.get("pattern") or "")
            row.roles = row.roles or [str(r) for r in payload.get("roles") or []]
            row.status = "running"
            row.speakers.clear()
        elif kind == "agent" and task_id in self.tasks:
            agent_id = oid
            turn = payload.get("turn")
            self.tasks[task_id].speakers[oid] = Speaker(
                str(payload.get("role") or name), turn if isinstance(turn, int) else 0)
        elif kind == "tool" and task_id in self.tasks:
            speaker = self.tasks[task_id].speakers.get(agent_id or "")
            if speaker is not None:
                speaker.tool = tool_label(name, payload.get("input"))
                speaker.tool_id = oid
        self._obs[oid] = _Obs(kind, task_id, agent_id)

    def _end(self, kind: str, oid: str, payload: Mapping[str, Any]) -> None:
        # ended observations stay known: a late child (a tool of an agent whose turn
        # ended, a delegated sub-agent) still finds its task; generations are leaves
        obs = self._obs.pop(oid, None) if kind == "generation" else self._obs.get(oid)
        row = self.tasks.get(obs.task_id or "") if obs else None
        if kind == "generation":
            cost = payload.get("cost_usd")
            cost = float(cost) if isinstance(cost, int | float) else 0.0
            tokens = usage_tokens(payload.get("usage"))
            self.calls += 1
            self.cost_usd += cost
            self.tokens += tokens
            if row is not None:
                row.cost_usd += cost
                row.tokens += tokens
        elif row is None:
            return
        elif kind == "agent":
            row.speakers.pop(oid, None)
        elif kind == "tool" and obs is not None:
            speaker = row.speakers.get(obs.agent_id or "")
            if speaker is not None and speaker.tool_id == oid:
                speaker.tool = speaker.tool_id = None
        elif kind == "task" and row.status == "running":
            row.speakers.clear()
            if "error" not in payload:
                row.status = "done"
            else:
                row.status = "interrupted" if payload.get("level") == "WARNING" else "failed"

    def footer(self, elapsed_s: float | None) -> str:
        """`tasks: 3 done, 1 failed of 4 · cost … · 7.9s`: the counts and the time in the
        words and numbers of the run's summary."""
        from crew.run.report import format_duration, tasks_text

        with self.lock:
            counts = tasks_text(r.status for r in self.tasks.values())
            parts = [self.phase] if self.phase else []
            parts += [f"tasks: {counts} of {len(self.tasks)}", f"cost ${self.cost_usd:.4f}",
                     f"{self.tokens:,} tokens",
                     f"{self.calls:,} LLM call{'' if self.calls == 1 else 's'}"]
        if elapsed_s is not None:
            parts.append(format_duration(elapsed_s))
        return " · ".join(parts)


def task_text(row: TaskRow) -> str:
    """`t1 Implement export · review_loop · coder, reviewer`."""
    bits = [f"{row.id} {row.title}".strip()]
    if row.pattern:
        bits.append(row.pattern)
    if row.roles:
        bits.append(", ".join(row.roles))
    if row.cost_usd:
        bits.append(f"${row.cost_usd:.4f}")
    return " · ".join(bits)


# ---------------------------------------------------------------------------------- views

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

    def set_plan(self, tasks: list[PlannedTask]) -> None:
        self.board.set_plan(tasks)

    def set_task_status(self, task_id: str, status: str) -> None:
        self.board.set_status(task_id, status)

    def message(self, text: str) -> None:
        live = self._live
        (live.console if live is not None else self.console).print(text, markup=False,
                                                                   highlight=False)

    def on_event(self, event: dict[str, Any]) -> None:
        self.board.apply(event)
        if event.get("type") == "run.start":
            self._started = self._clock()  # the run's wall time starts here, as the report's
        elif event.get("type") == "event":
            self.message(event_line(event))

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

    def set_plan(self, tasks: list[PlannedTask]) -> None:
        self.board.set_plan(tasks)
        lines = [f"plan: {len(tasks)} task{'s' if len(tasks) != 1 else ''}"]
        for t in tasks:
            after = f" (after {', '.join(t.depends_on)})" if t.depends_on else ""
            lines.append(f"  {t.id}  {t.title} · {t.pattern} · {', '.join(t.roles)}{after}")
        self._print("\n".join(lines))

    def set_task_status(self, task_id: str, status: str) -> None:
        self.board.set_status(task_id, status)
        self._report(task_id, status)

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
        elif kind == "event":
            self._print(event_line(event))

    def flush(self) -> None:
        self.console.file.flush()

    def close(self) -> None:
        self.flush()


def _is_plan(event: Mapping[str, Any]) -> bool:
    return event.get("name") == "plan" and (event.get("payload") or {}).get("pattern") == "plan"


def _plain(text: str) -> Text:
    from rich.text import Text

    return Text(text)  # never parsed as markup, never highlighted


class JsonView:
    """JSON lines on stdout: every tracer event as is, plus crew.plan/status/message."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()

    def _write(self, obj: Mapping[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
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

    def set_plan(self, tasks: list[PlannedTask]) -> None:
        self._write({"type": "crew.plan", "ts": time.time(),
                     "tasks": [t.model_dump(mode="json") for t in tasks]})

    def set_task_status(self, task_id: str, status: str) -> None:
        self._write({"type": "crew.status", "ts": time.time(), "task_id": task_id,
                     "status": status})

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
