"""The real Langfuse SDK exporting real OTLP to a local receiver: the whole run hierarchy.

A debate task is simulated by driving the tracer directly: task chain → rounds → concurrent
debater agents (asyncio.gather) → generations → tool calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from crew.llm.types import Completion, ToolCall, Usage
from crew.observability import Tracer, read_events, trace_id_for, trace_url
from crew.observability.events import EVENTS_FILE
from crew.testing.otlp_receiver import OTLPReceiver, SilentPort, closed_port

PLANTED = {
    "OPENAI_API_KEY": "sk-proj-PLANTED0123456789abcdef",
    "CREW_E2E_SERVICE_TOKEN": "planted-service-token-42",
    "LANGFUSE_SECRET_KEY": "sk-lf-planted-secret-0000",
}
OBS_TYPE = "langfuse.observation.type"


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as rx:
        yield rx


def env_for(base_url: str, **extra: str) -> dict[str, str]:
    return {**PLANTED, "LANGFUSE_PUBLIC_KEY": "pk-lf-crew-test", "LANGFUSE_BASE_URL": base_url,
            **extra}


async def debate(t: Tracer, rounds: int = 2, debaters: tuple[str, ...] = ("pro", "con")) -> None:
    leak = " ".join(PLANTED.values())
    with t.run(input={"goal": "export csv"}):
        with t.task("threat-model", "debate", list(debaters), title="Threat-model export"):
            for n in range(1, rounds + 1):
                with t.round(n):
                    async def turn(role: str, n: int = n) -> None:
                        with t.agent(role, n):
                            messages = [{"role": "system", "content": f"you are {role}"},
                                        {"role": "user", "content": f"argue; env: {leak}"}]
                            with t.generation("smart", messages, {"temperature": 0.2}) as g:
                                await asyncio.sleep(0.002 if role == debaters[0] else 0)
                                g.end(Completion(f"{role} round {n}",
                                                 (ToolCall("c1", "read_file",
                                                           '{"path": "export.py"}'),),
                                                 alias="smart", model="openai/gpt-4o-mini",
                                                 usage=Usage(100 + n, 20), cost_usd=0.0015))
                            with t.tool("read_file", {"path": "export.py"}) as tool:
                                await asyncio.sleep(0)
                                tool.end(f"contents with {PLANTED['OPENAI_API_KEY']}")
                    await asyncio.gather(*(turn(r) for r in debaters))
            with t.tool("run_command", {"cmd": "pytest -q"}) as tool:
                tool.end(error="exit status 1")
            t.event("guard.stop", "WARNING", {"reason": "repeated message"})
        with t.task("implement", "single", ["coder"]):
            pass


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    return span["attributes"]  # type: ignore[no-any-return]


def meta(span: dict[str, Any], key: str) -> Any:
    """A metadata value (SDK 5 JSON-encodes every value, SDK 4 sends scalars raw)."""
    raw = attrs(span)[f"langfuse.observation.metadata.{key}"]
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


async def test_the_whole_hierarchy_reaches_langfuse(receiver: OTLPReceiver,
                                                    tmp_path: Path) -> None:
    t = Tracer.create("run-e2e-1", "Add CSV export", tmp_path, env=env_for(receiver.base_url),
                      sinks=[])
    await debate(t)
    t.close()
    spans = receiver.spans
    # 1 run + 2 tasks + 2 rounds + 4 agents + 4 generations + 5 tools + 1 event
    assert len(spans) == 19
    assert {s["trace_id"] for s in spans} == {trace_id_for("run-e2e-1")}
    by_id = {s["span_id"]: s for s in spans}

    def parent(s: dict[str, Any]) -> dict[str, Any]:
        return by_id[s["parent_span_id"]]

    (root,) = [s for s in spans if s["parent_span_id"] not in by_id]
    assert attrs(root)[OBS_TYPE] == "chain" and root["name"] == "Add CSV export"
    assert json.loads(attrs(root)["langfuse.observation.input"]) == {"goal": "export csv"}
    tasks = [s for s in spans if attrs(s)[OBS_TYPE] == "chain" and s is not root]
    assert sorted(s["name"] for s in tasks) == ["implement", "threat-model"]
    assert all(s["parent_span_id"] == root["span_id"] for s in tasks)
    threat = next(s for s in tasks if s["name"] == "threat-model")
    assert meta(threat, "pattern") == "debate"
    assert meta(threat, "roles") == ["pro", "con"]

    rounds = {s["name"]: s for s in spans if attrs(s)[OBS_TYPE] == "span"}
    assert set(rounds) == {"round 1", "round 2"}
    agents = [s for s in spans if attrs(s)[OBS_TYPE] == "agent"]
    assert sorted(a["name"] for a in agents) == ["con", "con", "pro", "pro"]
    for a in agents:  # each debater's turn sits under the round it spoke in
        turn = meta(a, "turn")
        assert parent(a)["span_id"] == rounds[f"round {turn}"]["span_id"]
        assert parent(parent(a))["name"] == "threat-model"

    gens = [s for s in spans if attrs(s)[OBS_TYPE] == "generation"]
    assert len(gens) == 4
    for g in gens:
        a = attrs(g)
        assert attrs(parent(g))[OBS_TYPE] == "agent"
        assert a["langfuse.observation.model.name"] == "openai/gpt-4o-mini"
        usage = json.loads(a["langfuse.observation.usage_details"])
        assert usage["output"] == 20 and usage["total"] == usage["input"] + 20
        assert json.loads(a["langfuse.observation.cost_details"]) == {"total": 0.0015}
        assert json.loads(a["langfuse.observation.model.parameters"]) == {"temperature": 0.2}
        out = json.loads(a["langfuse.observation.output"])
        assert out["tool_calls"][0]["function"]["name"] == "read_file"
        assert json.loads(a["langfuse.observation.input"])[0]["role"] == "system"

    tools = [s for s in spans if attrs(s)[OBS_TYPE] == "tool"]
    assert len(tools) == 5
    failed = [s for s in tools if s["name"] == "run_command"]
    assert attrs(failed[0])["langfuse.observation.level"] == "ERROR"
    assert attrs(failed[0])["langfuse.observation.status_message"] == "exit status 1"
    assert failed[0]["status_code"] == 2  # OTel STATUS_CODE_ERROR
    (event,) = [s for s in spans if attrs(s)[OBS_TYPE] == "event"]
    assert event["name"] == "guard.stop" and parent(event)["name"] == "threat-model"
    assert attrs(event)["langfuse.observation.level"] == "WARNING"

    for s in spans:  # trace-level attributes on every observation
        a = attrs(s)
        assert a["session.id"] == "run-e2e-1"
        assert a["langfuse.trace.name"] == "Add CSV export"
        assert list(a["langfuse.trace.tags"]) == ["crew", "add-csv-export"]

    headers = receiver.requests[0]["headers"]
    sdk_major = int(version("langfuse").split(".")[0])
    assert receiver.requests[0]["gzip"] is (sdk_major >= 5)  # SDK 5 gzips, 4.x does not
    assert headers["authorization"].startswith("Basic ")
    if sdk_major >= 5:
        assert headers["x-langfuse-ingestion-version"] == "4"

    raw = b"".join(r["body"] for r in receiver.requests)
    log_text = (tmp_path / EVENTS_FILE).read_text()
    for secret in PLANTED.values():
        assert secret.encode() not in raw
        assert secret not in log_text
    assert "[REDACTED]" in log_text

    events = read_events(tmp_path)
    assert trace_url(events) == f"{receiver.base_url}/trace/{trace_id_for('run-e2e-1')}"
    assert t.trace_url == trace_url(events)


def test_sampling_out_sends_nothing_but_keeps_the_local_log(receiver: OTLPReceiver,
                                                            tmp_path: Path) -> None:
    t = Tracer.create("run-sampled-out", "F", tmp_path, sinks=[],
                      env=env_for(receiver.base_url, LANGFUSE_SAMPLE_RATE="0"))
    with t.run(), t.tool("read_file", {"path": "x"}) as tool:
        tool.end("x")
    t.close()
    assert receiver.spans == []
    assert t.trace_id is None and trace_url(read_events(tmp_path)) is None
    assert [e["type"] for e in read_events(tmp_path)][:2] == ["run.start", "tool.start"]


def test_the_host_global_tracer_provider_is_left_alone(receiver: OTLPReceiver,
                                                       tmp_path: Path) -> None:
    from opentelemetry import trace

    before = trace.get_tracer_provider()
    t = Tracer.create("run-host", "F", tmp_path, env=env_for(receiver.base_url), sinks=[])
    with t.run():
        pass
    t.close()
    assert trace.get_tracer_provider() is before
    assert len(receiver.spans) == 1


def test_consecutive_runs_in_one_process_each_reach_their_host(tmp_path: Path) -> None:
    for i in range(2):
        with OTLPReceiver() as rx:
            t = Tracer.create(f"run-seq-{i}", "F", tmp_path / str(i), sinks=[],
                              env=env_for(rx.base_url))
            with t.run():
                pass
            t.close()
            assert [s["name"] for s in rx.spans] == ["F"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_unreachable_langfuse_costs_at_most_the_deadline(
        kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    silent = SilentPort()
    url = silent.base_url if kind == "silent" else f"http://127.0.0.1:{closed_port()}"
    try:
        with caplog.at_level(logging.DEBUG):
            t = Tracer.create(f"run-dead-{kind}", "F", tmp_path, env=env_for(url), sinks=[])
            with t.run():  # enough spans for several export batches
                for i in range(1200):
                    with t.tool("read_file", {"i": i}) as tool:
                        tool.end("ok")
            start = time.monotonic()
            t.close(deadline_s=2.0)
            elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert elapsed < 4.0, elapsed  # correctness bound (deadline 2 s), generous slack
    export_errors = [r for r in caplog.records
                     if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING]
    if kind == "refused":  # the refusal is logged once, not once per batch
        assert len(export_errors) == 1, [r.getMessage() for r in export_errors]
    else:  # a silent host times out inside the deadline at most once
        assert len(export_errors) <= 1, [r.getMessage() for r in export_errors]
    assert len(read_events(tmp_path)) == 2 + 2 * 1200  # the local log is complete
