"""The plan's task DAG, run: which tasks may start (`ready`), which a failed dependency blocks
(`blocked`), and `run_tasks`, which runs what the session hands out in one asyncio.TaskGroup
(crew.run.runner.RunSession._schedule decides what, merges and checkpoints)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from crew.errors import CrewRuntimeError
from crew.run.state import FINISHED_TASK, RESTARTABLE_TASK, PlannedTask, RunState, TaskStatus

# what a session hands out: (task id, the coroutine that runs it)
Starts = list[tuple[str, Coroutine[Any, Any, None]]]


def ready(t: PlannedTask, state: RunState, by_id: Mapping[str, PlannedTask]) -> bool:
    """Not finished, and every dependency in the plan done and merged."""
    if state.task(t.id).status in FINISHED_TASK:
        return False
    return all(state.task(d).status == TaskStatus.DONE and state.task(d).merged
               for d in t.depends_on if d in by_id)


def blocked(state: RunState, by_id: Mapping[str, PlannedTask]) -> tuple[str, str] | None:
    """A task that has not started (or is to restart) whose dependency finished without
    `done`, with that dependency; None when there is none."""
    for t in by_id.values():
        if state.task(t.id).status not in RESTARTABLE_TASK:
            continue
        bad = [d for d in t.depends_on if d in by_id
               and state.task(d).status in FINISHED_TASK - {TaskStatus.DONE}]
        if bad:
            return t.id, bad[0]
    return None


def redirect_dependents(plan: Iterable[PlannedTask], old: str, new: str) -> None:
    """Tasks that waited for `old` wait for `new` instead (a merge_fix task stands in)."""
    for t in plan:
        if old in t.depends_on:
            t.depends_on = [new if d == old else d for d in t.depends_on]


async def run_tasks(next_starts: Callable[[set[str]], Awaitable[Starts]]) -> None:
    """Start what `next_starts(running ids)` hands out, in one asyncio.TaskGroup, until it
    hands out nothing and nothing runs; it is asked again whenever a task ends. A task that
    raises cancels the others (they record why and stay resumable) and its own error is
    raised, unwrapped; cancelled from outside (Ctrl-C, SIGTERM): CancelledError, as ever."""
    running: dict[str, asyncio.Task[None]] = {}
    try:
        async with asyncio.TaskGroup() as group:
            while True:
                for task_id, coro in await next_starts(set(running)):
                    running[task_id] = group.create_task(coro, name=task_id)
                if not running:
                    break
                done, _ = await asyncio.wait(running.values(),
                                             return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    running.pop(fut.get_name())
    except BaseExceptionGroup as group_error:
        me = asyncio.current_task()
        if me is not None and me.cancelling():
            raise asyncio.CancelledError() from group_error
        raise first_error(group_error) from None


def first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first error a task group collected (a nested group's first, likewise)."""
    first = group.exceptions[0]
    return first_error(first) if isinstance(first, BaseExceptionGroup) else first


class TaskStopped(CrewRuntimeError):
    """A task stopped by an infrastructure failure or a UserError raised while it ran; the run
    stops with it (status `error`, exit 1) and `crew resume` runs the task again."""

    def __init__(self, task_id: str, cause: Exception) -> None:
        self.task_id, self.cause = task_id, cause
        self.reason = f"{type(cause).__name__}: {cause}"
        super().__init__(f"task {task_id} stopped: {self.reason}")
