"""The run's tool registry, built before anything is written: hooks loaded (`hooks:`), the
approval rules (`approvals:` + `--yes` / `--approve-tools`), and the MCP servers
(`mcp_servers:`) started and listed, with every role's `mcp:` entry checked against what they
offer. Any problem is a UserError (exit 2) before a run directory, branch or worktree exists
and before any model call. The servers stop when the block ends (end of run, error, Ctrl-C)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crew.errors import Problem, UserError

if TYPE_CHECKING:
    from crew.spec.resolve import ResolvedFeature
    from crew.tools.mcp import McpHub
    from crew.tools.registry import Approver, ToolRegistry


@dataclass
class RunTools:
    registry: ToolRegistry
    sinks: list[Any] = field(default_factory=list)  # hook notifications ride the tracer
    hub: McpHub | None = None


@contextlib.contextmanager
def run_tools(resolved: ResolvedFeature, approver: Approver | None = None,
              say: Any = None) -> Iterator[RunTools]:
    """Build the registry; start MCP servers; stop them when the block ends."""
    from crew.tools.approvals import FlagApprover
    from crew.tools.base import Approval
    from crew.tools.hooks import HookSink, attach, load_hooks
    from crew.tools.registry import ToolRegistry

    settings = resolved.tools
    hooks = load_hooks(settings.hooks)
    registry = ToolRegistry(approvals={k: Approval(v) for k, v in settings.approvals.items()},
                            approver=approver or FlagApprover())
    attach(registry, hooks)
    hub = None
    if settings.servers:
        from crew.tools.mcp import McpHub

        if say is not None:
            say(f"MCP: starting {', '.join(settings.servers)}")
        hub = McpHub(settings.servers, settings.server_dirs)
        try:
            started = hub.start()
        except UserError as e:
            raise _located(resolved, e) from None
        for t in started:
            registry.register(t)
    try:
        _check_mcp_refs(resolved, registry)
        yield RunTools(registry, [HookSink(hooks)] if hooks else [], hub)
    finally:
        if hub is not None:
            hub.close()


def _check_mcp_refs(resolved: ResolvedFeature, registry: ToolRegistry) -> None:
    """Every role's `mcp:<server>/<tool|glob>` must match a tool its server listed."""
    problems: list[Problem] = []
    for loaded in resolved.roles.values():
        for i, name in enumerate(loaded.spec.tools):
            if not name.startswith("mcp:"):
                continue
            try:
                registry.select([name])
            except UserError as e:
                p = e.problems[0]
                problems.append(loaded.problem(p.message, ("tools", i), hint=p.hint))
    if problems:
        raise UserError("invalid", problems=problems)


def _located(resolved: ResolvedFeature, e: UserError) -> UserError:
    """A server's failure, pointed at the file (feature, else crew) that declares it."""
    p = e.problems[0]
    name = (p.field or "").removeprefix("mcp_servers.").split(".")[0]
    for owner in (resolved.feature, resolved.crew):
        if name in owner.spec.mcp_servers:
            loc = ("mcp_servers", name, *(["env"] if p.field and p.field.endswith(".env") else []))
            return UserError("invalid", problems=[owner.problem(p.message, loc, hint=p.hint)])
    return e
