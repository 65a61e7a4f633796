"""Tool names known without importing any tool: the built-ins and the `crew.tools` entry points.
Spec validation uses this; the registry (crew.tools.registry) loads the implementations."""

from __future__ import annotations

from crew.plugins import entry_point_names

BUILTIN_TOOLS: tuple[str, ...] = (
    "read_file",
    "write_file",
    "edit_file",
    "list_files",
    "search_code",
    "run_command",
    "run_tests",
    "git_diff",
    "git_status",
)


def known_tool_names() -> frozenset[str]:
    return frozenset(BUILTIN_TOOLS) | entry_point_names("crew.tools")
