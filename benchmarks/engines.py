"""The same tasks on crew's engines against the stub model at fixed latency, through the Router.

  debate: 2 debaters × 3 rounds (no agreement) + judge   native vs autogen
  review loop: author + reviewer, approved in round 1     native vs crewai
For each engine: wall time (best of REPEATS), LLM calls and prompt tokens (~4 chars per token
of the messages and tools each request sent, the same estimate for every engine), printed as
ratios to native. An engine whose package is missing is reported and skipped.
Run: .venv/bin/python benchmarks/engines.py [latency_s]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")

from crew.errors import CrewError
from crew.llm import LLM
from crew.patterns import default_registry
from crew.patterns.base import PatternContext, PatternResult, TaskInfo
from crew.patterns.setup import pattern_context
from crew.spec.models import ModelsConfig, PatternSpec, RoleSpec
from crew.testing import StubReply, StubServer

REPEATS = 3
NAMES = ("d1", "d2", "judge", "author", "reviewer")
ROLES = {n: RoleSpec(name=n, title=n, goal="Decide well.", instructions="Be brief.", model=n)
         for n in NAMES}
Run = Callable[[], Awaitable[PatternResult]]


def llm_for(stub: StubServer) -> LLM:
    deps = [{"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": stub.url,
                                                 "api_key": "sk-stub", "input_cost_per_token": 1e-6,
                                                 "output_cost_per_token": 2e-6}} for n in NAMES]
    return LLM(ModelsConfig.model_validate({"model_list": deps,
                                            "router_settings": {"num_retries": 0}}))


def ctx(llm: LLM, roles: list[str], params: dict[str, object]) -> PatternContext:
    task = TaskInfo(id="bench", title="Pick a database", description="For a todo app.",
                    roles=tuple(roles), params=params)
    return pattern_context(task, ROLES, llm, run_id="bench")


def tpl(kind: str, engine: str, termination: str) -> PatternSpec:
    return PatternSpec(name=kind, kind=kind, description=kind, engine=engine,  # type: ignore[arg-type]
                       termination=termination)


async def measure(stub: StubServer, run: Run) -> tuple[float, int, int]:
    """(best wall s, calls, prompt tokens) of one run of `run` (calls/tokens of the last)."""
    await run()  # warm-up: the first HTTP call and the engine's imports are slow
    best, calls, tokens = float("inf"), 0, 0
    for _ in range(REPEATS):
        start = len(stub.requests)
        t0 = time.perf_counter()
        res = await run()
        best = min(best, time.perf_counter() - t0)
        if not res.ok:
            raise RuntimeError(f"{res.outcome}: {res.summary}")
        sent = stub.requests[start:]
        calls = len(sent)
        tokens = sum((len(json.dumps(r.body.get("messages", []))) +
                      len(json.dumps(r.body.get("tools", []))) + 3) // 4 for r in sent)
    return best, calls, tokens


async def compare(name: str, stub: StubServer, runs: dict[str, Run]) -> None:
    rows: dict[str, tuple[float, int, int]] = {}
    for engine, run in runs.items():
        try:
            rows[engine] = await measure(stub, run)
        except (CrewError, RuntimeError) as e:
            print(f"{name} on {engine}: skipped ({str(e).splitlines()[0][:120]})")
    base = rows.get("native")
    if base is None:
        return
    for engine, (wall, calls, tokens) in rows.items():
        print(f"{name:12} {engine:8} wall {wall:6.3f} s ({wall / base[0]:.2f}×)  "
              f"calls {calls:3d} ({calls / base[1]:.2f}×)  "
              f"prompt tokens {tokens:6d} ({tokens / base[2]:.2f}×)")


async def main(latency: float) -> None:
    with StubServer(latency_s=latency) as stub:
        stub.always(StubReply.text("I prefer postgres.\nPOSITION: postgres"), model="d1")
        stub.always(StubReply.text("I prefer sqlite.\nPOSITION: sqlite"), model="d2")
        stub.always(StubReply.text(json.dumps({"decision": "sqlite", "rationale": "small"})),
                    model="judge")
        stub.always(StubReply.text("Use sqlite with one table per list."), model="author")
        stub.always(StubReply.text(json.dumps({"approved": True, "summary": "fine",
                                               "changes": []})), model="reviewer")
        llm = llm_for(stub)
        reg = default_registry()
        debate = {"rounds": 3, "judge": "judge"}
        term = "consensus | max_rounds"
        await compare("debate", stub, {
            e: (lambda e=e: reg.run(tpl("debate", e, term),  # type: ignore[misc]
                                    ctx(llm, ["d1", "d2"], debate)))
            for e in ("native", "autogen")})
        review = "approved | max_rounds | guard"
        await compare("review_loop", stub, {
            e: (lambda e=e: reg.run(tpl("review_loop", e, review),  # type: ignore[misc]
                                    ctx(llm, ["author", "reviewer"], {})))
            for e in ("native", "crewai")})
    print(f"latency per call: {latency * 1000:.0f} ms; best of {REPEATS}; ratios to native")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.2))
