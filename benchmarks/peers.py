"""crew beside AutoGen 0.7.5 and CrewAI 1.6.1 on the same three workloads, the same role and task
texts, the same stub model (crew.testing.StubServer, 200 ms per call), each run in a FRESH process:

  committee: 3 reviewers + chair            critical path 2 calls
  debate: 2 debaters × 3 rounds + judge     critical path 7 calls
  supervisor + coder, tester, doc writer    critical path 3 calls

crew runs benchmarks/patterns.py's workloads as they are. The peers are written as their docs show:
- AutoGen: one OpenAIChatCompletionClient (autogen-ext) and AssistantAgent per role. Committee:
  the 3 reviewers' `run` concurrently (asyncio.gather), then a chair agent given the answers.
  Debate: RoundRobinGroupChat of the 2 debaters, max_turns=6, then a judge agent `run` on the
  team's messages. Supervisor: SelectorGroupChat of the lead and the 3 workers (the selector asks
  the model for every next speaker) ending on TextMentionTermination("TERMINATE").
- CrewAI: Agent(role=title, goal=goal, backstory=instructions) per role, LLM on CrewAI's native
  OpenAI provider (`provider="openai"`). Committee: 3 async_execution tasks, then the chair's task
  with them as context. Debate: 6 sequential tasks alternating the debaters (CrewAI hands each
  task every earlier output), then the judge's task. Supervisor: one task, Process.hierarchical
  with the lead as manager_agent delegating through CrewAI's coworker tools.
Role texts are crew's built-in roles (Library([]).load("role", name)): AutoGen's system message
is crew's own "You are the <title>. Goal: <goal>\\n\\n<instructions>"; CrewAI's role/goal/backstory.
The task is patterns.TITLE + DESCRIPTION with the same short instruction per step in both peers.

Adaptations (so each framework finishes normally, nothing slower than its docs show):
- Replies are scripted per model name, content equivalent to crew's (crew asks for JSON, so its
  replies are JSON; the peers' are the same words as prose). CrewAI's ReAct parser needs
  "Thought: …\\nFinal Answer: …" and, for the manager, "Action: Delegate work to coworker\\n
  Action Input: {json}"; AutoGen's selector gets a participant name; its lead ends with TERMINATE
  (one line added to the lead's system message, as the docs' planning agent has it).
- CrewAI: telemetry and tracing off (CREWAI_DISABLE_TELEMETRY, CREWAI_TRACING_ENABLED=false,
  OTEL_SDK_DISABLED), a temporary HOME shared by all runs, stdin closed: its first-run "view your
  traces?" prompt (20 s timeout, at exit) is answered "no" by the warm-up run, as a returning user.
- One unmeasured warm-up run per framework × workload first, and PYTHONDONTWRITEBYTECODE dropped
  from the children's environment (patterns.child_env): bytecode caches exist, as in any
  environment used once (a fresh venv with the variable set compiles every import from source).
- autogen-ext[openai] (AutoGen's OpenAI client) comes with crew's `dev` extra (requirements/dev.txt).
  A framework that does not import is reported as skipped.

crew runs as a LIBRARY, the way a user's script does: its modules imported (`LLM` among them),
then `LLM(config)` and a pattern's `run` (no prewarm, no CLI), and every framework leaves the
interpreter normally.

Measured per framework × workload (medians of --repeats; runs interleaved): calls and prompt tokens
from the requests the stub received (cl100k, benchmarks/tokens.py's count: content + 4 per message,
plus any `tools` schema); whole-process wall and CPU; IMPORTS: from exec to the end of the
program's imports (crew: its modules; `from crew.llm import LLM` imports litellm and what its
first request loads; an older crew (--before) imports litellm inside `LLM(config)`: a meta-path
hook times that import alone and moves it from the window to the imports); the in-run WINDOW
(wall and CPU) and its ratio to the critical path: from the imports' end to the result in hand
(building clients and agents, the first request and every call are inside it); 1ST REQ: from
the imports' end to the stub receiving the first request; EXIT:
from the child's last line to its end (interpreter teardown). THR: non-daemon threads still
running at the end (a crew child that leaves one fails the run). The peers' windows hold the
OpenAI SDK's lazy import of `openai.resources` (every resource of the API) on their first
request; crew's import loads what its first request needs, and only chat's resources. Each
round also times `import litellm` alone in a fresh process (LITELLM row): the goal for a whole
crew process is that plus 1.0 s.
`--before SRC` adds crew from another `src` folder (e.g. `git archive main src roles patterns
tasks crews pyproject.toml | tar -x -C DIR`), in the same rounds. The machine's load average is
printed before and after.
Run: .venv/bin/python benchmarks/peers.py [--repeats 3] [--latency 0.2] [--only crew,autogen,crewai]
[--before SRC]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import patterns
import peer_workloads

FRAMEWORKS = ("crew", "autogen", "crewai")
IMPORTS = {"crew": "crew.llm", "autogen": "autogen_agentchat, autogen_ext.models.openai",
           "crewai": "crewai"}
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "CREWAI_DISABLE_TELEMETRY": "true",
       "CREWAI_TRACING_ENABLED": "false", "OTEL_SDK_DISABLED": "true"}


LATE_IMPORT: dict[str, float] = {}


class _TimeLitellmImport:
    """A meta-path finder that times `import litellm` wherever crew runs it (inside
    `LLM(config)`), wall and CPU, so crew's window can leave it out as the peers' windows
    leave their imports out. Changes nothing else: the module is found and executed as usual."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "litellm":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            t, c = time.perf_counter(), time.process_time()
            try:
                run(module)
            finally:
                LATE_IMPORT.update(wall=time.perf_counter() - t, cpu=time.process_time() - c)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _crew_library_imports() -> None:
    """A user's script: crew's modules, `LLM` among them, nothing called. litellm is imported
    where crew imports it: with `crew.llm.client` (`from crew.llm import LLM`), or, in an
    older crew (--before), inside `LLM(config)`: then the hook times it inside the window."""
    sys.meta_path.insert(0, _TimeLitellmImport())
    import crew.patterns.committee
    import crew.patterns.debate
    import crew.patterns.setup
    import crew.patterns.supervisor_worker
    import crew.spec.library  # noqa: F401
    from crew.llm import LLM  # noqa: F401

    LATE_IMPORT.clear()  # imported with the imports: part of them, not of the window


