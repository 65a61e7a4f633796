"""The run's own point events, beside its observations: what the live view draws the plan and
the tasks that never start from. The run reaches its view through one channel — the tracer —
so these go to every sink (events.jsonl, Langfuse) like any event; `message` is the line a view
prints for an event (crew.cli.live_board.event_line)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crew.run.state import PlannedTask

PLAN = "plan"  # the tasks, their order and each one's status (a resumed run's done ones)
TASK_SKIPPED = "task_skipped"  # a task whose dependency did not finish never starts
_SHOWN = {"id", "title", "pattern", "roles", "depends_on"}  # (plan.json holds the rest)


def plan_payload(tasks: Iterable[PlannedTask], statuses: Mapping[str, str]) -> dict[str, Any]:
    """The `plan` event's payload."""
    listed = [t.model_dump(mode="json", include=_SHOWN) for t in tasks]
    return {"tasks": listed, "statuses": dict(statuses),
            "message": f"plan: {len(listed)} task{'s' if len(listed) != 1 else ''}"}


def plan_of(payload: Mapping[str, Any]) -> tuple[list[PlannedTask], dict[str, str]]:
    """The tasks and statuses a `plan` event carries (as redacted for the sinks)."""
    tasks = [PlannedTask.model_validate(t) for t in payload.get("tasks") or []
             if isinstance(t, Mapping)]
    statuses = payload.get("statuses") or {}
    return tasks, {str(k): str(v) for k, v in statuses.items()} if isinstance(
        statuses, Mapping) else {}
