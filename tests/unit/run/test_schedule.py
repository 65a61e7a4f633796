"""`crew.run.schedule.run_tasks`: the plan's tasks in one asyncio.TaskGroup — a task that
raises stops its siblings and its own error (not a group) reaches the run; a stop from outside
(Ctrl-C) stays a cancellation; more tasks start as others end, never more than handed out."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from crew.run.schedule import Starts, run_tasks


class _Plan:
    """Hands out tasks two at a time, a new one whenever one ended."""

    def __init__(self, work: dict[str, Coroutine[Any, Any, None]], parallel: int = 2) -> None:
        self.work, self.parallel = dict(work), parallel
        self.most = 0

    async def next_starts(self, running: set[str]) -> Starts:
        self.most = max(self.most, len(running))
        free = self.parallel - len(running)
        picked = list(self.work)[:max(0, free)]
        return [(k, self.work.pop(k)) for k in picked]


async def test_every_task_runs_at_most_two_at_a_time() -> None:
    done: list[str] = []

    async def job(name: str, s: float) -> None:
        await asyncio.sleep(s)
        done.append(name)

    plan = _Plan({n: job(n, s) for n, s in (("a", 0.03), ("b", 0.01), ("c", 0.0), ("d", 0.0))})
    await run_tasks(plan.next_starts)
    assert sorted(done) == ["a", "b", "c", "d"] and plan.most <= 2


async def test_a_failing_task_stops_its_sibling_and_its_error_reaches_the_caller() -> None:
    sibling: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            sibling.append("cancelled")  # it may record why and stay resumable
            raise

    async def bad() -> None:
        await asyncio.sleep(0.01)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):  # the task's error, not an ExceptionGroup
        await run_tasks(_Plan({"slow": slow(), "bad": bad()}).next_starts)
    assert sibling == ["cancelled"]


async def test_a_stop_from_outside_cancels_every_task_and_stays_a_cancellation() -> None:
    started = asyncio.Event()
    seen: list[str] = []

    async def job(name: str) -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append(name)
            raise ValueError("a sandbox command was killed") from None  # raised while stopping

    runner = asyncio.create_task(run_tasks(_Plan({"a": job("a"), "b": job("b")}).next_starts))
    await started.wait()
    await asyncio.sleep(0)
    runner.cancel()  # as SIGINT does
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert sorted(seen) == ["a", "b"]
