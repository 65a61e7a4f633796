"""Helpers of the engine tests: roles (alias = role name), a context, replay answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from crew.llm import LLM
from crew.patterns.base import PatternContext, TaskInfo
from crew.patterns.setup import pattern_context
from crew.spec.models import PatternSpec, RoleSpec

ROLE_NAMES = ("coder", "reviewer", "tester", "supervisor", "doc_writer", "security_analyst")
ROLES = {n: RoleSpec(name=n, title=n.replace("_", " ").title(), goal=f"Do {n} work.",
                     instructions=f"Careful {n}.", model=n, max_turns=6,
                     tools=["read_file", "list_files"]) for n in ROLE_NAMES}

MakeLLM = Callable[..., LLM]


def ctx_for(llm: LLM, roles: list[str], params: dict[str, Any] | None = None,
            **kw: Any) -> PatternContext:
    task = TaskInfo(id="t1", title="Pick a lock strategy", description="For the todo store.",
                    roles=tuple(roles), params=params or {})
    return pattern_context(task, ROLES, llm, run_id="r1", **kw)


def template(kind: str, engine: str = "autogen", **kw: Any) -> PatternSpec:
    return PatternSpec(name=kind, kind=kind, description=f"{kind} on {engine}",
                       engine=engine, **kw)  # type: ignore[arg-type]


def say(role: str, content: Any, **keys: Any) -> dict[str, Any]:
    """A replay answer: `role` says `content` (JSON-encoded unless a string)."""
    return {"role": role, **keys,
            "content": content if isinstance(content, str) else json.dumps(content)}


def ballot(role: str, answer: str) -> dict[str, Any]:
    return say(role, {"answer": answer, "rationale": "r"}, purpose="ballot")
