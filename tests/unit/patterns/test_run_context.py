"""crew.context.RunContext (issue 25): what a run hands down — the tool registry with its hooks,
the sandbox and its limits, the test command, the tracer — reaches each tool call through the
context passed explicitly, pattern → agent → tool, never through ambient state. Two patterns
running at once in one event loop each see only their own."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pattern_helpers import make_role

from crew.agent import FRAMEWORK_NOTE, Agent
from crew.context import RunContext
from crew.llm.types import ToolCall
from crew.observability import Tracer
from crew.patterns.base import Outcome, TaskInfo
from crew.patterns.setup import pattern_context
from crew.patterns.single import Single
from crew.testing import ListSink, ScriptedLLM
from crew.tools import ToolContext, ToolRegistry, tool
from crew.workspace.worktrees import Workspace
from shared_helpers import committed_repo, recording_sandbox

inside: list[str] = []
both_inside = asyncio.Event()


@tool
async def meet(ctx: ToolContext) -> str:
    """Wait until the other pattern's agent is inside this tool too; say what this call got."""
    inside.append(ctx.call.run_id)
    if len(inside) == 2:
        both_inside.set()
    await asyncio.wait_for(both_inside.wait(), 20)  # both calls are in flight at once
    return f"{ctx.call.run_id}: timeout {ctx.command_timeout:g}, tests `{ctx.test_command}`"


@dataclass
class Run:
    """One pattern's world: its context, and what its sinks, hooks and sandbox saw."""

    name: str
    env: RunContext
    sink: ListSink
    hooked: list[str]
    sandbox: Any  # shared_helpers.recording_sandbox


def a_run(name: str, timeout_s: float) -> Run:
    sink, hooked = ListSink(), []
    registry = ToolRegistry([meet])

    def before(call: ToolCall, ctx: ToolContext) -> None:
        hooked.append(f"{ctx.call.run_id}:{call.name}")

    registry.before_call(before)
    sandbox = recording_sandbox(timeout_s)
    tracer = Tracer.create(name, name, env={}, sinks=[], extra_sinks=[sink])
    env = RunContext(tools=registry, tracer=tracer, sandbox=sandbox,
                     test_command=f"make test-{name}")
    return Run(name, env, sink, hooked, sandbox)


async def test_concurrent_patterns_each_reach_their_tools_through_their_own_context(
        tmp_path: Path) -> None:
    inside.clear()
    both_inside.clear()
    coder = make_role("coder", tools=["meet", "run_command"])
    runs = [a_run("a", 900), a_run("b", 30)]

    async def single(run: Run) -> Any:
        ws = Workspace.create(committed_repo(tmp_path / run.name), run.name, "Context test")
        llm = ScriptedLLM([{"tool_calls": [{"name": "meet", "arguments": {}},
                                           {"name": "run_command",
                                            "arguments": {"command": "echo hi"}}]},
                           {"content": "Done."}])
        task = TaskInfo(id="t1", title="Meet", roles=("coder",))
        ctx = pattern_context(task, {"coder": coder}, llm, run_id=run.name, workspace=ws,
                              run_context=run.env)
        with run.env.tracer.run():
            return await Single().run(ctx)

    results = await asyncio.gather(*(single(r) for r in runs))
    assert [r.outcome for r in results] == [Outcome.DONE, Outcome.DONE]
    ids = {r.name: {e["id"] for e in r.sink.events} for r in runs}
    other_ids = {"a": ids["b"], "b": ids["a"]}
    for run in runs:
        timeout = run.sandbox.limits.timeout_s
        # the registry (and its hooks) of this context, and only its calls
        assert sorted(run.hooked) == [f"{run.name}:meet", f"{run.name}:run_command"]
        # its sandbox ran the command, capped by its own timeout_s
        assert run.sandbox.timeouts == [timeout]
        tools = [e for e in run.sink.events if e["type"] == "tool.end"]
        outputs = {e["name"]: e["payload"]["output"] for e in tools}
        assert outputs["meet"] == (f"{run.name}: timeout {timeout:g}, "
                                   f"tests `make test-{run.name}`")
        # its tracer got its own rounds, turns, generations and tool calls; none of the other's
        kinds = {e["type"] for e in run.sink.events}
        assert {"round.start", "agent.start", "generation.start", "tool.start"} <= kinds
        assert len(tools) == 2 and not {e["id"] for e in tools} & other_ids[run.name]
        generations = [e for e in run.sink.events if e["type"] == "generation.start"]
        assert len(generations) == 2  # its agent's two calls, nested under its own turns
        turns = {e["id"] for e in run.sink.events if e["type"] == "agent.start"}
        assert {g["parent_id"] for g in generations} <= turns


async def test_an_agent_without_a_context_or_tools_has_no_tools(tmp_path: Path) -> None:
    """No ambient registry: an Agent given neither `run_context` nor `tools` gets no tools,
    whatever its role lists; with a context, the role's tools come from its registry."""
    role = make_role("coder", tools=["read_file", "write_file"])
    llm = ScriptedLLM([{"content": "Nothing to do."}])
    bare = Agent(role, llm, workspace=tmp_path)
    assert len(bare.tools) == 0
    res = await bare.run("Look around.")
    assert res.final and llm.calls[0].tools is None
    assert FRAMEWORK_NOTE not in llm.calls[0].messages[0]["content"]
    registry = ToolRegistry()
    given = Agent(role, llm, workspace=tmp_path, run_context=RunContext(tools=registry))
    assert given.tools.names() == ["read_file", "write_file"]
    assert registry.names() == ["read_file", "write_file"]  # picked from the context's registry


def test_library_default_context_picks_role_tools_by_name_and_traces_nothing() -> None:
    """A user's script without a run (README's library example): `pattern_context` without a
    `run_context` gets a fresh registry (tools by name), a null tracer and no sandbox."""
    task = TaskInfo(id="t1", title="T", roles=("coder",))
    ctx = pattern_context(task, {"coder": make_role("coder")}, ScriptedLLM([]), run_id="r1")
    assert not ctx.tracer.enabled and ctx.sandbox is None
    assert ctx.run_context.tools_for(["read_file"]).names() == ["read_file"]
    assert ctx.run_context.command_timeout == 300.0  # no sandbox: the tools' default cap