def child(framework: str, workload: str, url: str) -> None:
    """One framework × workload in this fresh process; prints its times as JSON. Every
    framework leaves the interpreter normally (crew used as a library: no os._exit)."""
    if framework in ("crew", "crew-before"):
        _crew_library_imports()
        t0, c0, at0 = time.perf_counter(), time.process_time(), time.time()
        patterns.run_workload(workload, url)
    elif framework == "autogen":
        import autogen_agentchat.agents
        import autogen_agentchat.conditions
        import autogen_agentchat.messages
        import autogen_agentchat.teams  # noqa: F401
        import autogen_core.models  # noqa: F401
        import autogen_ext.models.openai  # noqa: F401

        peer_workloads.load_roles()
        t0, c0, at0 = time.perf_counter(), time.process_time(), time.time()
        peer_workloads.autogen(workload, url)
    else:
        import crewai  # noqa: F401
        from crewai.events.listeners.tracing.utils import mark_first_execution_done

        mark_first_execution_done(user_consented=False)
        peer_workloads.load_roles()
        t0, c0, at0 = time.perf_counter(), time.process_time(), time.time()
        peer_workloads.crewai(workload, url)
    window, cpu = time.perf_counter() - t0, time.process_time() - c0
    late = LATE_IMPORT.get("wall", 0.0)  # an import inside the window (crew: in LLM(...))
    import threading

    lingering = [t.name for t in threading.enumerate()
                 if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    sys.stdout.write("\n" + json.dumps({
        "window_s": window - late, "window_cpu_s": cpu - LATE_IMPORT.get("cpu", 0.0), "late_import_s": late,
        "window_at": at0, "lingering": lingering, "done_at": time.time()}) + "\n")
    sys.stdout.flush()


def installed(framework: str) -> bool:
    mods = IMPORTS[framework.removesuffix("-before")].replace(",", " ").split()
    code = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in %r))"
    try:
        return subprocess.run([sys.executable, "-c", code % (mods,)]).returncode == 0
    except Exception:
        return False


def prompt_tokens(bodies: list[dict[str, Any]]) -> int:
    """cl100k prompt tokens of these requests, counted as benchmarks/tokens.py does."""
    import tokens

    count, _ = tokens.counter()
    total = 0
    for body in bodies:
        msgs = []
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, list):  # content parts
                content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            msgs.append({**m, "content": content})
        total += sum(tokens.message_tokens(count, msgs))
        if body.get("tools"):
            total += count(json.dumps(body["tools"]))
    return total


def litellm_import(env: dict[str, str]) -> dict[str, float]:
    """`import litellm` alone in a fresh process: wall and CPU (the interpreter's start
    included, as in the frameworks' process figures)."""
    code = "import litellm"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime)}


