"""Each layer reports to the tracer it was handed (crew.context.RunContext): the agent loop
(turns, guard stops), the tool registry (calls, failures) and the patterns (rounds, concurrent
members, structured calls); the model facade (generations, errors, budget warnings) reports to
the tracer whose observation is open around the call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from crew.agent import Agent
from crew.context import RunContext
from crew.errors import ProviderError
from crew.llm import Budget, Limits
from crew.llm.types import CallContext, Completion
from crew.observability import Tracer, current_tracer, use_tracer
from crew.observability.transcript import Node, build_tree
from crew.patterns.base import TaskInfo
from crew.patterns.committee import Committee
from crew.patterns.setup import pattern_context
from crew.spec.models import RoleSpec
from crew.testing import ListSink, ScriptedLLM

CODER = RoleSpec(name="coder", title="Coder", goal="Write code.", instructions="Be careful.",
                 model="smart", tools=["read_file"], max_turns=6)



def traced() -> tuple[Tracer, ListSink]:
    sink = ListSink()
    return Tracer.create("run-w", "Wiring", env={}, sinks=[], extra_sinks=[sink]), sink


def walk(nodes: list[Node]) -> list[Node]:
    return [x for n in nodes for x in (n, *walk(n.children))]


def test_current_tracer_is_null_outside_a_run_and_follows_tasks() -> None:
    assert current_tracer() is current_tracer() and not current_tracer().enabled
    tracer, _ = traced()

    async def inner() -> Tracer:
        await asyncio.sleep(0)
        return current_tracer()

    async def main() -> list[Tracer]:
        with use_tracer(tracer):
            return list(await asyncio.gather(inner(), inner()))

    assert asyncio.run(main()) == [tracer, tracer]
    assert current_tracer() is not tracer  # restored
    with tracer.run():  # an open observation makes its tracer the model layer's
        assert current_tracer() is tracer
    assert current_tracer() is not tracer


async def test_agent_turns_tools_and_a_guard_stop(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    read = {"name": "read_file", "arguments": {"path": "a.py"}}
    llm = ScriptedLLM([
        {"role": "coder", "tool_calls": [{"name": "read_file",
                                          "arguments": {"path": "missing.py"}}]},
        {"role": "coder", "tool_calls": [read], "repeat": True},  # loops until the guard
    ])
    tracer, sink = traced()
    with tracer.run():
        res = await Agent(CODER, llm, workspace=tmp_path,
                          run_context=RunContext(tracer=tracer)).run(
            "Read it.", context=CallContext(task_id="t9", purpose="work:s1"))
    assert res.stop_reason == "repeated_tool_call"
    (run,) = build_tree(sink.events)
    turns = run.children
    assert [t.kind for t in turns] == ["agent"] * res.turns
    assert [t.start["turn"] for t in turns] == list(range(1, res.turns + 1))
    assert turns[0].start["purpose"] == "work:s1" and turns[0].start["task_id"] == "t9"
    # turn 1 gets the system prompt and the task; turn 2 only the tool result since
    assert [m["role"] for m in turns[0].start["input"]] == ["system", "user"]
    assert [m["role"] for m in turns[1].start["input"]] == ["tool"]
    assert turns[0].end is not None
    assert turns[0].end["output"]["tool_calls"][0]["function"]["name"] == "read_file"
    for t in turns:
        assert t.children[0].kind == "generation" and t.children[0].end is not None
        assert t.children[0].end["model"] == "scripted/smart"
    failed = turns[0].children[1]
    assert failed.kind == "tool" and failed.level == "ERROR" and failed.error
    ok = turns[1].children[1]
    assert ok.kind == "tool" and ok.level == "DEFAULT" and "x = 1" in ok.end["output"]  # type: ignore[index]
    last = turns[-1]
    assert last.end is not None and last.end["stop_reason"] == "repeated_tool_call"
    (guard,) = [c for c in last.children if c.kind == "event"]
    assert guard.name == "guard_stop" and guard.level == "WARNING"
    assert guard.start["reason"] == "repeated_tool_call"
    # the not-run calls of the stopped turn never reached the registry
    assert sum(1 for n in walk([run]) if n.kind == "tool") == res.turns - 1


async def test_a_failed_model_call_and_a_budget_warning() -> None:
    budget = Budget(Limits(tokens=100))
    llm = ScriptedLLM([{"role": "coder", "content": "ok",
                        "usage": {"prompt_tokens": 70, "completion_tokens": 15}},
                       {"role": "coder", "error": "server"}], budget=budget,
                      max_output=1)  # the worst case each call reserves
    tracer, sink = traced()
    ctx = CallContext(role="coder")
    with use_tracer(tracer), tracer.run():
        await llm.complete("smart", [{"role": "user", "content": "hi"}], context=ctx)
        with pytest.raises(ProviderError):
            await llm.complete("smart", [{"role": "user", "content": "again"}], context=ctx)
    (run,) = build_tree(sink.events)
    first, warning, failed = run.children
    assert first.kind == "generation" and first.end == {
        "output": {"role": "assistant", "content": "ok"}, "usage": {
            "input": 70, "output": 15, "total": 85}, "cost_usd": 0.0, "model": "scripted/smart",
        "latency_s": 0.0, "finish_reason": "stop"}
    assert warning.kind == "event" and warning.name == "budget_warning"
    assert warning.level == "WARNING" and warning.start["spent"] == 85
    assert failed.kind == "generation" and failed.level == "ERROR"
    assert "ProviderError" in (failed.error or "")


async def test_committee_members_nest_under_their_rounds() -> None:
    roles = {n: CODER.model_copy(update={"name": n, "tools": []}) for n in ("a", "b", "c")}
    answers: list[str | dict[str, Any] | Completion] = [
        {"role": n, "purpose": "ballot", "content": f'{{"answer": "{n}"}}'}
        for n in ("a", "b", "c")]
    answers += [{"role": n, "purpose": "vote", "content": '{"order": [2, 1, 3]}'}
                for n in ("a", "b", "c")]
    llm = ScriptedLLM(answers)
    task = TaskInfo(id="pick", title="Pick", roles=("a", "b", "c"),
                    params={"aggregation": "ranking"})
    tracer, sink = traced()
    ctx = pattern_context(task, roles, llm, run_id="run-w", run_context=RunContext(tracer=tracer))
    with tracer.task("pick", "committee", task.roles):
        result = await Committee().run(ctx)
    assert result.decision == "b"
    (task_node,) = build_tree(sink.events)
    round1, round2 = task_node.children
    assert round1.kind == "round" and round1.start["round"] == 1
    members = round1.children
    assert sorted(m.name for m in members) == ["a", "b", "c"]
    for m in members:
        assert m.kind == "agent" and m.start["purpose"] == "ballot"
        assert m.end is not None and m.end["output"]["answer"] == m.name
        assert [c.kind for c in m.children] == ["generation"]
    assert round2.kind == "round" and round2.start == {"round": 2, "phase": "vote"}
    assert sorted(v.name for v in round2.children) == ["a", "b", "c"]
    assert {v.start["purpose"] for v in round2.children} == {"vote"}
