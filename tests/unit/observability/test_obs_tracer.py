"""The tracer facade and the local event log: hierarchy, concurrency, errors, fan-out."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from crew.llm.types import Completion, ToolCall, Usage
from crew.observability import Tracer, read_events
from crew.observability.events import EVENTS_FILE
from crew.testing import ListSink

SECRET = "sk-planted-0123456789abcdefghij"



class BrokenSink(ListSink):
    def on_event(self, event: dict[str, Any]) -> None:
        raise OSError("disk full")


def make(tmp_path: Path, **kw: Any) -> Tracer:
    env = {"CREW_TEST_API_KEY": SECRET}
    return Tracer.create("run-1", "Add CSV export", tmp_path, env=env, sinks=[], **kw)


async def debate(t: Tracer, rounds: int = 2) -> None:
    with t.run(input={"goal": "export csv"}), t.task("threat-model", "debate", ["a", "b"]):
        for n in range(1, rounds + 1):
            with t.round(n):
                async def turn(role: str, n: int = n) -> None:
                    with t.agent(role, n):
                        with t.generation("smart", [{"role": "user", "content": SECRET}],
                                          {"temperature": 0}) as g:
                            await asyncio.sleep(0.001 if role == "a" else 0)
                            g.end(Completion(f"{role} says {n}",
                                             (ToolCall("c1", "read_file", "{}"),),
                                             alias="smart", model="openai/gpt-4o",
                                             usage=Usage(10, 4), cost_usd=0.002))
                        with t.tool("read_file", {"path": "x.py"}) as tool:
                            await asyncio.sleep(0)
                            tool.end("print('hi')")
                await asyncio.gather(turn("a"), turn("b"))


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in events if e["type"].endswith(".start")}


async def test_event_log_has_the_hierarchy_with_concurrent_agents(tmp_path: Path) -> None:
    t = make(tmp_path)
    await debate(t)
    t.close()
    events = read_events(tmp_path)
    starts = by_id(events)
    assert all({"id", "parent_id", "type", "name", "ts", "payload"} <= e.keys() for e in events)
    # every start has exactly one end, with the same id
    ends = [e["id"] for e in events if e["type"].endswith(".end")]
    assert sorted(ends) == sorted(starts)
    rounds = {e["payload"]["round"]: e["id"] for e in starts.values() if e["type"] == "round.start"}
    agents = [e for e in starts.values() if e["type"] == "agent.start"]
    assert len(agents) == 4
    for a in agents:  # each debater nests under the round it spoke in
        assert a["parent_id"] == rounds[a["payload"]["turn"]]
    for e in starts.values():
        if e["type"] in ("generation.start", "tool.start"):
            assert starts[e["parent_id"]]["type"] == "agent.start"
    task = next(e for e in starts.values() if e["type"] == "task.start")
    assert task["payload"]["pattern"] == "debate" and task["payload"]["roles"] == ["a", "b"]
    assert starts[task["parent_id"]]["type"] == "run.start"
    gen_end = next(e for e in events if e["type"] == "generation.end")
    assert gen_end["payload"]["usage"] == {"input": 10, "output": 4, "total": 14}
    assert gen_end["payload"]["cost_usd"] == 0.002
    assert gen_end["payload"]["model"] == "openai/gpt-4o"
    assert gen_end["payload"]["output"]["tool_calls"][0]["function"]["name"] == "read_file"
    assert SECRET not in (tmp_path / EVENTS_FILE).read_text()


async def test_exceptions_end_observations_with_level_error_and_propagate(tmp_path: Path) -> None:
    t = make(tmp_path)
    with pytest.raises(RuntimeError), t.run(), t.tool("run_command", {"cmd": "false"}):
        raise RuntimeError("exit 1")
    with t.tool("read_file", {"path": "nope"}) as tool:
        tool.end(error="no such file")
    t.close()
    ends = [e for e in read_events(tmp_path) if e["type"] == "tool.end"]
    assert ends[0]["payload"] == {"error": "RuntimeError: exit 1", "level": "ERROR"}
    assert ends[1]["payload"] == {"error": "no such file", "level": "ERROR"}
    run_end = next(e for e in read_events(tmp_path) if e["type"] == "run.end")
    assert run_end["payload"]["level"] == "ERROR"


def test_tool_output_is_truncated(tmp_path: Path) -> None:
    t = make(tmp_path, max_output_chars=100)
    with t.tool("read_file", {"path": "big"}) as tool:
        tool.end("x" * 1000)
    t.close()
    out = next(e for e in read_events(tmp_path) if e["type"] == "tool.end")["payload"]["output"]
    assert out.startswith("x" * 100) and out.endswith("[truncated 900 chars]")


def test_point_events_attach_to_the_current_observation(tmp_path: Path) -> None:
    t = make(tmp_path)
    with t.run(), t.task("t1") as task:
        t.event("budget.warning", "WARNING", {"spent_usd": 2.5, "limit_usd": 3.0})
    t.event("gate.result", payload={"gate": "pytest -q", "passed": True})
    t.close()
    evs = [e for e in read_events(tmp_path) if e["type"] == "event"]
    assert evs[0]["parent_id"] == task.id
    assert evs[0]["payload"] == {"spent_usd": 2.5, "limit_usd": 3.0, "level": "WARNING"}
    assert evs[1]["parent_id"] is None and evs[1]["payload"]["passed"] is True


def test_log_is_line_buffered_while_the_run_is_open(tmp_path: Path) -> None:
    t = make(tmp_path)
    with t.run(), t.agent("coder", 1):
        lines = (tmp_path / EVENTS_FILE).read_text().splitlines()
        assert [json.loads(x)["type"] for x in lines] == ["run.start", "agent.start"]
    t.close()


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    t = make(tmp_path)
    with t.run():
        pass
    t.close()
    with (tmp_path / EVENTS_FILE).open("a") as f:
        f.write('{"id": "x", "type": "tool.st')  # the process died mid-write
    assert [e["type"] for e in read_events(tmp_path)] == ["run.start", "run.end"]


def test_null_tracer_and_tracer_without_run_dir_write_nothing(tmp_path: Path) -> None:
    null = Tracer.null()
    assert not null.enabled
    with null.run(), null.generation("smart", []) as g:
        g.end("ok")
    null.close()
    t = Tracer.create("run-2", "F", None, env={}, sinks=[])
    assert not t.enabled and t.trace_id is None
    with t.run():
        pass
    t.close()
    assert list(tmp_path.iterdir()) == []


def test_a_failing_sink_never_fails_the_run_and_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = ListSink()
    t = make(tmp_path, extra_sinks=[BrokenSink(), good])
    with caplog.at_level(logging.WARNING, logger="crew.observability"), t.run():
        for i in range(5):
            t.event("tick", payload={"i": i})
    t.close()
    assert len(good.events) == 7 and good.closed
    assert len([r for r in caplog.records if "BrokenSink" in r.getMessage()]) == 1
    assert len(read_events(tmp_path)) == 7


def test_all_sinks_receive_the_same_redacted_event(tmp_path: Path) -> None:
    a, b = ListSink(), ListSink()
    t = make(tmp_path, extra_sinks=[a, b], secrets=["my-literal-secret-value"])
    with t.run(), t.agent("coder", 1, input=f"{SECRET} my-literal-secret-value"):
        pass
    t.close()
    assert a.events == b.events == read_events(tmp_path)
    assert "my-literal" not in json.dumps(a.events) and SECRET not in json.dumps(a.events)


def test_langfuse_is_off_without_config_or_when_disabled(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    full = {"LANGFUSE_PUBLIC_KEY": "pk-lf-x", "LANGFUSE_SECRET_KEY": "sk-lf-secret-x",
            "LANGFUSE_BASE_URL": "http://127.0.0.1:9"}
    off = Tracer.create("r", "F", tmp_path, env={**full, "LANGFUSE_TRACING_ENABLED": "false"},
                        sinks=[])
    assert off.trace_id is None
    off.close()
    cli_off = Tracer.create("r", "F", tmp_path, env=full, enabled=False, sinks=[])
    assert cli_off.trace_id is None
    cli_off.close()
    with caplog.at_level(logging.WARNING, logger="crew.observability"):
        partial = Tracer.create("r", "F", tmp_path, env={"LANGFUSE_PUBLIC_KEY": "pk-lf-x"},
                                sinks=[])
    assert partial.trace_id is None
    assert any("LANGFUSE_BASE_URL" in r.getMessage() for r in caplog.records)
    partial.close()


async def test_concurrent_tasks_keep_their_own_rounds_and_agents(tmp_path: Path) -> None:
    t = make(tmp_path)

    async def task(task_id: str) -> None:
        with t.task(task_id, "debate", ["x", "y"]):
            for n in (1, 2):
                with t.round(n):
                    async def turn(role: str, n: int = n) -> None:
                        with t.agent(f"{task_id}-{role}", n):
                            await asyncio.sleep(0)
                    await asyncio.gather(turn("x"), turn("y"))

    with t.run():
        await asyncio.gather(task("A"), task("B"))
    t.close()
    starts = by_id(read_events(tmp_path))
    agents = [e for e in starts.values() if e["type"] == "agent.start"]
    assert len(agents) == 8
    for a in agents:
        rnd = starts[a["parent_id"]]
        assert rnd["type"] == "round.start" and rnd["payload"]["round"] == a["payload"]["turn"]
        assert starts[rnd["parent_id"]]["name"] == a["name"].split("-")[0]


async def test_cancelled_work_is_a_warning_not_an_error(tmp_path: Path) -> None:
    t = make(tmp_path)

    async def slow() -> None:
        with t.agent("reviewer", 1):
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    t.close()
    end = next(e for e in read_events(tmp_path) if e["type"] == "agent.end")
    assert end["payload"] == {"error": "CancelledError", "level": "WARNING"}


def test_a_corrupt_line_in_the_middle_is_a_user_error(tmp_path: Path) -> None:
    from crew.errors import UserError

    (tmp_path / EVENTS_FILE).write_text('{"id": "1"}\nnot json\n{"id": "2"}\n')
    with pytest.raises(UserError, match="corrupt event log line") as info:
        read_events(tmp_path)
    assert info.value.problems[0].line == 2
    with pytest.raises(UserError, match="no event log"):
        read_events(tmp_path / "missing")
