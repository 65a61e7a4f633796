"""Shared helpers of the pattern unit tests (roles, a git repo, the context maker type)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crew.patterns.base import PatternContext
from crew.spec.models import RoleSpec

TOOLS = ["read_file", "write_file", "list_files"]
def make_role(name: str, **kw: Any) -> RoleSpec:
    base: dict[str, Any] = dict(name=name, title=name.title(), goal=f"Do {name} work well.",
                                instructions=f"You are careful ({name}).", model="smart",
                                tools=TOOLS, max_turns=6)
    base.update(kw)
    return RoleSpec(**base)


ROLES = {n: make_role(n) for n in ("coder", "reviewer", "tester", "supervisor", "doc_writer",
                                   "security_analyst")}


MakeCtx = Callable[..., PatternContext]
