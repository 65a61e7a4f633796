"""The agent loop with models that do not call tools natively (issue 13 items 3 and 4): calls
written as text run like native ones, an empty or unreadable reply is nudged once (then the
reply is the final answer), and a tool's infrastructure failure raises out of the loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from crew.agent import EMPTY_NUDGE, Agent, StopReason, TurnRecord
from crew.context import RunContext
from crew.errors import UserError
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM
from crew.tools import OutcomeStatus, ToolContext, tool
from crew.tools.base import ToolBug
from crew.tools.sandbox import SandboxError


def role(**kw: Any) -> RoleSpec:
    base: dict[str, Any] = dict(name="coder", title="Coder", goal="Write code.",
                                instructions="Be brief.", model="smart",
                                tools=["read_file", "write_file"], max_turns=6)
    base.update(kw)
    return RoleSpec(**base)


def hermes(name: str, **args: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': args})}</tool_call>"


async def test_text_calls_run_as_tool_calls(tmp_path: Path) -> None:
    llm = ScriptedLLM([{"content": "Writing.\n" + hermes("write_file", path="a.txt",
                                                           content="x\n")},
                       {"content": "Done."}])
    result = await Agent(role(), llm, workspace=tmp_path,
                         run_context=RunContext()).run("write a.txt")
    assert result.final and result.text == "Done."
    assert (tmp_path / "a.txt").read_text() == "x\n"
    assert [o.status for o in result.tool_calls] == [OutcomeStatus.OK]
    assistant = result.messages[2]
    assert assistant["content"] == "Writing."
    assert assistant["tool_calls"][0]["id"] == "call_1_0"
    assert assistant["tool_calls"][0]["function"]["name"] == "write_file"
    assert result.messages[3] == {"role": "tool", "tool_call_id": "call_1_0",
                                  "content": result.tool_calls[0].output}


async def test_native_calls_win_and_tool_less_agents_never_parse(tmp_path: Path) -> None:
    text = hermes("write_file", path="b.txt", content="no")
    llm = ScriptedLLM([{"content": text, "tool_calls": [
        {"name": "write_file", "arguments": {"path": "a.txt", "content": "yes"}}]},
        {"content": "Done."}])
    result = await Agent(role(), llm, workspace=tmp_path, run_context=RunContext()).run("x")
    assert [json.loads(o.call.arguments)["path"] for o in result.tool_calls] == ["a.txt"]
    assert not (tmp_path / "b.txt").exists()
    plain = await Agent(role(tools=[]), ScriptedLLM([{"content": text}]), tools=[],
                        workspace=tmp_path).run("x")
    assert plain.final and plain.text == text and plain.turns == 1


async def test_an_empty_reply_is_nudged_once(tmp_path: Path) -> None:
    records: list[TurnRecord] = []
    llm = ScriptedLLM([{"content": ""}, {"content": "Nothing to change."}])
    result = await Agent(role(), llm, workspace=tmp_path,
                         run_context=RunContext(), on_turn=records.append).run("x")
    assert result.final and result.text == "Nothing to change." and result.turns == 2
    second = llm.calls[1].messages
    assert second[-1] == {"role": "user", "content": EMPTY_NUDGE}
    assert [m["role"] for m in second] == ["system", "user", "user"]  # no empty assistant
    assert records[0].messages[-1]["content"] == EMPTY_NUDGE  # checkpointed: resume sees it


async def test_a_second_empty_reply_is_the_final_answer(tmp_path: Path) -> None:
    llm = ScriptedLLM([{"content": "Reading.", "tool_calls": [
        {"name": "read_file", "arguments": {"path": "a.txt"}}]},
        {"content": ""}, {"content": "  "}])
    (tmp_path / "a.txt").write_text("A\n")
    result = await Agent(role(), llm, workspace=tmp_path, run_context=RunContext()).run("x")
    assert result.stop_reason is StopReason.FINAL and result.turns == 3
    assert result.detail == "final answer (after a nudge)"
    assert result.text == "Reading."  # the last thing the model said
    assert len(llm.calls) == 3


async def test_an_unreadable_call_is_answered_with_the_problem(tmp_path: Path) -> None:
    llm = ScriptedLLM([{"content": "<tool_call>write a.txt please</tool_call>"},
                       {"content": hermes("write_file", path="a.txt", content="ok")},
                       {"content": "Done."}])
    result = await Agent(role(), llm, workspace=tmp_path, run_context=RunContext()).run("x")
    assert result.final and (tmp_path / "a.txt").read_text() == "ok"
    note = llm.calls[1].messages[-1]
    assert note["role"] == "user" and note["content"].startswith(
        "Your tool call could not be read (could not read the call as JSON")


@tool
async def broken_sandbox(ctx: ToolContext) -> str:
    """Needs a sandbox that cannot start."""
    raise SandboxError("docker could not start the sandbox: no daemon")


@tool
async def crashes(ctx: ToolContext) -> str:
    """Has a bug."""
    return str({}["missing"])


@tool
async def misconfigured(ctx: ToolContext) -> str:
    """A plugin whose settings are wrong."""
    raise UserError("plugin token missing", hint="set PLUGIN_TOKEN")


finished: list[str] = []


@tool
async def slow_ok(ctx: ToolContext) -> str:
    """Takes a moment, then works."""
    await asyncio.sleep(0.05)
    finished.append("slow_ok")
    return "ok"


@pytest.mark.parametrize(("bad", "raised"), [(broken_sandbox, SandboxError), (crashes, ToolBug),
                                             (misconfigured, UserError)])
async def test_infrastructure_failures_end_the_loop(tmp_path: Path, bad: Any,
                                                    raised: type[Exception]) -> None:
    finished.clear()
    llm = ScriptedLLM([{"tool_calls": [{"name": bad.name, "arguments": {}},
                                       {"name": "slow_ok", "arguments": {}}]},
                       {"content": "never asked"}])
    agent = Agent(role(tools=[]), llm, tools=[bad, slow_ok], workspace=tmp_path)
    with pytest.raises(raised):
        await agent.run("x")
    assert len(llm.calls) == 1  # the model is not asked about it
    assert finished == ["slow_ok"]  # the sibling call finished; nothing left running
