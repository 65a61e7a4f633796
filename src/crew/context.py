"""What a run hands down explicitly: pattern → agent → tool (`RunContext`).

A run builds one `RunContext` (crew.run.runner.RunSession, from what crew.run.launch resolved
of the feature: the tool registry with the run's MCP tools, approval rules and hooks; the
sandbox and its limits; the test command; the tracer) and passes it to every pattern
(`pattern_context(run_context=...)`), which hands it to each Agent (`Agent(run_context=...)`),
which builds each call's ToolContext from it (`tool_context`). Nothing
below the run looks these up in ambient state, so two runs (or two patterns) in one event loop
never see each other's settings. The budget and the ledger travel with the model
(`crew.llm.accounting.AccountedModel`), which the pattern context carries beside this.

Library use without a run: `RunContext()` is a fresh registry (built-in and entry-point tools
by name, no approvals or hooks), a null tracer, no sandbox (commands refused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crew.llm.types import CallContext
from crew.observability.tracer import Tracer, null_tracer
from crew.tools.base import DEFAULT_TEST_COMMAND, ToolContext
from crew.tools.paths import DEFAULT_PROTECTED, PathPolicy
from crew.tools.registry import ToolRegistry
from crew.tools.sandbox.base import SandboxBackend, command_timeout

__all__ = ["DEFAULT_TEST_COMMAND", "RunContext"]


@dataclass(frozen=True)
class RunContext:
    """A run's dependencies, passed explicitly to patterns, agents and tools.

    - `tools`: the registry roles pick their tools from by name (its approval rules and
      before/after hooks apply to every call; `select` shares them).
    - `tracer`: where agent turns, rounds, tool calls and their events are recorded.
    - `sandbox`: where commands run (None: run_command/run_tests refuse).
    - `command_timeout_s`: the longest a tool's command may run (None: the sandbox's
      `timeout_s`, so YAML `sandbox: timeout_s` and `--timeout-s` reach every tool).
    - `test_command`: what run_tests runs (None: `DEFAULT_TEST_COMMAND`).
    """

    tools: ToolRegistry = field(default_factory=ToolRegistry)
    tracer: Tracer = field(default_factory=null_tracer)
    sandbox: SandboxBackend | None = None
    command_timeout_s: float | None = None
    test_command: str | None = None

    @property
    def command_timeout(self) -> float:
        """The command cap tools get: `command_timeout_s`, else the sandbox's `timeout_s`."""
        if self.command_timeout_s is not None:
            return self.command_timeout_s
        return command_timeout(self.sandbox)

    @property
    def protected(self) -> tuple[str, ...]:
        """The paths tools refuse: the sandbox's `protected` list (the crew's setting)."""
        return tuple(getattr(self.sandbox, "protected", DEFAULT_PROTECTED))

    def tools_for(self, names: Iterable[str]) -> ToolRegistry:
        """The registry's tools called `names` (a role's `tools`), sharing its policy."""
        return self.tools.select(names)

    def tool_context(self, workdir: Path, call: CallContext, *,
                     protected: Iterable[str] | None = None, diff_base: str | None = None,
                     output_chars: int = 12_000) -> ToolContext:
        """What each tool call in `workdir` by `call`'s role receives: this context's
        sandbox, limits, test command and tracer, and the path policy."""
        workdir = Path(workdir).resolve()
        paths = PathPolicy(workdir, tuple(self.protected if protected is None else protected))
        return ToolContext(workspace=workdir, sandbox=self.sandbox, paths=paths, call=call,
                           command_timeout=self.command_timeout,
                           test_command=self.test_command or DEFAULT_TEST_COMMAND,
                           diff_base=diff_base, output_chars=output_chars, tracer=self.tracer)
