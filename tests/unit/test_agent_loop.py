"""The agent turn loop driven by crew.testing.ScriptedLLM: final answers, concurrent tool calls,
guards, max_turns, lean context, the per-turn callback and resuming from a message list."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from crew.agent import (
    FRAMEWORK_NOTE,
    Agent,
    ContextLimits,
    Guards,
    StopReason,
    TurnRecord,
    system_prompt,
)
from crew.context import RunContext
from crew.errors import UserError
from crew.llm.types import CallContext, ChatModel, Message, estimate_tokens
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM
from crew.tools import OutcomeStatus, ToolRegistry, tool


def role(**kw: Any) -> RoleSpec:
    base: dict[str, Any] = dict(
        name="coder", title="Coder", goal="Write working code.",
        instructions="Make the smallest change that works.", model="smart",
        tools=["read_file", "write_file", "list_files"], max_turns=10, temperature=0.1,
    )
    base.update(kw)
    return RoleSpec(**base)


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "arguments": args}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.py").write_text("B = 2\n")
    return tmp_path


def assert_well_formed(messages: list[Message]) -> None:
    """Every tool call is answered by exactly one tool message, right after it."""
    pending: list[str] = []
    for m in messages:
        if m["role"] == "tool":
            assert m["tool_call_id"] in pending
            pending.remove(m["tool_call_id"])
        else:
            assert not pending, f"unanswered tool calls {pending}"
            pending = [c["id"] for c in m.get("tool_calls") or []]
    assert not pending


async def test_tool_use_then_final_answer(ws: Path) -> None:
    llm = ScriptedLLM([
        {"content": "Reading.", "tool_calls": [call("read_file", path="a.py")]},
        {"content": "A is 1. Done."},
    ])
    assert isinstance(llm, ChatModel)
    agent = Agent(role(), llm, workspace=ws, run_context=RunContext())
    result = await agent.run("What is A?", repo_context="## Repo\nTwo modules.",
                             context=CallContext(run_id="r1", task_id="t1"))
    assert result.final and result.stop_reason is StopReason.FINAL
    assert result.text == "A is 1. Done." and result.turns == 2
    assert [o.output for o in result.tool_calls] == ["1\tA = 1"]
    system, user = result.messages[0], result.messages[1]
    assert system["role"] == "system" and system["content"].startswith("Coder: ")
    assert "Make the smallest change that works." in system["content"]
    assert system["content"].endswith(FRAMEWORK_NOTE)
    assert user["content"] == "## Repo\nTwo modules.\n\n## Task\nWhat is A?"  # stable first
    assert [m["role"] for m in result.messages] == ["system", "user", "assistant", "tool",
                                                    "assistant"]
    # append-only: each prompt extends the previous one, so provider caches keep hitting
    first, second = llm.calls[0].messages, llm.calls[1].messages
    assert second[: len(first)] == first
    assert [t["function"]["name"] for t in llm.calls[0].tools or []] == role().tools
    assert [c.context.turn for c in llm.calls] == [1, 2]
    assert {(c.context.role, c.context.run_id, c.alias) for c in llm.calls} == {("coder", "r1",
                                                                                  "smart")}
    assert llm.calls[0].params == {"temperature": 0.1}
    assert result.usage.total_tokens > 0
    llm.assert_complete()


async def test_parallel_tool_calls_run_concurrently(ws: Path) -> None:
    started: list[str] = []
    both = asyncio.Event()

    @tool
    async def rendezvous(who: str) -> str:
        """Wait until the other call has started too."""
        started.append(who)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)  # a sequential loop would never get here
        return f"{who} met the other"

    llm = ScriptedLLM([
        {"tool_calls": [call("rendezvous", who="x"), call("rendezvous", who="y")]},
        {"content": "ok"},
    ])
    result = await Agent(role(tools=[]), llm, tools=[rendezvous], workspace=ws).run("meet")
    assert [o.output for o in result.tool_calls] == ["x met the other", "y met the other"]
    tool_msgs = [m for m in result.messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs] == ["x met the other", "y met the other"]
    assert_well_formed(result.messages)


async def test_repeated_tool_call_guard(ws: Path) -> None:
    llm = ScriptedLLM([{"tool_calls": [call("read_file", path="a.py")], "repeat": True}])
    result = await Agent(role(), llm, workspace=ws,
                         run_context=RunContext(), guards=Guards(repeated_tool_call=3)).run("x")
    assert result.stop_reason is StopReason.REPEATED_TOOL_CALL
    assert "read_file called with the same arguments 3 times" in result.detail
    assert result.turns == 3 and len(result.tool_calls) == 2  # the third was not run
    assert "Not run: the agent was stopped" in result.messages[-1]["content"]
    assert_well_formed(result.messages)


async def test_repeated_message_guard(ws: Path) -> None:
    same = {"content": "Let me look again.",
            "tool_calls": [call("read_file", path="a.py"), call("read_file", path="b.py")],
            "repeat": True}
    llm = ScriptedLLM([same])
    result = await Agent(role(), llm, workspace=ws, run_context=RunContext()).run("x")
    assert result.stop_reason is StopReason.REPEATED_MESSAGE
    assert result.turns == 3 and result.text == "Let me look again."
    assert_well_formed(result.messages)


async def test_no_progress_guard(ws: Path) -> None:
    a = {"tool_calls": [call("read_file", path="a.py")]}
    b = {"tool_calls": [call("read_file", path="b.py")]}
    llm = ScriptedLLM([a, b] * 6)
    result = await Agent(role(), llm, workspace=ws,
                         run_context=RunContext(), guards=Guards(no_progress=3)).run("x")
    assert result.stop_reason is StopReason.NO_PROGRESS
    assert result.detail == "no new tool result in 3 turns"
    assert result.turns == 5  # turns 3, 4 and 5 only repeated known results


async def test_max_turns(ws: Path) -> None:
    llm = ScriptedLLM([{"tool_calls": [call("write_file", path=f"f{i}.txt", content=str(i))]}
                       for i in range(10)])
    result = await Agent(role(max_turns=4), llm, workspace=ws, run_context=RunContext()).run("x")
    assert result.stop_reason is StopReason.MAX_TURNS and result.turns == 4
    assert sorted(p.name for p in ws.glob("f*.txt")) == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]
    assert_well_formed(result.messages)


async def test_bad_calls_are_fed_back_not_raised(ws: Path) -> None:
    llm = ScriptedLLM([
        {"tool_calls": [call("read_file", paht="a.py"), call("delete_everything"),
                        call("read_file", path="../../etc/passwd")]},
        {"content": "I will stop."},
    ])
    reg = ToolRegistry().select(["read_file"])
    reg.before_call(lambda c, ctx: None)
    result = await Agent(role(), llm, tools=reg, workspace=ws).run("x")
    assert result.final
    statuses = [o.status for o in result.tool_calls]
    assert statuses == [OutcomeStatus.INVALID_ARGS, OutcomeStatus.UNKNOWN_TOOL,
                        OutcomeStatus.ERROR]
    fed = [m["content"] for m in llm.calls[1].messages if m["role"] == "tool"]
    assert "invalid arguments for read_file" in fed[0]
    assert "unknown tool 'delete_everything'" in fed[1]
    assert "outside the workspace" in fed[2]


async def test_veto_reaches_the_model(ws: Path) -> None:
    reg = ToolRegistry().select(["write_file"])
    reg.before_call(lambda c, ctx: "writes are frozen during review")
    llm = ScriptedLLM([{"tool_calls": [call("write_file", path="x.txt", content="1")]},
                       {"content": "ok"}])
    result = await Agent(role(), llm, tools=reg, workspace=ws).run("x")
    assert result.tool_calls[0].output == "Vetoed: writes are frozen during review"
    assert not (ws / "x.txt").exists()


async def test_unknown_role_tool_is_a_user_error(ws: Path) -> None:
    with pytest.raises(UserError, match="unknown tool 'raed_file' \\(did you mean 'read_file'"):
        Agent(role(tools=["raed_file"]), ScriptedLLM([]), workspace=ws, run_context=RunContext())


async def test_long_tool_output_is_truncated(ws: Path) -> None:
    (ws / "big.txt").write_text("x" * 50_000)
    llm = ScriptedLLM([{"tool_calls": [call("read_file", path="big.txt")]}, {"content": "ok"}])
    agent = Agent(role(), llm, workspace=ws,
                  run_context=RunContext(), limits=ContextLimits(tool_output_chars=2_000))
    result = await agent.run("x")
    content = result.messages[3]["content"]
    assert len(content) < 2_100 and "characters omitted" in content
    assert result.tool_calls[0].truncated


async def test_old_tool_results_are_elided_when_history_grows(ws: Path) -> None:
    for i in range(6):
        (ws / f"m{i}.txt").write_text(f"{i}" * 3_000)
    llm = ScriptedLLM([{"tool_calls": [call("read_file", path=f"m{i}.txt")]} for i in range(6)]
                      + [{"content": "done"}])
    limits = ContextLimits(history_chars=8_000, keep_recent_turns=2)
    result = await Agent(role(), llm, workspace=ws,
                         run_context=RunContext(), limits=limits).run("x")
    assert result.final
    last_prompt = llm.calls[-1].messages
    tools = [m["content"] for m in last_prompt if m["role"] == "tool"]
    assert tools[0].startswith("[old output elided") and tools[-1].startswith("1\t5555")
    assert sum(len(str(m.get("content") or "")) for m in last_prompt) < 20_000
    assert_well_formed(last_prompt)


async def test_framework_tokens_are_counted(ws: Path) -> None:
    llm = ScriptedLLM([{"content": "hi"}])
    result = await Agent(role(tools=[]), llm, tools=[], workspace=ws).run("say hi")
    prompt, framework_part = system_prompt(role(), with_tools=False)
    assert llm.calls[0].messages[0]["content"] == prompt and FRAMEWORK_NOTE not in prompt
    assert framework_part == "Coder: "
    assert result.framework_tokens == estimate_tokens(framework_part)
    assert result.tool_schema_tokens == 0 and llm.calls[0].tools is None
    with_tools = await Agent(role(), ScriptedLLM([{"content": "hi"}]), workspace=ws,
                             run_context=RunContext()).run("hi")
    assert with_tools.tool_schema_tokens > 0


async def test_on_turn_and_resume_from_messages(ws: Path) -> None:
    records: list[TurnRecord] = []

    async def save(rec: TurnRecord) -> None:
        records.append(rec)

    first = ScriptedLLM([{"tool_calls": [call("read_file", path="a.py")]}, {"error": "server"}])
    agent = Agent(role(), first, workspace=ws, run_context=RunContext(), on_turn=save)
    with pytest.raises(Exception, match="scripted server"):
        await agent.run("What is A?")
    assert [r.turn for r in records] == [1] and records[0].stop_reason is None
    checkpoint = json.loads(json.dumps(records[0].messages))  # what a checkpointer stores

    second = ScriptedLLM([{"content": "A is 1."}])
    resumed = await Agent(role(), second, workspace=ws,
                          run_context=RunContext(), on_turn=records.append).run(
        messages=checkpoint)
    assert resumed.final and resumed.text == "A is 1." and resumed.turns == 2
    assert second.calls[0].messages == checkpoint
    assert second.calls[0].context.turn == 2
    assert records[-1].stop_reason is StopReason.FINAL


async def test_run_needs_a_task_or_messages(ws: Path) -> None:
    with pytest.raises(ValueError, match="needs a task"):
        await Agent(role(), ScriptedLLM([]), workspace=ws, run_context=RunContext()).run()


async def test_no_progress_ignores_timings_in_command_output(ws: Path) -> None:
    from crew.tools.sandbox.local import LocalSandbox

    a = {"tool_calls": [call("run_command", command="echo a")]}
    b = {"tool_calls": [call("run_command", command="echo b")]}
    llm = ScriptedLLM([a, b] * 4)
    agent = Agent(role(tools=["run_command"]), llm, workspace=ws,
                  run_context=RunContext(sandbox=LocalSandbox(warn=False)),
                  guards=Guards(no_progress=2))
    result = await agent.run("x")
    assert "exit code 0 (" in result.tool_calls[0].output  # the output carries a duration
    assert result.stop_reason is StopReason.NO_PROGRESS and result.turns == 4


async def test_a_change_the_commit_would_refuse_is_told_before_the_answer_stands(
        ws: Path) -> None:
    """Issue 24: the agent hears what in its change a commit refuses (a protected path, a
    secret) before its final answer stands, at most twice, so it can undo it."""
    def check() -> list[str]:
        changed = (ws / "x.env").exists() and (ws / "x.env").read_text() != ""
        return ["x.env is protected ('*.env'): restore it"] if changed else []

    llm = ScriptedLLM([{"tool_calls": [call("write_file", path="x.env", content="A=1")]},
                       {"content": "Done."},
                       {"tool_calls": [call("write_file", path="x.env", content="")]},
                       {"content": "Undone."}])
    agent = Agent(role(), llm, workspace=ws,
                  run_context=RunContext(), commit_check=check, protected=(".git",))
    first = await agent.run("Write it.")
    told = [m["content"] for m in first.messages if m["role"] == "user"][-1]
    assert told.startswith("Your change cannot be committed:\n- x.env is protected")
    assert first.text == "Undone." and first.stop_reason == StopReason.FINAL
    assert len(llm.calls) == 4
    (ws / "x.env").write_text("A=2")
    stubborn = ScriptedLLM([{"content": "Done."}] * 3)
    result = await Agent(role(), stubborn, workspace=ws,
                         run_context=RunContext(), commit_check=check).run("Again.")
    assert len(stubborn.calls) == 3 and result.text == "Done."  # told twice, then it stands
