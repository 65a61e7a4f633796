"""Tools agents call: the Tool type and @tool decorator, the registry, workspace confinement,
and (in crew.tools.sandbox) the sandboxes commands run in. Names load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'crew.tools' has no attribute {name!r}")
