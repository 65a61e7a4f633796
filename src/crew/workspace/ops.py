"""The few git steps patterns take, run off the event loop (Workspace calls are blocking)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from crew.workspace.worktrees import MergeConflict, Workspace


class Artifacts(BaseModel):
    """What a task's work left in git: the files it changed and its commit."""

    files_changed: list[str] = Field(default_factory=list)
    commit: str | None = None


def _files_in(path: Path, sha: str) -> list[str]:
    from crew.workspace.git import run_git

    out = run_git(path, "show", "--pretty=format:", "--name-only", "-m", "--first-parent",
                  sha).out
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


def _pending(path: Path) -> list[str]:
    from crew.workspace.git import dirty

    # `XY path` lines; dirty() strips the output, so the first line may lack X's blank column
    return sorted({line.split(None, 1)[1].strip() for line in dirty(path).splitlines()
                   if len(line.split(None, 1)) == 2})


async def commit(ws: Workspace, task_id: str, title: str, role: str, body: str = ""
                 ) -> Artifacts:
    """Commit the task's changes in its worktree; the commit and the files it changed."""
    sha = await asyncio.to_thread(ws.commit_task, task_id, title, role, body)
    if sha is None:
        return Artifacts()
    files = await asyncio.to_thread(_files_in, ws.worktree_for(task_id), sha)
    return Artifacts(files_changed=files, commit=sha)


async def pending(path: Path | None) -> Artifacts:
    """Uncommitted changes (a pattern that did not finish leaves them for the run to decide)."""
    if path is None:
        return Artifacts()
    return Artifacts(files_changed=await asyncio.to_thread(_pending, path))


async def task_worktree(ws: Workspace, task_id: str) -> Path:
    wt = await asyncio.to_thread(ws.task_worktree, task_id)
    return wt.path


async def merge(ws: Workspace, task_id: str) -> str | MergeConflict:
    return await asyncio.to_thread(ws.merge_task, task_id)


async def changes_since(ws: Workspace, base: str) -> Artifacts:
    """Files changed on the integration branch since `base`, and its head."""
    from crew.workspace.git import run_git

    head = await asyncio.to_thread(ws.head)
    if head == base:
        return Artifacts()
    out = await asyncio.to_thread(run_git, ws.path, "diff", "--name-only", base, head)
    return Artifacts(files_changed=sorted(x for x in out.out.splitlines() if x), commit=head)


async def diff_of(path: Path, rev: str, limit: int = 6000) -> str:
    """`git diff rev` of a worktree, head and tail kept under `limit` characters."""
    from crew.workspace.git import run_git

    out = (await asyncio.to_thread(run_git, path, "diff", rev, check=False)).out
    if len(out) <= limit:
        return out
    half = limit // 2
    return f"{out[:half]}\n[... {len(out) - limit} characters omitted ...]\n{out[-half:]}"


async def changed_files(ws: Workspace, path: Path) -> list[str]:
    """Every file the task in the worktree at `path` changed since it started: committed or
    not, new files included."""
    from crew.workspace.changes import changed_paths

    base = await asyncio.to_thread(ws.task_base, path)
    return await asyncio.to_thread(changed_paths, path, base or "HEAD")


def files_line(files: list[str], limit: int = 40) -> str:
    """'Changed files: a, b (+N more).' for a prompt ('' when none)."""
    if not files:
        return "No file is changed yet. "
    more = f" (+{len(files) - limit} more)" if len(files) > limit else ""
    return f"Changed files: {', '.join(files[:limit])}{more}. "
