"""Names the spec checks against, known without importing any implementation: the built-in
pattern kinds and tools, plus the `crew.patterns` / `crew.tools` entry points. The registries
(crew.patterns.registry, crew.tools.registry) load the implementations."""

from __future__ import annotations

from crew.plugins import entry_point_names

BUILTIN_KINDS: tuple[str, ...] = ("single", "review_loop", "supervisor_worker", "committee", "debate")

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


def known_pattern_kinds() -> frozenset[str]:
    return frozenset(BUILTIN_KINDS) | entry_point_names("crew.patterns")


def known_tool_names() -> frozenset[str]:
    return frozenset(BUILTIN_TOOLS) | entry_point_names("crew.tools")
