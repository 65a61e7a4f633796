"""Fixtures for the pattern tests: a real git repo with a Workspace, a context maker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pattern_helpers import ROLES, MakeCtx

from crew.patterns.base import PatternContext, TaskInfo
from crew.patterns.setup import pattern_context
from crew.workspace.worktrees import Workspace
from shared_helpers import committed_repo


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    repo = committed_repo(tmp_path / "repo")
    return Workspace.create(repo, "r1", "Patterns test")


@pytest.fixture
def make_ctx() -> MakeCtx:
    def make(llm: Any, roles: list[str], params: dict[str, Any] | None = None, *,
             task_id: str = "t1", title: str = "Do the thing", description: str = "Details.",
             **kw: Any) -> PatternContext:
        task = TaskInfo(id=task_id, title=title, description=description, roles=tuple(roles),
                        params=params or {})
        return pattern_context(task, ROLES, llm, run_id="r1", **kw)

    return make
