"""The three peer workloads (FACTS.md) against the stub model at 200 ms, each in a FRESH process,
through the real Router:

  committee: 3 reviewers + chair            critical path 2 calls   goal wall ÷ path <= 2.0
  debate: 2 debaters × 3 rounds + judge     critical path 7 calls   goal <= 1.3
  supervisor + coder, tester, doc writer    critical path 3 calls   goal <= 1.6 (5 calls)

Two times per process. The RUN WINDOW is what the peers' table in FACTS.md measures (and
benchmarks/peers.py, for every framework alike): it starts once the program's imports are done
(the framework and its model-client library: for crew the crew modules and litellm, whose
import `crew run` overlaps with loading the spec and checking the repository) and ends with the
workload's result; it holds loading the roles, building the Router, the first request and every
call. Its ratio to the critical path is the goal. WHOLE is the process from exec to exit
(imports included), printed beside it with the process's CPU seconds. `--legacy` starts each
process as before issue 16 (litellm imported by the first request, inside the window; ordinary
interpreter exit). Children write and use bytecode caches, as an installed crew does.
Medians of REPEATS. Run: .venv/bin/python benchmarks/patterns.py [--latency 0.2] [--repeats 3]
[--legacy]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PATH = {"committee": 2, "debate": 7, "supervisor": 3}
GOAL = {"committee": 2.0, "debate": 1.3, "supervisor": 1.6}
ROLE_NAMES = ("reviewer", "security_analyst", "tester", "supervisor", "coder", "doc_writer")


TITLE = "Add CSV export to the todo CLI"
DESCRIPTION = "`todo export --format csv PATH` writes every todo as one CSV row."


def child(workload: str, url: str, legacy: bool) -> None:
    """One workload in this (fresh) process; prints its calls and run window."""
    if not legacy:
        from crew.llm import prewarm

        prewarm(http=True)
    import crew.patterns.committee
    import crew.patterns.debate
    import crew.patterns.setup
    import crew.patterns.supervisor_worker
    import crew.spec.library  # noqa: F401  (the program's imports: before the window)

    if not legacy:
        from crew.llm._litellm import load_litellm

        load_litellm()  # joins the prewarm threads
    t0 = time.perf_counter()
    calls = run_workload(workload, url)
    window = time.perf_counter() - t0
    sys.stdout.write(json.dumps({"calls": calls, "window": window}) + "\n")
    sys.stdout.flush()
    if not legacy:
        os._exit(0)  # as `crew`'s entry point: no interpreter teardown


def run_workload(workload: str, url: str) -> int:
    """Build the router, roles and pattern for `workload`, run it against the stub at `url`;
    returns the number of calls (benchmarks/peers.py times this as crew's in-run window)."""
    import asyncio

    from crew.llm import LLM
    from crew.patterns.base import Outcome, TaskInfo
    from crew.patterns.committee import Committee
    from crew.patterns.debate import Debate
    from crew.patterns.setup import pattern_context
    from crew.patterns.supervisor_worker import SupervisorWorker
    from crew.spec.library import Library
    from crew.spec.models import ModelsConfig

    lib = Library([])
    models = {*ROLE_NAMES, "security_analyst_d", "judge"}
    roles = {n: lib.load("role", n).spec.model_copy(update={"model": n}) for n in ROLE_NAMES}
    roles["security_analyst_d"] = roles["security_analyst"].model_copy(
        update={"name": "security_analyst_d", "model": "security_analyst_d"})
    roles["judge"] = roles["reviewer"].model_copy(update={"name": "judge", "model": "judge"})
    llm = LLM(ModelsConfig.model_validate({"model_list": [
        {"model_name": m, "litellm_params": {"model": f"openai/{m}", "api_base": url,
                                             "api_key": "sk-stub", "input_cost_per_token": 1e-6,
                                             "output_cost_per_token": 2e-6}}
        for m in sorted(models)], "router_settings": {"num_retries": 0}}))
    runs: dict[str, tuple[Any, list[str], dict[str, Any]]] = {
        "committee": (Committee(), ["reviewer", "security_analyst", "tester"],
                      {"aggregation": "chair", "chair": "supervisor"}),
        "debate": (Debate(), ["coder", "security_analyst_d"],
                   {"rounds": 3, "early_stop": False, "judge": "judge"}),
        "supervisor": (SupervisorWorker(), ["supervisor", "coder", "tester", "doc_writer"], {}),
    }
    pattern, members, params = runs[workload]
    task = TaskInfo("w", TITLE, DESCRIPTION, tuple(members), params)
    res = asyncio.run(pattern.run(pattern_context(task, roles, llm, run_id="b")))
    assert res.outcome is Outcome.DONE, res
    return len(llm.ledger.entries)


def script_run(stub: Any, workload: str) -> None:
    """Queue the replies one run of `workload` consumes (the rest are `script_always`)."""
    from crew.testing import StubReply

    if workload == "supervisor":
        plan = {"subtasks": [{"id": "code", "title": "Implement export", "role": "coder"},
                             {"id": "tests", "title": "Test export", "role": "tester"},
                             {"id": "docs", "title": "Document export", "role": "doc_writer"}]}
        stub.enqueue(StubReply.text(json.dumps(plan)),
                     StubReply.text(json.dumps({"approved": True, "summary": "Done."})),
                     model="supervisor")
        for m in ("coder", "tester", "doc_writer"):
            stub.enqueue(StubReply.text("Done."), model=m)
    elif workload == "committee":
        stub.enqueue(StubReply.text(json.dumps({"decision": "Ship behind a flag.",
                                                "rationale": "All agree."})), model="supervisor")


def script_always(stub: Any) -> None:
    """The replies every run of crew's workloads may repeat."""
    from crew.testing import StubReply

    for m in ("reviewer", "security_analyst", "tester"):
        stub.always(StubReply.text(json.dumps({"answer": "Ship it behind a flag.",
                                               "rationale": "Small, testable."})), model=m)
    stub.always(StubReply.text("Stream rows.\nPOSITION: stream"), model="coder")
    stub.always(StubReply.text("Escape formulas.\nPOSITION: escape"), model="security_analyst_d")
    stub.always(StubReply.text(json.dumps({"decision": "stream and escape",
                                           "rationale": "Both matter."})), model="judge")


def child_env() -> dict[str, str]:
    """The children's environment: bytecode caches written and used, as in an installed
    environment (with PYTHONDONTWRITEBYTECODE set every import compiles from source)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(workload: str, stub: Any, legacy: bool) -> tuple[float, float, int, float]:
    script_run(stub, workload)
    cmd = [sys.executable, __file__, "--child", workload, stub.url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd + (["--legacy"] if legacy else []), check=True,
                         capture_output=True, text=True, env=child_env()).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got = json.loads(out.strip().splitlines()[-1])
    return wall, cpu, int(got["calls"]), float(got["window"])


def measure(latency: float = 0.2, repeats: int = 3, legacy: bool = False
            ) -> dict[str, dict[str, float]]:
    from crew.testing import StubServer

    out: dict[str, dict[str, float]] = {}
    with StubServer(latency_s=latency) as stub:
        script_always(stub)
        for w in PATH:
            runs = [run_once(w, stub, legacy) for _ in range(repeats)]
            window = statistics.median(r[3] for r in runs)
            out[w] = {"calls": runs[0][2], "wall_s": statistics.median(r[0] for r in runs),
                      "window_s": window, "cpu_s": statistics.median(r[1] for r in runs),
                      "ratio": window / (PATH[w] * latency), "goal": GOAL[w]}
    return out


def report(rows: dict[str, dict[str, float]], label: str) -> None:
    for w, r in rows.items():
        print(f"{label:8} {w:11} calls {r['calls']:>2.0f}  run window {r['window_s']:5.2f} s "
              f"= {r['ratio']:5.2f}x critical path (goal <= {r['goal']})  whole process "
              f"{r['wall_s']:5.2f} s, CPU {r['cpu_s']:5.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", nargs=2, metavar=("WORKLOAD", "URL"))
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--legacy", action="store_true")
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1], a.legacy)
        return
    report(measure(a.latency, a.repeats, a.legacy), "legacy" if a.legacy else "crew")


if __name__ == "__main__":
    main()
