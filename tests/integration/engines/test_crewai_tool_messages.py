"""The crewai engine on the wire (crew.testing's stub server through crew's real LiteLLM
Router): tools go as function specs, a tool's result comes back to the model as a `role: tool`
message answering the assistant's tool call (never as ReAct text), and CrewAI's own console
output (raw ANSI colour codes) never reaches crew's stdout or stderr."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from engine_helpers import template

from crew.llm import LLM
from crew.llm.structured import schema_instruction
from crew.patterns import default_registry
from crew.patterns.base import Outcome, TaskInfo
from crew.patterns.committee import Ballot
from crew.patterns.setup import pattern_context
from crew.spec.models import ModelsConfig, RoleSpec
from crew.testing import StubReply, StubServer
from crew.workspace.worktrees import Workspace

pytestmark = pytest.mark.skipif(importlib.util.find_spec("crewai") is None,
                                reason="the crewai extra is not installed")

ROLES = {n: RoleSpec(name=n, title=n.title(), goal=f"Do {n} work.", instructions=f"Careful {n}.",
                     model=n, max_turns=4, tools=["read_file", "write_file"])
         for n in ("coder", "reviewer")}
VERDICT = json.dumps({"approved": True, "summary": "fine", "changes": []})


def _llm(stub: StubServer) -> LLM:
    deps = [{"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": stub.url,
                                                 "api_key": "sk-stub"}} for n in ROLES]
    return LLM(ModelsConfig.model_validate({"model_list": deps,
                                            "router_settings": {"num_retries": 0}}))


async def _review(stub: StubServer, workspace: Workspace) -> Any:
    task = TaskInfo(id="t1", title="Set VALUE to 2", description="In app.py.",
                    roles=("coder", "reviewer"))
    ctx = pattern_context(task, ROLES, _llm(stub), run_id="r1", workspace=workspace)
    return await default_registry().run(template("review_loop", engine="crewai"), ctx)


async def test_a_tool_result_reaches_the_model_as_a_tool_message(
        workspace: Workspace, capfd: pytest.CaptureFixture[str]) -> None:
    with StubServer() as stub:
        stub.enqueue(StubReply.tool_call(("read_file", {"path": "app.py"})),
                     StubReply.tool_call(("write_file", {"path": "app.py",
                                                         "content": "VALUE = 2\n"})),
                     StubReply.text("Set VALUE to 2."), model="coder")
        stub.enqueue(StubReply.text(VERDICT), model="reviewer")
        res = await _review(stub, workspace)
        coder = [r.body for r in stub.requests_for("coder")]
    assert res.outcome is Outcome.DONE, res.summary
    assert (workspace.path / "app.py").read_text() == "VALUE = 2\n"
    assert len(coder) == 3
    # tools are function specs (crew's own, compact), not a tool list in the prompt
    assert [t["function"]["name"] for t in coder[0]["tools"]] == ["read_file", "write_file"]
    msgs = coder[2]["messages"]
    calls = [m for m in msgs if m["role"] == "assistant"]
    results = [m for m in msgs if m["role"] == "tool"]
    assert [c["tool_calls"][0]["function"]["name"] for c in calls] == ["read_file", "write_file"]
    assert [r["tool_call_id"] for r in results] == [c["tool_calls"][0]["id"] for c in calls]
    assert results[0]["content"] == "1\tVALUE = 1"  # read_file's own output, nothing added
    assert results[1]["content"].startswith("overwrote app.py")
    # each result right after the call it answers; no ReAct text anywhere in the prompt
    roles = [m["role"] for m in msgs]
    assert roles[-4:] == ["assistant", "tool", "assistant", "tool"]
    wire = json.dumps(coder)
    for react in ("Action Input:", "Observation:", "Final Answer", "Thought:"):
        assert react not in wire
    out, err = capfd.readouterr()
    assert "\x1b[" not in out + err


async def test_crewai_console_output_never_reaches_crew(
        workspace: Workspace, capfd: pytest.CaptureFixture[str]) -> None:
    """A coder that never stops calling tools: CrewAI reaches max_iter and prints its
    'Maximum iterations reached' notice in colour — silenced; crew's guard ends the task."""
    with StubServer() as stub:
        stub.always(StubReply.tool_call(("read_file", {"path": "app.py"})), model="coder")
        res = await _review(stub, workspace)
        last = stub.requests_for("coder")[-1].body["messages"]
    assert res.outcome is Outcome.GUARD and "max_turns" in res.summary
    assert "tools" not in stub.requests_for("coder")[-1].body  # the forced final answer
    assert last[-1]["role"] == "user" and "final answer" in last[-1]["content"].lower()
    assert all(m["role"] != "assistant" or "Observation:" not in str(m.get("content"))
               for m in last)
    out, err = capfd.readouterr()
    assert "\x1b[" not in out + err
    assert "Maximum iterations" not in out + err


async def test_a_structured_turn_asks_with_the_compact_field_list() -> None:
    """A committee ballot on CrewAI asks for JSON the way crew's own calls do: the compact
    field list of crew.llm.structured, not a JSON Schema dump."""
    with StubServer() as stub:
        for role in ROLES:
            stub.enqueue(StubReply.text(json.dumps({"answer": "yes", "rationale": "fine"})),
                         model=role)
        task = TaskInfo(id="t1", title="Ship it?", description="Yes or no.",
                        roles=("coder", "reviewer"), params={"apply": False})
        ctx = pattern_context(task, ROLES, _llm(stub), run_id="r1")
        res = await default_registry().run(template("committee", engine="crewai"), ctx)
        sent = "\n".join(str(m.get("content")) for m in
                          stub.requests_for("coder")[0].body["messages"])
    assert res.outcome is Outcome.DONE and res.decision == "yes", res.summary
    assert schema_instruction(Ballot) in sent
    assert "properties" not in sent and "JSON Schema" not in sent
