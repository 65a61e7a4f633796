"""Issue 24 item 4: an agent's command may run as long as the sandbox's `timeout_s` says
(it was cut at a fixed 300 s whatever the sandbox allowed)."""

from __future__ import annotations

from pathlib import Path

from crew.agent import Agent
from crew.context import RunContext
from crew.spec.models import RoleSpec
from crew.testing.scripted import ScriptedLLM
from shared_helpers import recording_sandbox


async def test_a_command_gets_the_sandbox_timeout_not_300s(tmp_path: Path) -> None:
    sandbox = recording_sandbox(900)
    llm = ScriptedLLM([
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "echo hi"}}]},
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "echo hi",
                                                              "timeout": 5000}}]},
        {"content": "Done."}])
    role = RoleSpec(name="coder", title="Coder", goal="Run things.", instructions="Run.",
                    model="smart", tools=["run_command"], max_turns=5)
    agent = Agent(role, llm, workspace=tmp_path, run_context=RunContext(sandbox=sandbox))
    assert agent.command_timeout == 900
    res = await agent.run("Run echo")
    assert res.final
    assert sandbox.timeouts == [900, 900]  # the model cannot ask for more than the sandbox
    capped = RunContext(sandbox=sandbox, command_timeout_s=30)  # an explicit caller still wins
    assert Agent(role, llm, workspace=tmp_path, run_context=capped).command_timeout == 30
