"""crew's per-call overhead over a bare litellm Router call (goal: ≤ 1 ms added per call).

Runs in one process against crew.testing.StubServer at zero latency:
    .venv/bin/python benchmarks/llm_overhead.py [--calls 300]

Both paths use the same Router object, interleaved call by call. crew's path includes the
alias check, the budget's before/after checks (usd and token limits set, so the estimate runs),
CallContext metadata, the Completion conversion and the ledger record. "crew's own time" is
crew's wall time per call minus the time spent inside router.acompletion (measured inside the
same call), which is far less noisy than the difference of two ~8 ms means.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from crew.llm import LLM, Budget, CallContext, Limits  # loads litellm (offline cost map)
from crew.spec.models import ModelsConfig
from crew.testing.stub_server import StubReply, StubServer

# A typical agent turn: a system prompt and a few exchanges (~3k tokens).
MESSAGES = [{"role": "system", "content": "You are the coder. " + "Follow the plan. " * 150}] + [
    {"role": "user" if i % 2 else "assistant", "content": f"step {i}: " + "lorem ipsum " * 80}
    for i in range(8)]


async def main(calls: int) -> None:
    with StubServer() as stub:
        stub.always(StubReply.text("ok", prompt_tokens=3000, completion_tokens=5))
        cfg = ModelsConfig.model_validate({"model_list": [{"model_name": "smart", "litellm_params": {
            "model": "openai/bench", "api_base": stub.url, "api_key": "sk-bench",
            "input_cost_per_token": 1e-9, "output_cost_per_token": 1e-9}}],
            "router_settings": {"num_retries": 0}})
        llm = LLM(cfg, budget=Budget(Limits(usd=1e6, tokens=10**12, minutes=600)))
        router = llm.router
        ctx = CallContext(run_id="bench", task_id="t1", role="coder", pattern="single")

        async def bare() -> float:
            t = time.perf_counter()
            await router.acompletion(model="smart", messages=MESSAGES, temperature=0.2)
            return time.perf_counter() - t

        async def crew() -> tuple[float, float]:
            t = time.perf_counter()
            await llm.complete("smart", MESSAGES, context=ctx, temperature=0.2, max_tokens=512)
            total = time.perf_counter() - t
            return total, total - llm.ledger.entries[-1].latency_s

        for _ in range(30):  # warm up both paths (first HTTP call, imports, caches)
            await bare()
            await crew()
        bare_t, crew_t, own_t = [], [], []
        for _ in range(calls):
            bare_t.append(await bare())
            total, own = await crew()
            crew_t.append(total)
            own_t.append(own)

    ms = 1000.0
    b, c = statistics.median(bare_t) * ms, statistics.median(crew_t) * ms
    own_med, own_mean = statistics.median(own_t) * ms, statistics.fmean(own_t) * ms
    print(f"calls per path:            {calls} (interleaved, after 30 warm-up calls each)")
    print(f"bare router.acompletion:   median {b:.3f} ms")
    print(f"crew LLM.complete:         median {c:.3f} ms")
    print(f"ratio crew / bare:         {c / b:.3f}x   (difference of medians {c - b:+.3f} ms)")
    print(f"crew's own time per call:  median {own_med:.3f} ms, mean {own_mean:.3f} ms "
          f"(goal <= 1 ms: {'met' if own_med <= 1.0 else 'NOT met'})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    asyncio.run(main(ap.parse_args().calls))
