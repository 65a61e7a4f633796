"""Pattern concurrency against the stub model at 300 ms latency, through the real Router.

Reports wall time ÷ critical path (goal <= 1.2 each):
  committee of 5 (majority over structured ballots: one concurrent round)  ÷ 1 × latency
  debate of 3 debaters × 2 rounds, then a judge                            ÷ 3 × latency
One process, best of REPEATS. Run: .venv/bin/python benchmarks/patterns.py [latency_s]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from crew.llm import LLM
from crew.patterns.base import Outcome, PatternContext, TaskInfo
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.setup import pattern_context
from crew.spec.models import ModelsConfig, RoleSpec
from crew.testing import StubReply, StubServer

REPEATS = 3
NAMES = ("m1", "m2", "m3", "m4", "m5", "judge")
ROLES = {n: RoleSpec(name=n, title=n, goal="Decide well.", instructions="Be brief.", model=n)
         for n in NAMES}


def llm_for(stub: StubServer) -> LLM:
    deps = [{"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": stub.url,
                                                 "api_key": "sk-stub", "input_cost_per_token": 1e-6,
                                                 "output_cost_per_token": 2e-6}}
            for n in NAMES]
    return LLM(ModelsConfig.model_validate({"model_list": deps,
                                            "router_settings": {"num_retries": 0}}))


def ctx(llm: LLM, roles: list[str], params: dict[str, object]) -> PatternContext:
    task = TaskInfo(id="bench", title="Pick a database", description="For a todo app.",
                    roles=tuple(roles), params=params)
    return pattern_context(task, ROLES, llm, run_id="bench")


async def timed(coro_factory: object, n: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        res = await coro_factory()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
        assert res.outcome is Outcome.DONE, res
    return best


async def main(latency: float) -> None:
    with StubServer(latency_s=latency) as stub:
        for n in NAMES[:5]:
            stub.always(StubReply.text(json.dumps({"answer": "postgres", "rationale": "ok"})),
                        model=n)
        llm = llm_for(stub)
        members = list(NAMES[:5])
        await Committee().run(ctx(llm, members, {}))  # warm-up (first HTTP call is slow)
        committee = await timed(lambda: Committee().run(ctx(llm, members, {})))
        for i, n in enumerate(NAMES[:3]):
            stub.always(StubReply.text(f"My view {i}.\nPOSITION: option {i}"), model=n)
        stub.always(StubReply.text(json.dumps({"decision": "option 0", "rationale": "best"})),
                    model="judge")
        params = {"rounds": 2, "judge": "judge"}
        debate = await timed(lambda: Debate().run(ctx(llm, list(NAMES[:3]), params)))
    print(f"latency per call: {latency * 1000:.0f} ms (best of {REPEATS})")
    print(f"committee of 5 (majority): {committee:.3f} s = {committee / latency:.2f} × "
          f"critical path (1 call)  goal <= 1.2")
    print(f"debate 3 × 2 rounds + judge: {debate:.3f} s = {debate / (3 * latency):.2f} × "
          f"critical path (3 calls)  goal <= 1.2")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.3))
