"""Shared helpers of the pattern unit tests (roles, a git repo, the context maker type)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
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


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "app.py").write_text("VALUE = 1\n")
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True, env=env)
    return path


MakeCtx = Callable[..., PatternContext]
