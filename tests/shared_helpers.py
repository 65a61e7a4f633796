"""Helpers for every test folder (`from shared_helpers import …`: pyproject puts tests/ on
pytest's pythonpath, so the import works whichever folders pytest collects). Not a conftest:
several folders have one, and `from conftest import` picks whichever was imported first."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """`git -C repo ARGS`'s stdout, stripped; a failing command raises."""
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def committed_repo(path: Path, files: Mapping[str, str] | None = None) -> Path:
    """A git repo at `path` on branch main with one commit of `files` (default: app.py)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for rel, text in (files or {"app.py": "VALUE = 1\n"}).items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return path


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except FileNotFoundError:  # reaped between the two looks
        return False


def wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    """Poll `cond` every 0.1 s until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False
