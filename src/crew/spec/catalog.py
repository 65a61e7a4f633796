"""Names the spec checks against, known without importing any implementation: the built-in
pattern kinds and tools, plus the `crew.patterns` / `crew.tools` entry points. The registries
(crew.patterns.registry, crew.tools.registry) load the implementations."""

from __future__ import annotations

from crew.plugins import entry_point_names
from crew.spec.kinds import BUILTIN_PATTERN_KINDS, declared_kinds

BUILTIN_KINDS: tuple[str, ...] = tuple(k.name for k in BUILTIN_PATTERN_KINDS)

# The built-in tools, each with the module that defines it (imported on first use by
# crew.tools.registry). The one table of built-in tool names.
BUILTIN_TOOL_MODULES: dict[str, str] = {
    "read_file": "crew.tools.fs",
    "write_file": "crew.tools.fs",
    "edit_file": "crew.tools.fs",
    "list_files": "crew.tools.fs",
    "search_code": "crew.tools.search",
    "run_command": "crew.tools.shell",
    "run_tests": "crew.tools.shell",
    "git_diff": "crew.tools.git",
    "git_status": "crew.tools.git",
}

BUILTIN_TOOLS: tuple[str, ...] = tuple(BUILTIN_TOOL_MODULES)


def known_pattern_kinds() -> frozenset[str]:
    return frozenset(declared_kinds()) | entry_point_names("crew.patterns")


def known_tool_names() -> frozenset[str]:
    return frozenset(BUILTIN_TOOLS) | entry_point_names("crew.tools")
