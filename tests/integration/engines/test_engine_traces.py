"""Issue #8 acceptance, traces: a debate on the autogen engine and a review loop on the crewai
engine, each inside a run and a task of a real Tracer whose Langfuse sink exports OTLP to a
local receiver. Every generation reaches it under the task chain (through its agent turn),
one per ledger entry, with the usage of that entry and the session id on every observation,
though AutoGen and CrewAI call the model from their own runtime tasks and threads."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import MakeLLM, ctx_for, say, template

from crew.llm import LLM
from crew.observability import LangfuseSettings, Tracer, trace_id_for
from crew.patterns import default_registry
from crew.patterns.base import Outcome, PatternContext, PatternResult
from crew.testing.otlp_receiver import OTLPReceiver
from crew.workspace.worktrees import Workspace

pytestmark = pytest.mark.slow  # engine turns take seconds

OBS_TYPE = "langfuse.observation.type"
READ = {"name": "read_file", "arguments": {"path": "app.py"}}

Span = dict[str, Any]


def needs(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"{module} (an optional extra) is not installed")


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as rx:
        yield rx


async def traced(rx: OTLPReceiver, tmp_path: Path, engine: str, kind: str,
                 ctx: PatternContext) -> PatternResult:
    """Run the task as a run does: the tracer in its RunContext, the run's root chain, the
    task's chain."""
    tracer = Tracer.create("r1", "Engines", tmp_path / "run", sinks=[], env={},
                           langfuse=LangfuseSettings("pk-lf-engines", "sk-lf-engines-secret",
                                                     base_url=rx.base_url))
    ctx.run_context = replace(ctx.run_context, tracer=tracer)
    with tracer.run(), tracer.task(ctx.task.id, kind, ctx.task.roles) as obs:
        res = await default_registry().run(template(kind, engine=engine), ctx)
        obs.end(res.summary, status=str(res.outcome))
    tracer.close()
    return res


def attrs(span: Span) -> dict[str, Any]:
    return span["attributes"]  # type: ignore[no-any-return]


def kind_of(span: Span) -> str:
    return str(attrs(span).get(OBS_TYPE))


