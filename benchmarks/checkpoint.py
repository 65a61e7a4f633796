"""Checkpoint cost per LLM call at 10, 100 and 1,000 calls (goal: flat within 2x; total
event-loop stall < 1 s at 1,000 calls).

Run: .venv/bin/python benchmarks/checkpoint.py [--calls 10,100,1000] [--no-legacy]

Each size runs in a fresh interpreter (a user starts one per run) on a temp run directory and
drives the real checkpoint path of a run: `RunFiles.on_call` as the ledger listener (one line
to ledger.jsonl, then `RunSession.checkpoint`, whose state.json is written by the writer thread),
each agent turn recorded in turns.jsonl through `run_agent`'s recorder, a pattern checkpoint
(`ctx.save` with the conversation, as review_loop does) at each agent's end and a durable task
end every 4 agents. Sizes are an agent's: 20 turns of ~3 kB tool output + ~250 B of assistant
text, after a 6 kB system + task prompt. The model is `asyncio.sleep(latency)`.

"on-loop" is the time the checkpoint path holds the event loop per call (listener + turn
record + its share of pattern saves); "stall" is the sum of those over the run; "ticker max" is
the worst lateness of a 1 ms ticker task beside it (includes scheduler noise). "legacy" is the
previous path for reference: the whole ledger and every saved conversation serialised into
state.json and written (fsync, rename, fsync dir) on the loop at every call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

TURNS_PER_AGENT = 20
AGENTS_PER_TASK = 4
SYSTEM = "You are the Coder. Goal: write good code.\n\n" + "Follow the conventions. " * 200
TOOL_OUTPUT = "def f(x):\n    return x * 2  # a line of the file that was read\n" * 50  # ~3 kB
THOUGHT = "I will read the module next, then change the function and run the tests. " * 3


class _LLM:
    """What RunSession.checkpoint reads of the LLM: the ledger and the budget."""

    def __init__(self) -> None:
        from crew.llm import Budget, Ledger, Limits

        self.ledger = Ledger()
        self.budget = Budget(Limits(usd=100.0, tokens=10**9, minutes=600))


def _turn(turn: int) -> list[dict[str, Any]]:
    call = {"id": f"call_{turn}", "type": "function",
            "function": {"name": "read_file", "arguments": json.dumps({"path": f"m{turn}.py"})}}
    return [{"role": "assistant", "content": THOUGHT, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{turn}", "content": TOOL_OUTPUT}]


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - t - 0.001)


async def run_new(calls: int, d: Path, latency: float) -> dict[str, Any]:
    from crew.llm.ledger import LedgerEntry
    from crew.patterns.base import TaskInfo, _recording
    from crew.patterns.setup import pattern_context
    from crew.run.journal import RunFiles
    from crew.run.runner import RunSession
    from crew.run.state import RunState

    state = RunState(run_id="bench", feature_path="f.yaml", feature_title="Bench", repo=str(d))
    llm = _LLM()
    files = RunFiles(d)
    none = cast(Any, None)
    session = RunSession(resolved=none, state=state, run_dir=d, workspace=none, llm=cast(Any, llm),
                         sandbox=none, tracer=none, turns=files.turns, writer=files.writer)
    llm.ledger.listeners.append(lambda e: files.on_call(e, session.checkpoint))
    on_loop: list[float] = []
    stop, lags = asyncio.Event(), []  # type: ignore[var-annotated]
    ticker = asyncio.create_task(_ticker(stop, lags))
    start = time.perf_counter()
    n = 0
    while n < calls:
        task = f"task-{n // (TURNS_PER_AGENT * AGENTS_PER_TASK)}"
        info = TaskInfo(id=task, title=task)
        ctx = pattern_context(info, {}, none, run_id="bench", turn_store=files.turns,
                              checkpoint=session._pattern_checkpoint(task))
        session._set(task, "running")
        for a in range(AGENTS_PER_TASK):
            record = _recording(files.turns, ctx.turn_key("coder", a + 1, "work"))
            msgs: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM},
                                          {"role": "user", "content": "## Task\nDo it. " * 40}]
            for turn in range(1, TURNS_PER_AGENT + 1):
                if n >= calls:
                    break
                await asyncio.sleep(latency)  # the model
                msgs.extend(_turn(turn))
                t = time.perf_counter()
                llm.ledger.record(LedgerEntry(
                    alias="smart", deployment="openai/gpt-4o", prompt_tokens=3000 + 900 * turn,
                    completion_tokens=80, cost_usd=0.01, latency_s=latency, run_id="bench",
                    task_id=task, role="coder", purpose="work", turn=turn, at=time.time()))
                record(_Rec(turn, list(msgs)))
                on_loop.append(time.perf_counter() - t)
                n += 1
            t = time.perf_counter()
            await ctx.save({"round": a + 1, "author": msgs})  # review_loop keeps its author's
            on_loop[-1] += time.perf_counter() - t
        session._set(task, "done")
        await session.durable()
    session.checkpoint()
    session.flush()
    wall = time.perf_counter() - start
    stop.set()
    await ticker
    files.close()
    return _summary(calls, on_loop, lags, wall, d)


class _Rec:
    """The fields of agent.TurnRecord the recorder reads."""

    def __init__(self, turn: int, messages: list[dict[str, Any]]) -> None:
        self.turn, self.messages, self.stop_reason, self.detail = turn, messages, None, ""


async def run_legacy(calls: int, d: Path, latency: float) -> dict[str, Any]:
    from crew.llm.ledger import Ledger, LedgerEntry
    from crew.run.state import STATE_FILE, RunState, write_atomic

    state = RunState(run_id="bench", feature_path="f.yaml", feature_title="Bench", repo=str(d))
    ledger = Ledger()
    patterns: dict[str, dict[str, Any]] = {}

    def checkpoint() -> None:
        body = state.model_dump(mode="json")
        body["ledger"] = ledger.to_dict()
        for tid, ps in patterns.items():
            body["tasks"].setdefault(tid, {})["pattern_state"] = ps
        write_atomic(d / STATE_FILE, json.dumps(body, indent=1))

    ledger.listeners.append(lambda _e: checkpoint())
    on_loop: list[float] = []
    stop, lags = asyncio.Event(), []  # type: ignore[var-annotated]
    ticker = asyncio.create_task(_ticker(stop, lags))
    start = time.perf_counter()
    n = 0
    while n < calls:
        task = f"task-{n // (TURNS_PER_AGENT * AGENTS_PER_TASK)}"
        state.task(task).status = "running"
        for a in range(AGENTS_PER_TASK):
            msgs: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM},
                                          {"role": "user", "content": "## Task\nDo it. " * 40}]
            for turn in range(1, TURNS_PER_AGENT + 1):
                if n >= calls:
                    break
                await asyncio.sleep(latency)
                msgs.extend(_turn(turn))
                t = time.perf_counter()
                ledger.record(LedgerEntry(
                    alias="smart", deployment="openai/gpt-4o", prompt_tokens=3000 + 900 * turn,
                    completion_tokens=80, cost_usd=0.01, latency_s=latency, run_id="bench",
                    task_id=task, role="coder", purpose="work", turn=turn, at=time.time()))
                on_loop.append(time.perf_counter() - t)
                n += 1
            t = time.perf_counter()
            patterns[task] = {"round": a + 1, "author": list(msgs)}
            checkpoint()
            on_loop[-1] += time.perf_counter() - t
        state.task(task).status = "done"
        checkpoint()
    wall = time.perf_counter() - start
    stop.set()
    await ticker
    return _summary(calls, on_loop, lags, wall, d)


def _summary(calls: int, on_loop: list[float], lags: list[float], wall: float, d: Path
             ) -> dict[str, Any]:
    ms = 1000.0
    last = on_loop[-max(1, len(on_loop) // 10):]  # the last tenth: is it still flat?
    size = {p.name: p.stat().st_size for p in d.iterdir() if p.is_file()}
    return {"calls": calls, "mean_ms": statistics.fmean(on_loop) * ms,
            "last10_ms": statistics.fmean(last) * ms,
            "p99_ms": sorted(on_loop)[int(0.99 * (len(on_loop) - 1))] * ms,
            "stall_s": sum(on_loop), "ticker_max_ms": max(lags, default=0.0) * ms,
            "wall_s": wall, "state_kb": size.get("state.json", 0) / 1024}


def child(mode: str, calls: int, latency: float) -> None:
    with tempfile.TemporaryDirectory(prefix="crew-ckpt-") as tmp:
        fn = run_new if mode == "new" else run_legacy
        out = asyncio.run(fn(calls, Path(tmp), latency))
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", default="10,100,1000")
    ap.add_argument("--latency", type=float, default=0.002, help="model latency, seconds")
    ap.add_argument("--no-legacy", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "CALLS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.latency)
        return
    sizes = [int(x) for x in args.calls.split(",")]
    modes = ["new"] if args.no_legacy else ["new", "legacy"]
    print(f"{'path':<7} {'calls':>6} {'mean/call':>10} {'last 10%':>9} {'p99':>8} "
          f"{'stall':>8} {'ticker max':>10} {'state.json':>10}")
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for mode in modes:
        for n in sizes:
            proc = subprocess.run([sys.executable, __file__, "--latency", str(args.latency),
                                   "--child", mode, str(n)], capture_output=True, text=True,
                                  check=True)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.setdefault(mode, {})[n] = r
            print(f"{mode:<7} {n:>6} {r['mean_ms']:>8.3f}ms {r['last10_ms']:>7.3f}ms "
                  f"{r['p99_ms']:>6.2f}ms {r['stall_s']:>7.3f}s {r['ticker_max_ms']:>8.2f}ms "
                  f"{r['state_kb']:>8.1f}kB")
    new = results["new"]
    lo, hi = min(sizes), max(sizes)
    ratio = new[hi]["mean_ms"] / new[lo]["mean_ms"]
    means = [r["mean_ms"] for r in new.values()]
    print(f"new: mean per call at {hi} / at {lo} calls = {ratio:.2f}x (goal <= 2x: "
          f"{'met' if ratio <= 2 else 'NOT met'}; max/min over sizes "
          f"{max(means) / min(means):.2f}x); stall at {hi} calls "
          f"{new[hi]['stall_s']:.3f} s (goal < 1 s: "
          f"{'met' if new[hi]['stall_s'] < 1 else 'NOT met'})")
    if "legacy" in results:
        old = results["legacy"][hi]
        print(f"legacy at {hi} calls: {old['mean_ms']:.2f} ms per call, stall "
              f"{old['stall_s']:.2f} s ({old['mean_ms'] / new[hi]['mean_ms']:.0f}x the new path)")


if __name__ == "__main__":
    main()
