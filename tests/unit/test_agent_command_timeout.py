"""Issue 24 item 4: an agent's command may run as long as the sandbox's `timeout_s` says
(it was cut at a fixed 300 s whatever the sandbox allowed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from crew.agent import Agent
from crew.context import RunContext
from crew.spec.models import RoleSpec
from crew.testing.scripted import ScriptedLLM
from crew.tools.sandbox import SandboxLimits, SandboxResult
from crew.tools.sandbox.base import Command
from crew.tools.sandbox.local import LocalSandbox


class Recording(LocalSandbox):
    """The real local backend, noting the timeout each command was given."""

    timeouts: list[float]

    async def run(self, cmd: Command, *, workspace: Path, cwd: str = ".",
                  timeout: float = 120.0, env: Mapping[str, str] | None = None,
                  read_only: Sequence[str] = (), hidden: Sequence[str] = ()) -> SandboxResult:
        self.timeouts.append(timeout)
        return await super().run(cmd, workspace=workspace, cwd=cwd, timeout=timeout, env=env,
                                 read_only=read_only, hidden=hidden)


async def test_a_command_gets_the_sandbox_timeout_not_300s(tmp_path: Path) -> None:
    sandbox = Recording(SandboxLimits(timeout_s=900), warn=False, namespaces=False)
    sandbox.timeouts = []
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