class Trace:
    """The received spans, with parent links."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans
        self.by_id = {s["span_id"]: s for s in spans}

    def parent(self, s: Span) -> Span | None:
        return self.by_id.get(s["parent_span_id"] or "")

    def ancestors(self, s: Span) -> list[Span]:
        out, p = [], self.parent(s)
        while p is not None:
            out.append(p)
            p = self.parent(p)
        return out

    def of(self, kind: str) -> list[Span]:
        return [s for s in self.spans if kind_of(s) == kind]


def check_task_trace(rx: OTLPReceiver, llm: LLM, task_id: str) -> Trace:
    """What both engines must show: one trace, the task chain under the root, every generation
    under an agent turn under the task, one per ledger entry, session id everywhere."""
    t = Trace(rx.spans)
    assert {s["trace_id"] for s in t.spans} == {trace_id_for("r1")}
    assert {attrs(s).get("session.id") for s in t.spans} == {"r1"}
    (root,) = [s for s in t.spans if t.parent(s) is None]
    assert root["name"] == "Engines" and kind_of(root) == "chain"
    (task,) = [s for s in t.of("chain") if s is not root]
    assert task["name"] == task_id and t.parent(task) is root

    gens = t.of("generation")
    entries = llm.ledger.entries
    assert len(gens) == len(entries) > 0
    for g in gens:
        chain = t.ancestors(g)
        assert kind_of(chain[0]) == "agent" and task in chain, [a["name"] for a in chain]
        assert attrs(g)["langfuse.observation.model.name"] == "replay/demo"
    usage = Counter((g["name"], json.loads(attrs(g)["langfuse.observation.usage_details"])["input"],
                     json.loads(attrs(g)["langfuse.observation.usage_details"])["output"])
                    for g in gens)
    assert usage == Counter((e.alias, e.prompt_tokens, e.completion_tokens) for e in entries)

    for tool in t.of("tool"):
        assert task in t.ancestors(tool)
    return t


async def autogen_debate(make_llm: MakeLLM, workspace: Workspace, rx: OTLPReceiver,
                         tmp_path: Path) -> Trace:
    llm = make_llm([
        {"role": "coder", "tool_calls": [READ]},
        say("coder", "VALUE is 1; queue writes.\nPOSITION: queue", purpose="debate", turn=1),
        say("tester", "Lock the file.\nPOSITION: lock", purpose="debate", turn=1),
        say("coder", "Still a queue.\nPOSITION: queue", purpose="debate", turn=2),
        say("tester", "Still a lock.\nPOSITION: lock", purpose="debate", turn=2),
        say("reviewer", {"decision": "use a file lock", "rationale": "simplest"},
            purpose="judge"),
    ])
    ctx = ctx_for(llm, ["coder", "tester"], {"rounds": 2}, workspace=workspace)
    res = await traced(rx, tmp_path, "autogen", "debate", ctx)
    assert res.outcome is Outcome.DONE and res.decision == "use a file lock"
    assert all(not left for left in llm.replay_unserved().values())
    return check_task_trace(rx, llm, "t1")


@needs("autogen_agentchat")
async def test_autogen_debate_generations_land_under_the_task(
        make_llm: MakeLLM, workspace: Workspace, receiver: OTLPReceiver,
        tmp_path: Path) -> None:
    t = await autogen_debate(make_llm, workspace, receiver, tmp_path)
    assert len(t.of("generation")) == 6
    # the debaters' turns under their rounds, the judge's under the task
    rounds = {r["name"]: r for r in t.of("span")}
    assert sorted(rounds) == ["round 1", "round 2"]
    for r in rounds.values():
        under = {a["name"] for a in t.of("agent") if t.parent(a) is r}
        assert under == {"coder", "tester"}
    judges = [a for a in t.of("agent") if kind_of(t.parent(a) or {}) == "chain"]
    assert [a["name"] for a in judges] == ["reviewer"]
    (tool,) = t.of("tool")
    assert tool["name"] == "read_file"
    assert "VALUE = 1" in attrs(tool)["langfuse.observation.output"]
    assert rounds["round 1"] in t.ancestors(tool)  # the agent level: see the xfail below


@needs("autogen_agentchat")
@pytest.mark.xfail(strict=True, reason="autogen engine: a tool call runs in AutoGen's workbench "
                   "after the agent observation (opened around the model call only) has ended, "
                   "so it lands under the round, not under the coder's turn as on native/crewai")
async def test_autogen_tool_call_nests_under_its_agent_turn(
        make_llm: MakeLLM, workspace: Workspace, receiver: OTLPReceiver,
        tmp_path: Path) -> None:
    t = await autogen_debate(make_llm, workspace, receiver, tmp_path)
    (tool,) = t.of("tool")
    parent = t.parent(tool) or {}
    assert kind_of(parent) == "agent" and parent["name"] == "coder"


@needs("crewai")
async def test_crewai_review_loop_generations_land_under_the_task(
        make_llm: MakeLLM, workspace: Workspace, receiver: OTLPReceiver,
        tmp_path: Path) -> None:
    verdict = {"approved": True, "summary": "fine", "changes": []}
    llm = make_llm([
        {"role": "coder", "tool_calls": [READ]},
        say("coder", "VALUE is 1, as asked."),
        say("reviewer", verdict, purpose="review"),
    ])
    ctx = ctx_for(llm, ["coder", "reviewer"], workspace=workspace)
    res = await traced(receiver, tmp_path, "crewai", "review_loop", ctx)
    assert res.outcome is Outcome.DONE and res.stopped_by == "approved"
    assert all(not left for left in llm.replay_unserved().values())

    t = check_task_trace(receiver, llm, "t1")
    assert len(t.of("generation")) == 3
    (round1,) = t.of("span")
    assert round1["name"] == "round 1"
    assert Counter(a["name"] for a in t.of("agent") if t.parent(a) is round1) == Counter(
        {"coder": 2, "reviewer": 1})  # the coder's tool turn, its answer, the review
    (tool,) = t.of("tool")
    assert tool["name"] == "read_file" and (t.parent(tool) or {}).get("name") == "coder"
