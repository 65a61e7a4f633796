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
        from crew.errors import BudgetExceeded

        got = _ray().get(self.actor.reserve.remote(tokens, usd))
        if isinstance(got, str):  # the refusal's message (the actor never raises)
            raise BudgetExceeded(got, scope="suite")
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

    def reserve(self, tokens: int, usd: float) -> int | str:
        from crew.errors import BudgetExceeded

        try:
            return self.budget.reserve(tokens, usd)
        except BudgetExceeded as e:
            return str(e)

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


def run_on_ray(jobs: list[Job], usd: float | None, tokens: int | None,
               spent: tuple[float, int], parallel: int, address: str | None,
               record: Callable[[CaseResult, str], None]) -> str | None:
    """Run the jobs as Ray tasks (at most `parallel` at once); returns why the suite stopped."""
    ray = _ray()
    if not ray.is_initialized():
        env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
        try:
            ray.init(address=address, runtime_env={"env_vars": env},
                     include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UserError(f"cannot reach a Ray cluster at {address or 'a new local one'}: "
                            f"{e}", field="--ray", hint="start one with `ray start --head`, "
                            "or pass `--ray local` to start one in this process") from None
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
