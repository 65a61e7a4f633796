"""A merge conflict becomes a coder task: in a fresh worktree branched from the integration
branch, the conflicting task's branch is merged with its conflict markers left in place; the
coder resolves them and the pattern's commit completes the merge. Merging that task then brings
both sides into the integration branch without a conflict."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from crew.run.state import PlannedTask
from crew.workspace.git import identity_env, is_ancestor, merge_in_progress, run_git

if TYPE_CHECKING:
    from crew.spec.resolve import ResolvedFeature
    from crew.workspace.worktrees import MergeConflict, Workspace

MARKERS_NOTE = ("Resolve the merge conflict: edit each file below so it keeps the intent of both "
                "sides and holds no conflict markers (<<<<<<<, =======, >>>>>>>), then run the "
                "tests.")


def conflict_task(resolved: ResolvedFeature, task: PlannedTask,
                  conflict: MergeConflict) -> PlannedTask:
    """The coder task that resolves `conflict` (a `single` pattern when the crew has one)."""
    crew = resolved.crew.spec
    pattern = next((p for p in crew.patterns if resolved.patterns[p].spec.kind == "single"),
                   crew.defaults.pattern)
    coder = "coder" if "coder" in crew.members else crew.members[0]
    roles = [coder]
    if resolved.patterns[pattern].spec.kind != "single":
        roles.append(next((r for r in crew.members if r != coder), coder))
    return PlannedTask(
        id=f"{task.id}-merge"[:60], title=f"Resolve the merge conflict of {task.id}",
        description=f"{MARKERS_NOTE}\n\n{conflict.render()}"[:8000], pattern=pattern,
        roles=roles, kind="merge_fix", conflict_of=task.id,
        conflict_paths=list(conflict.paths))


def start_conflict_merge(ws: Workspace, fix: PlannedTask, path: Path) -> None:
    """Leave the conflicting merge in progress in the fix task's worktree (idempotent: a
    resumed run keeps a merge in progress or an already committed resolution)."""
    assert fix.conflict_of is not None
    other = f"refs/heads/{ws.task_branch(fix.conflict_of)}"
    if merge_in_progress(path) or is_ancestor(path, other, "HEAD"):
        return
    from crew.workspace.naming import CREW_IDENTITY

    run_git(path, "merge", "--no-ff", "--no-commit", "--no-verify", other,
            env=identity_env(*CREW_IDENTITY), check=False)


def markers_left(path: Path, t: PlannedTask) -> str:
    """The conflicting files of merge_fix task `t` that still hold conflict markers in its
    worktree `path` (comma-separated; empty when resolved)."""
    from crew.workspace.git import has_conflict_markers

    bad = []
    for rel in t.conflict_paths:
        with contextlib.suppress(OSError):
            if has_conflict_markers((path / rel).read_text(encoding="utf-8", errors="replace")):
                bad.append(rel)
    return ", ".join(bad)
