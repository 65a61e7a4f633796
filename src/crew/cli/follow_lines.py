"""The lines `crew show RUN_ID --follow` prints for a run's events as they are appended: task
starts and ends, rounds, each agent's turn, what it said and the tools it called, tool errors,
and point events (gate results, degraded decisions, budget warnings, guard stops)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from crew.cli.live_board import ICONS, event_line, tool_label

PREVIEW = 240


def _one_line(value: Any, limit: int = PREVIEW) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                            default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FollowPrinter:
    """Turns events into lines for `write`; remembers which task and role each observation
    belongs to, so every line names them."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self._where: dict[str, tuple[str, str]] = {}  # observation id → (task, role)

    def __call__(self, event: Mapping[str, Any]) -> None:
        kind, _, phase = str(event.get("type", "")).partition(".")
        oid, name = str(event.get("id", "")), str(event.get("name", ""))
        payload = event.get("payload") or {}
        task, role = self._where.get(str(event.get("parent_id") or ""), ("", ""))
        if kind == "task" and phase == "start":
            task = str(payload.get("task_id") or name)
        elif kind == "agent" and phase == "start":
            role = str(payload.get("role") or name)
        if phase == "start":
            self._where[oid] = (task, role)
        else:
            task, role = self._where.get(oid, (task, role))
        line = self._line(kind, phase, name, payload, task, role)
        if line:
            self.write(line)

    def _line(self, kind: str, phase: str, name: str, payload: Mapping[str, Any], task: str,
              role: str) -> str | None:
        who = f"{task} · {role}" if task and role else task or role
        error = payload.get("error") if phase == "end" else None
        if kind == "run":
            return f"run {payload.get('run_id', '')}: {name}" if phase == "start" else None
        if kind == "task" and phase == "start":
            roles = ", ".join(str(r) for r in payload.get("roles") or [])
            bits = [b for b in (str(payload.get("title") or ""), str(payload.get("pattern") or ""),
                                roles) if b]
            return f"▶ {task} " + " · ".join(bits)
        if kind == "task":
            status = "failed" if error else "done"
            return f"{ICONS[status]} {task} {status}" + (f": {_one_line(error)}" if error else "")
        if kind == "round" and phase == "start":
            return f"  {task} · {name}"
        if kind == "agent" and phase == "start":
            return f"  {who} (turn {payload.get('turn', 0)})"
        if kind == "generation" and phase == "end":
            return self._said(who, payload)
        if kind == "tool" and phase == "start":
            return f"    ⚙ {tool_label(name, payload.get('input'))}"
        if kind == "tool" and error:
            return f"    ✘ {name}: {_one_line(error)}"
        if kind == "event":
            return f"  {event_line({'name': name, 'payload': payload})}"
        return None

    @staticmethod
    def _said(who: str, payload: Mapping[str, Any]) -> str | None:
        out = payload.get("output")
        lines = []
        if isinstance(out, Mapping):
            if out.get("content"):
                lines.append(f"    {who}: {_one_line(out['content'])}")
            for call in out.get("tool_calls") or []:
                fn = call.get("function", {}) if isinstance(call, Mapping) else {}
                lines.append(f"    → {fn.get('name', '?')}({_one_line(fn.get('arguments', ''), 120)})")
        elif out:
            lines.append(f"    {who}: {_one_line(out)}")
        if payload.get("error"):
            lines.append(f"    ✘ {_one_line(payload['error'])}")
        return "\n".join(lines) or None
