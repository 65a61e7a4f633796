"""The state every run view shows, folded from tracer events (`Board`: task rows, the agents
speaking now, their tool calls, the totals), and the one-line texts the views print it in."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crew.run import view_events
from crew.run.state import PlannedTask

ICONS = {"pending": "○", "running": "▶", "done": "✔", "failed": "✘", "budget": "$",
         "guard": "⛔", "no_consensus": "≠", "interrupted": "⏸", "skipped": "–",
         "error": "✘"}
STYLES = {"pending": "dim", "running": "cyan", "done": "green", "failed": "red",
          "budget": "yellow", "guard": "red", "no_consensus": "yellow",
          "interrupted": "yellow", "skipped": "dim", "error": "red"}
_SCALARS = (str, int, float, bool)


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
    """One line for a point event (gate result, budget warning, guard stop, …): its
    `message` when it carries one (the run's own events, crew.run.view_events)."""
    payload = event.get("payload") or {}
    name = event.get("name")
    if name == "gate" and "passed" in payload:
        return gate_line(payload)
    level = payload.get("level", "DEFAULT")
    if "passed" in payload:
        icon = "✔" if payload["passed"] else "✘"
    else:
        icon = {"WARNING": "⚠", "ERROR": "✘"}.get(level, "·")
    if isinstance(payload.get("message"), str):
        return f"{icon} {' '.join(payload['message'].split())}"
    if name == "decision_degraded":
        return f"{icon} {payload.get('task', '')}: degraded decision: {_degraded(payload)}"
    details = [f"{k}={v}" for k, v in payload.items()
               if k != "level" and k != "passed" and isinstance(v, _SCALARS)][:6]
    text = " ".join(" ".join(str(d).split()) for d in details)
    if len(text) > 160:
        text = text[:159] + "…"
    return f"{icon} {event.get('name', '')}" + (f": {text}" if text else "")


def _degraded(payload: Mapping[str, Any]) -> str:
    """`vote by reviewer (round 2): unparsable` (as `Degraded.describe` says it)."""
    who = f" by {payload['role']}" if payload.get("role") else ""
    rnd = f" (round {payload['round']})" if payload.get("round") else ""
    return f"{payload.get('decision', '')}{who}{rnd}: {payload.get('reason', '')}"


def gate_line(payload: Mapping[str, Any]) -> str:
    """An acceptance gate's result: its command and exit code; a failure adds the last line
    of its output (the whole output is in the report)."""
    command = " ".join(str(payload.get("command") or payload.get("gate") or "").split())
    attempt = payload.get("attempt")
    again = f", attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
    if payload.get("passed"):
        return f"✔ gate `{command}` passed{again}"
    lines = [x.strip() for x in str(payload.get("output") or "").splitlines() if x.strip()]
    last = f": {telling_line(lines)[:120]}" if lines else ""
    return f"✘ gate `{command}` failed (exit {payload.get('exit_code')}{again}){last}"


_SUMMARY = re.compile(r"\b\d+ (?:failed|failing|errors?)\b", re.I)  # pytest, mocha, jest...
_ERROR = re.compile(r"^(?:[\w.]+)?(?:Error|Exception)\b")  # `ValueError: …`, `Error [ERR_…]: …`


def telling_line(lines: list[str]) -> str:
    """The line of a failed command's output that says most: the last test-summary line,
    else the last error line, else the last line (Node ends a crash with `Node.js v18…`)."""
    for pattern in (_SUMMARY, _ERROR):
        found = [x for x in lines if pattern.search(x)]
        if found:
            return found[-1]
    return lines[-1]


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
            if kind == "event":
                self._point(str(event.get("name", "")), payload)
            elif phase == "start":
                self._start(kind, oid, event.get("parent_id"), str(event.get("name", "")),
                            payload)
            elif phase == "end":
                self._end(kind, oid, payload)

    def _point(self, name: str, payload: Mapping[str, Any]) -> None:
        if name == view_events.PLAN:
            tasks, statuses = view_events.plan_of(payload)
            self.set_plan(tasks)
            for task_id, status in statuses.items():
                if task_id in self.tasks:
                    self.set_status(task_id, status)
        elif name == view_events.TASK_SKIPPED:
            self.set_status(str(payload.get("task_id", "")), "skipped")

    def _start(self, kind: str, oid: str, parent_id: Any, name: str,
               payload: Mapping[str, Any]) -> None:
        parent = self._obs.get(str(parent_id)) if parent_id else None
        task_id = parent.task_id if parent else None
        agent_id = parent.agent_id if parent else None
        if kind == "run":
            self.title = self.title or name
            if self.phase:  # models are loaded once the run starts
                self.phase = "starting…"
        elif kind == "task" and name in ("plan", "knowledge") and payload.get("pattern") == name:
            # the run's own steps (the supervisor's calls): not tasks of the plan
            if name == "plan":  # (the knowledge step at the end leaves the footer alone)
                self.phase = "planning…"
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
            row.status = task_status(payload)

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


def task_status(payload: Mapping[str, Any]) -> str:
    """A task's status from its `task.end`: the outcome the run ended it with, `interrupted`
    when it was stopped from outside (Ctrl-C, a sibling's failure), `error` when it raised."""
    output = payload.get("output")
    outcome = output.get("outcome") if isinstance(output, Mapping) else None
    if payload.get("level") == "WARNING" and ("error" in payload or outcome == "stopped"):
        return "interrupted"
    if "error" in payload:
        return "error"
    return str(outcome) if outcome in ICONS else "done"


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