def run_once(framework: str, workload: str, stub: Any, env: dict[str, str]
             ) -> dict[str, float]:
    if framework in ("crew", "crew-before"):
        patterns.script_run(stub, workload)
    else:
        peer_workloads.script(stub, framework, workload)
    first = len(stub.requests)
    cmd = [sys.executable, __file__, "--child", framework, workload, stub.url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, spawned = time.perf_counter(), time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    wall, ended = time.perf_counter() - t0, time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or stub.pending():
        raise RuntimeError(f"{framework} {workload} did not finish normally "
                           f"(exit {proc.returncode}, {stub.pending()} scripted replies unused):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    last = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"window_s"')][-1]
    got = json.loads(last)
    if got["lingering"] and framework in ("crew", "crew-before"):  # the peers' are counted
        raise RuntimeError(f"{framework} {workload} left non-daemon threads: {got['lingering']}")
    bodies = [r.body for r in stub.requests[first:]]
    late = got["late_import_s"]
    return {"window_s": got["window_s"], "window_cpu_s": got["window_cpu_s"], "wall_s": wall,
            # the program's imports, from exec: for crew, litellm's import inside LLM(...) too
            "imports_s": got["window_at"] - spawned + late,
            # from the imports' end to the first request sent (crew: less litellm's import)
            "first_s": stub.requests[first].at - got["window_at"] - late,
            "exit_s": ended - got["done_at"], "calls": len(bodies),
            "threads": len(got["lingering"]),
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "tokens": prompt_tokens(bodies)}


def measure(latency: float = 0.2, repeats: int = 3, only: tuple[str, ...] = FRAMEWORKS,
            before: str | None = None) -> dict[str, dict[str, dict[str, float] | None]]:
    """{framework: {workload: medians or None when the framework is not installed}};
    `before`: also crew from that `src` folder ("crew-before"), in the same rounds."""
    from crew.testing import StubServer

    frameworks = FRAMEWORKS + (("crew-before",) if before else ())
    present = {f: (f in only or f == "crew-before") and installed(f) for f in frameworks}
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="crew-peers-home-") as home, \
            StubServer(latency_s=latency) as stub:
        env = {**patterns.child_env(), **ENV, "HOME": home}
        envs = {f: env for f in frameworks}
        if before:
            envs["crew-before"] = {**env, "PYTHONPATH": before}
        patterns.script_always(stub)
        peer_workloads.script_always(stub)
        for w in patterns.PATH:  # warm-up, not measured: writes bytecode caches (and CrewAI's
            for f in frameworks:  # HOME files) as any environment that has run once has them
                if present[f]:
                    run_once(f, w, stub, envs[f])
        for _ in range(repeats):  # interleaved: the machine's load hits every framework alike
            for w in patterns.PATH:
                runs.setdefault(("litellm", "import"), []).append(litellm_import(env))
                for f in frameworks:
                    if present[f]:
                        runs.setdefault((f, w), []).append(run_once(f, w, stub, envs[f]))
    lite = runs.get(("litellm", "import"), [])
    out: dict[str, dict[str, dict[str, float] | None]] = {"litellm": {"import": {
        k: statistics.median(r[k] for r in lite) for k in ("wall_s", "cpu_s")} if lite else None}}
    for f in frameworks:
        if f not in only and f != "crew-before":
            continue
        out[f] = {}
        for w in patterns.PATH:
            rs = runs.get((f, w))
            if not rs:
                out[f][w] = None
                continue
            med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            path_s = patterns.PATH[w] * latency
            med["ratio"] = med["window_s"] / path_s if path_s else float("nan")
            out[f][w] = med
    return out


def report(rows: dict[str, dict[str, dict[str, float] | None]]) -> None:
    print(f"{'workload':11} {'framework':11} {'calls':>5} {'tokens':>7} {'process wall':>12} "
          f"{'CPU':>6} {'imports':>7} {'window':>7} {'win CPU':>7} {'÷ path':>7} "
          f"{'1st req':>7} {'exit':>6} {'thr':>3}")
    lite = rows.get("litellm", {}).get("import")
    for w in patterns.PATH:
        for f, by_w in rows.items():
            if f == "litellm":
                continue
            r = by_w[w]
            if r is None:
                print(f"{w:11} {f:11} skipped (not installed: {IMPORTS[f.removesuffix('-before')]})")
                continue
            print(f"{w:11} {f:11} {r['calls']:>5.0f} {r['tokens']:>7,.0f} {r['wall_s']:>10.2f} s "
                  f"{r['cpu_s']:>5.2f}s {r['imports_s']:>6.2f}s {r['window_s']:>6.2f}s "
                  f"{r['window_cpu_s']:>6.2f}s {r['ratio']:>6.2f}x {r['first_s']:>6.2f}s "
                  f"{r['exit_s']:>5.2f}s {r['threads']:>3.0f}")
    if lite:
        print(f"LITELLM     import litellm alone: {lite['wall_s']:.2f} s wall, "
              f"{lite['cpu_s']:.2f} s CPU")
        for w in patterns.PATH:
            c = rows.get("crew", {}).get(w)
            if c:
                print(f"crew        {w:11} whole process - litellm's import: "
                      f"{c['wall_s'] - lite['wall_s']:.2f} s wall, "
                      f"{c['cpu_s'] - lite['cpu_s']:.2f} s CPU (goal <= 1.0 s)")
    crew = rows.get("crew", {})
    for f, by_w in rows.items():
        if f in ("crew", "litellm"):
            continue
        for w in patterns.PATH:
            c, p = crew.get(w), by_w[w]
            if c and p:
                print(f"crew/{f:7} {w:11} tokens {c['tokens'] / p['tokens']:4.2f}  process wall "
                      f"{c['wall_s'] / p['wall_s']:4.2f}  CPU {c['cpu_s'] / p['cpu_s']:4.2f}  "
                      f"window {c['window_s'] / p['window_s']:4.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "WORKLOAD", "URL"))
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(FRAMEWORKS))
    ap.add_argument("--before", metavar="SRC",
                    help="also run crew from this src folder (e.g. a worktree of main's src)")
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return
    only = tuple(f for f in a.only.split(",") if f in FRAMEWORKS)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")
    rows = measure(a.latency, a.repeats, only, a.before)
    report(rows)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
