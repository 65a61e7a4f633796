"""Tools agents call: the Tool type and @tool decorator, the registry, workspace confinement,
and (in crew.tools.sandbox) the sandboxes commands run in. Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew._lazy import lazy_dir, lazy_exports

if TYPE_CHECKING:
    from crew.tools.base import Approval, Tool, ToolContext, ToolError, ToolOutput, tool
    from crew.tools.paths import PathPolicy
    from crew.tools.registry import OutcomeStatus, ToolOutcome, ToolRegistry

_EXPORTS = {
    "Approval": "crew.tools.base",
    "Tool": "crew.tools.base",
    "ToolContext": "crew.tools.base",
    "ToolError": "crew.tools.paths",
    "ToolOutput": "crew.tools.base",
    "tool": "crew.tools.base",
    "PathPolicy": "crew.tools.paths",
    "OutcomeStatus": "crew.tools.registry",
    "ToolOutcome": "crew.tools.registry",
    "ToolRegistry": "crew.tools.registry",
}
__all__ = [
    "Approval",
    "OutcomeStatus",
    "PathPolicy",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "ToolOutput",
    "ToolRegistry",
    "tool",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), _EXPORTS)
