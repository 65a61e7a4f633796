"""`crew eval --ray`: each case a Ray task, the suite budget one Ray actor. The only importer
of ray (lazily; `pip install 'crew[ray]'`).

Where things live: the eval directory (case repos, run directories, specs) is made by the
driver under the suite's folder and workers run in place, so every node must see that path
(one machine, or the suite on a shared filesystem mounted at the same path). A worker returns
its case result to the driver, which alone writes eval.json."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from crew.errors import UserError
from crew.eval.execute import CaseResult, Job, run_job

# What a worker needs from the driver's environment (model keys come from the workers' own).
FORWARD_ENV = ("LITELLM_LOCAL_MODEL_COST_MAP", "CREW_ALLOW_MODEL_REQUESTS",
               "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_BASE_URL",
               "LANGFUSE_HOST", "LANGFUSE_TRACING_ENABLED", "CREW_SANDBOX_IMAGE", "DOCKER_HOST")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray", field="--ray",
                        hint="pip install 'crew[ray]'") from None
    return ray


class RayPool:
    """A worker's view of the suite budget: the BudgetPool protocol over the actor."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def reserve(self, tokens: int, usd: float) -> int:
        from crew.errors import BudgetExceeded, BudgetKind

        got = _ray().get(self.actor.reserve.remote(tokens, usd))
        if isinstance(got, tuple):  # the refusal's message and kind (the actor never raises)
            message, kind = got
            raise BudgetExceeded(message, scope="suite", kind=BudgetKind(kind))
        return int(got)

    def spend(self, tokens: int, usd: float) -> None:
        _ray().get(self.actor.spend.remote(tokens, usd))

    def release(self, ticket: int) -> None:
        self.actor.release.remote(ticket)

    def stopped(self) -> bool:
        return _ray().get(self.actor.stopped_reason.remote()) is not None


class _BudgetActor:
    """The suite budget as a Ray actor (a SharedBudget; BudgetExceeded travels back)."""

    def __init__(self, usd: float | None, tokens: int | None, spent_usd: float,
                 spent_tokens: int) -> None:
        from crew.llm.budget import SharedBudget

        self.budget = SharedBudget(usd, tokens, spent_usd=spent_usd, spent_tokens=spent_tokens)

    def reserve(self, tokens: int, usd: float) -> int | tuple[str, str]:
        from crew.errors import BudgetExceeded

        try:
            return self.budget.reserve(tokens, usd)
        except BudgetExceeded as e:
            return str(e), e.kind.value

    def spend(self, tokens: int, usd: float) -> None:
        self.budget.spend(tokens, usd)

    def release(self, ticket: int) -> None:
        self.budget.release(ticket)

    def stop(self, reason: str) -> None:
        self.budget.stop(reason)

    def stopped_reason(self) -> str | None:
        return self.budget.stopped


def _case_task(job: Job, actor: Any) -> dict[str, Any] | None:
    pool = RayPool(actor)
    res = run_job(job, pool, pool.stopped)
    return res.to_dict() if res is not None else None


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Join the cluster at `address` ("auto": the one `ray start --head` made on this machine;
    ray://HOST:PORT a remote one) or start a local one (None); UserError when it fails, before
    the eval directory exists. A driver already connected (ray.init in the caller) is used."""
    ray = _ray()
    if ray.is_initialized():
        return
    env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
    if address is None:  # a busy machine starts a raylet slowly (Ray's default wait: 10 s)
        os.environ.setdefault("RAY_raylet_start_wait_time_s", "60")
    try:
        ray.init(address=address, runtime_env={"env_vars": env}, num_cpus=num_cpus,
                 include_dashboard=False, log_to_driver=False)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError or a bare Exception
        ray.shutdown()  # a failed start leaves Ray's helper processes behind otherwise
        what = f"reach the Ray cluster at {address}" if address else "start a local Ray cluster"
        raise UserError(f"cannot {what}: {str(e).splitlines()[0][:300]}", field="--ray",
                        hint="start one with `ray start --head` and pass --ray, or pass "
                             "`--ray local` to start one in this process") from None


def run_on_ray(jobs: list[Job], usd: float | None, tokens: int | None,
               spent: tuple[float, int], parallel: int, address: str | None,
               record: Callable[[CaseResult, str], None]) -> str | None:
    """Run the jobs as Ray tasks (at most `parallel` at once); returns why the suite stopped."""
    ray = _ray()
    actor = ray.remote(num_cpus=0)(_BudgetActor).remote(usd, tokens, *spent)
    task = ray.remote(num_cpus=1, max_retries=0)(_case_task)
    waiting = list(jobs)
    running: dict[Any, Job] = {}
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                job = waiting.pop(0)
                running[task.remote(job, actor)] = job
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                data = ray.get(ref)
                if data is not None:
                    record(CaseResult(**data), job.key)
    except KeyboardInterrupt:
        ray.get(actor.stop.remote("interrupted"))
        for ref, job in running.items():
            data = ray.get(ref)
            if data is not None:
                record(CaseResult(**data), job.key)
    reason: str | None = ray.get(actor.stopped_reason.remote())
    ray.kill(actor)
    return reason
