"""An agent: a role with a model and tools, run as a turn loop (crew.agent_loop).

What it may use comes from the `RunContext` it is given (crew.context): the registry its role's
tools are picked from (with the run's approvals and hooks), the sandbox and its limits, the
test command and the tracer. Its prompts are laid out by crew.agent_prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crew.agent_loop import (
    EMPTY_NUDGE,
    AgentResult,
    ContextLimits,
    Guards,
    OnTurn,
    StopReason,
    TurnLoop,
    TurnRecord,
)
from crew.agent_prompt import FRAMEWORK_NOTE, start_messages, system_prompt
from crew.context import RunContext
from crew.llm.types import CallContext, ChatModel, Message, estimate_tokens
from crew.spec.models import RoleSpec
from crew.tools.base import DEFAULT_TEST_COMMAND, Tool
from crew.tools.paths import PathPolicy
from crew.tools.registry import ToolRegistry
from crew.tools.sandbox.base import SandboxBackend

__all__ = ["EMPTY_NUDGE", "FRAMEWORK_NOTE", "Agent", "AgentResult", "ContextLimits", "Guards",
           "OnTurn", "RunContext", "StopReason", "TurnRecord", "system_prompt"]


class Agent:
    """A role with a model and tools, run as a turn loop.

    `run_context` (crew.context.RunContext) is everything it may use: the registry its tools
    come from, the sandbox and its limits, the test command, the tracer. `tools`: None picks
    the role's `tools` by name from `run_context.tools` (an unknown name is a UserError), and
    no tools at all without a run context; a ToolRegistry or a list of Tools / names is used
    as given.
    """

    def __init__(
        self,
        role: RoleSpec,
        model: ChatModel,
        tools: ToolRegistry | Sequence[Tool | str] | None = None,
        workspace: Path | str = ".",
        *,
        run_context: RunContext | None = None,
        alias: str | None = None,
        max_turns: int | None = None,
        guards: Guards | None = None,
        limits: ContextLimits | None = None,
        protected: Sequence[str] | None = None,
        on_turn: OnTurn | None = None,
        params: dict[str, Any] | None = None,
        count_tokens: Callable[[str], int] = estimate_tokens,
        conventions: str | None = None,
        commit_check: Callable[[], list[str]] | None = None,
        diff_base: str | None = None,
    ) -> None:
        self.role = role
        self.conventions = conventions  # the repo's AGENTS.md section, first in the system
        self.model = model
        self.tools = _registry(role, tools, run_context)
        self.run_context = run_context if run_context is not None else RunContext()
        self.workspace = Path(workspace).resolve()
        self.alias = alias or role.model
        self.max_turns = max_turns or role.max_turns
        self.guards = guards or Guards()
        self.limits = limits or ContextLimits()
        if protected is None:  # the sandbox's list (the crew's `sandbox: protected`)
            protected = self.run_context.protected
        self.paths = PathPolicy(self.workspace, tuple(protected))
        self.on_turn = on_turn
        self.params: dict[str, Any] = {"temperature": role.temperature}
        if role.max_tokens:
            self.params["max_tokens"] = role.max_tokens
        self.params.update(params or {})
        self.count_tokens = count_tokens
        self.commit_check = commit_check  # why the change would be refused at commit
        self.diff_base = diff_base  # the task's base commit (git_diff's default)

    @property
    def sandbox(self) -> SandboxBackend | None:
        return self.run_context.sandbox

    @property
    def command_timeout(self) -> float:
        """How long a command may run: the run context's cap (the sandbox's `timeout_s`)."""
        return self.run_context.command_timeout

    @property
    def test_command(self) -> str:
        return self.run_context.test_command or DEFAULT_TEST_COMMAND

    def initial_messages(self, task: str, repo_context: str | None = None) -> list[Message]:
        """[system: conventions, role], [user: context then task]: stable first, volatile last."""
        return start_messages(self.role, task, conventions=self.conventions,
                              context=repo_context, with_tools=len(self.tools) > 0)

    async def run(
        self,
        task: str | None = None,
        *,
        context: CallContext | None = None,
        repo_context: str | None = None,
        messages: list[Message] | None = None,
    ) -> AgentResult:
        """Run until a final answer, max_turns or a guard. Pass `messages` (e.g. from a
        checkpoint's TurnRecord) to continue a conversation instead of starting one."""
        if messages is not None:
            msgs = [dict(m) for m in messages]
        elif task is not None:
            msgs = self.initial_messages(task, repo_context)
        else:
            raise ValueError("Agent.run needs a task or a starting message list")
        return await TurnLoop(self, msgs, context or CallContext()).run()


def _registry(role: RoleSpec, tools: ToolRegistry | Sequence[Tool | str] | None,
              run_context: RunContext | None) -> ToolRegistry:
    if tools is None:  # the run's registry: its MCP tools, approvals and hooks
        return run_context.tools_for(role.tools) if run_context is not None else ToolRegistry()
    if isinstance(tools, ToolRegistry):
        return tools
    reg = ToolRegistry()
    for t in tools:
        reg.register(reg.get(t) if isinstance(t, str) else t)
    return reg
