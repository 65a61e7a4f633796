"""One well-formed trace tree on the OTLP wire (the real Langfuse SDK → crew's local receiver):
exactly one parentless observation per trace, across a kill and a resume, and every parent id
names an exported span — the run's root and a `run_error` sent after it ended included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crew.observability import Tracer, trace_id_for
from crew.observability.langfuse_sink import root_span_id_for
from crew.testing.otlp_receiver import OTLPReceiver

KEYS = {"LANGFUSE_PUBLIC_KEY": "pk-lf-tree", "LANGFUSE_SECRET_KEY": "sk-lf-tree"}


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as rx:
        yield rx


def assert_one_tree(spans: list[dict[str, Any]], run_id: str) -> None:
    assert spans
    assert {s["trace_id"] for s in spans} == {trace_id_for(run_id)}
    ids = {s["span_id"] for s in spans}
    roots = {s["span_id"] for s in spans if not s["parent_span_id"]}
    assert roots == {root_span_id_for(run_id)}, roots
    dangling = [(s["name"], s["parent_span_id"]) for s in spans
                if s["parent_span_id"] and s["parent_span_id"] not in ids]
    assert not dangling, dangling


def test_a_run_and_its_late_error_event_form_one_tree(receiver: OTLPReceiver,
                                                      tmp_path: Path) -> None:
    env = {**KEYS, "LANGFUSE_BASE_URL": receiver.base_url}
    t = Tracer.create("run-tree-1", "Export CSV", tmp_path, env=env, sinks=[])
    with t.run({"goal": "g"}), t.task("a", "single", ["coder"]), t.agent("coder", 1):
        pass
    t.event("run_error", "ERROR", {"error": "OSError: disk full"})  # after the root ended
    t.close()
    assert {s["name"] for s in receiver.spans} >= {"Export CSV", "a", "coder", "run_error"}
    assert_one_tree(receiver.spans, "run-tree-1")


SESSION_1 = textwrap.dedent("""
    import os, signal, sys
    from crew.observability import Tracer
    t = Tracer.create(sys.argv[1], "Export CSV", sys.argv[2], sinks=[])
    run = t.run({"goal": "g"})
    run.__enter__()
    with t.task("first", "single", ["coder"]), t.agent("coder", 1):
        pass
    t._langfuse.wait_ready(60)
    t._langfuse._client.flush()   # the finished task reaches Langfuse; the root never ends
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_kill_and_resume_continue_one_tree(receiver: OTLPReceiver, tmp_path: Path) -> None:
    run_id = "run-tree-kill"
    env = {**os.environ, **KEYS, "LANGFUSE_BASE_URL": receiver.base_url}
    proc = subprocess.run([sys.executable, "-c", SESSION_1, run_id, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    before = list(receiver.spans)
    assert {s["name"] for s in before} == {"first", "coder"}  # no root from the killed session
    # `crew resume`: a new process, the same run id
    t = Tracer.create(run_id, "Export CSV", tmp_path, env={**KEYS, "LANGFUSE_BASE_URL":
                                                           receiver.base_url}, sinks=[])
    with t.run({"goal": "g"}), t.task("second", "single", ["coder"]):
        pass
    t.close()
    deadline = time.monotonic() + 5
    while len(receiver.spans) < len(before) + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    names = [s["name"] for s in receiver.spans]
    assert names.count("Export CSV") == 1 and "second" in names
    assert_one_tree(receiver.spans, run_id)


TIMED = textwrap.dedent("""
    import sys, time
    import httpx, pydantic  # a run has loaded litellm, which brings these, before tracing
    from crew.observability import Tracer
    from crew.observability.tracer import prewarm_langfuse
    url = sys.argv[1]
    env = {} if url == "off" else {**KEYS, "LANGFUSE_BASE_URL": url}
    t0 = time.monotonic()
    prewarm_langfuse(env)
    time.sleep(0.5)  # the launcher's own start (git worktree, sandbox) overlaps the import
    t = Tracer.create("run-timed", "F", sys.argv[2], env=env, sinks=[])
    with t.run():
        for i in range(100):
            with t.agent("coder", i), t.tool("read_file", {"i": i}) as tool:
                tool.end("ok")
    t.close(deadline_s=2.0)
    print(time.monotonic() - t0)
""").replace("KEYS", repr(KEYS))


def test_a_silent_langfuse_costs_a_run_at_most_two_seconds(tmp_path: Path) -> None:
    """A host that accepts connections and never answers: the run (tracer setup, 200
    observations, close) takes at most 2 s longer than with tracing off."""
    from crew.testing.otlp_receiver import SilentPort

    silent = SilentPort()
    try:
        def timed(url: str) -> float:
            out = subprocess.run([sys.executable, "-c", TIMED, url, str(tmp_path / url[-5:])],
                                 capture_output=True, text=True, timeout=120, check=True)
            return float(out.stdout.strip().splitlines()[-1])

        off, on = timed("off"), timed(silent.base_url)
    finally:
        silent.close()
    assert on - off <= 2.0 + 0.3, (off, on)  # 0.3 s: 200 observations on a loaded machine
