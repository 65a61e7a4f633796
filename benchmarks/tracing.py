"""Tracing overhead per observation: Langfuse sink on versus off (goal: <= 0.2 ms extra).

Both sides write the local event log (always on in a run); "on" also builds the Langfuse
observation and queues it for background OTLP export to a local receiver. One process,
best of several repeats. Also: how long `Tracer.close()` takes when Langfuse is unreachable
(a closed port; a port that accepts and never answers) — the bound is 2 s.
Run: .venv/bin/python benchmarks/tracing.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from crew.llm.types import Completion, ToolCall, Usage
from crew.observability import LangfuseSettings, Tracer
from crew.testing.otlp_receiver import OTLPReceiver, SilentPort, closed_port

MESSAGES = [{"role": "system", "content": "You are the coder. " * 40},
            {"role": "user", "content": "Implement CSV export for the todo CLI. " * 20}]
COMPLETION = Completion("Done: added export_csv() and tests.",
                        (ToolCall("c1", "write_file", '{"path": "todo/export.py"}'),),
                        alias="smart", model="openai/gpt-4o-mini", usage=Usage(900, 120),
                        cost_usd=0.00021)


def per_observation_ms(tracer: Tracer, n: int, kind: str) -> float:
    with tracer.run(), tracer.task("t1", "single", ["coder"]), tracer.agent("coder", 1):
        start = time.perf_counter()
        for i in range(n):
            if kind == "tool":
                with tracer.tool("read_file", {"path": f"src/file_{i}.py"}) as tool:
                    tool.end("def f():\n    return 1\n")
            else:
                with tracer.generation("smart", MESSAGES, {"temperature": 0}) as gen:
                    gen.end(COMPLETION)
        elapsed = time.perf_counter() - start
    return elapsed / n * 1000


def measure(n: int, kind: str, base_url: str | None, repeats: int = 5) -> float:
    best = float("inf")
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            settings = (LangfuseSettings("pk-lf-bench", "sk-lf-bench", base_url=base_url)
                        if base_url else None)
            tracer = Tracer.create(f"bench-{kind}-{r}-{base_url is not None}", "Benchmark",
                                   Path(d), env={}, sinks=[], langfuse=settings)
            best = min(best, per_observation_ms(tracer, n, kind))
            tracer.close()
    return best


def close_s(base_url: str, n: int = 200) -> float:
    """Seconds `close()` takes after `n` observations with Langfuse at `base_url`."""
    with tempfile.TemporaryDirectory() as d:
        tracer = Tracer.create(f"bench-close-{base_url}", "Benchmark", Path(d), env={}, sinks=[],
                               langfuse=LangfuseSettings("pk-lf-down", "sk-lf-down",
                                                         base_url=base_url))
        per_observation_ms(tracer, n, "generation")
        start = time.perf_counter()
        tracer.close()
        return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with OTLPReceiver() as rx:
        measure(200, "tool", rx.base_url, repeats=1)  # warm up imports and the exporter
        print(f"{'observation':<12}{'off (ms)':>10}{'on (ms)':>10}{'extra (ms)':>12}{'ratio':>8}")
        for kind in ("tool", "generation"):
            off = measure(n, kind, None)
            on = measure(n, kind, rx.base_url)
            print(f"{kind:<12}{off:>10.4f}{on:>10.4f}{on - off:>12.4f}{on / off:>7.2f}x")
        print("goal: extra <= 0.2 ms per observation (Langfuse sink on vs off)")
    with SilentPort() as silent:
        for what, url in (("closed port", f"http://127.0.0.1:{closed_port()}"),
                          ("silent port", silent.base_url)):
            print(f"close() with Langfuse unreachable ({what}): {close_s(url):.2f} s "
                  "(bound: 2 s)")


if __name__ == "__main__":
    main()
