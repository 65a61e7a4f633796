"""Pattern kinds known without importing them: the built-ins and `crew.patterns` entry points."""

from __future__ import annotations

from crew.plugins import entry_point_names

BUILTIN_KINDS: tuple[str, ...] = ("single", "review_loop", "supervisor_worker", "committee", "debate")


def known_pattern_kinds() -> frozenset[str]:
    return frozenset(BUILTIN_KINDS) | entry_point_names("crew.patterns")
