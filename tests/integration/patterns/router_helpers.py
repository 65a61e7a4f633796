"""Shared helpers of the pattern integration tests: roles (alias = role name), a context."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from crew.llm import LLM
from crew.patterns.base import PatternContext, TaskInfo
from crew.patterns.setup import pattern_context
from crew.spec.models import RoleSpec

ROLE_NAMES = ("coder", "reviewer", "tester", "supervisor", "doc_writer", "security_analyst")
ROLES = {n: RoleSpec(name=n, title=n.replace("_", " ").title(), goal=f"Do {n} work.",
                     instructions=f"Careful {n}.", model=n, max_turns=6,
                     tools=["read_file", "write_file", "list_files"]) for n in ROLE_NAMES}

MakeLLM = Callable[..., LLM]


def ctx_for(llm: LLM, roles: list[str], params: dict[str, Any] | None = None,
            **kw: Any) -> PatternContext:
    task = TaskInfo(id="t1", title="Do it", description="Details.", roles=tuple(roles),
                    params=params or {})
    return pattern_context(task, ROLES, llm, run_id="r1", **kw)


def write(role: str, path: str, content: str, **keys: Any) -> dict[str, Any]:
    """A replay answer: `role` writes `content` to `path`."""
    return {"role": role, **keys, "tool_calls": [
        {"name": "write_file", "arguments": {"path": path, "content": content}}]}


def say(role: str, content: Any, **keys: Any) -> dict[str, Any]:
    """A replay answer: `role` says `content` (JSON-encoded unless a string)."""
    return {"role": role, **keys,
            "content": content if isinstance(content, str) else json.dumps(content)}
