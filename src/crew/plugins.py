"""Names registered through entry points, read without importing the plugins themselves."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points


@cache
def entry_point_names(group: str) -> frozenset[str]:
    """Names in an entry-point group (e.g. crew.tools, crew.patterns, crew.sinks)."""
    return frozenset(ep.name for ep in entry_points(group=group))
