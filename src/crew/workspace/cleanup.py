"""What a run leaves behind, and taking it away.

- At the end of a finished run (`finish_run`): its worktrees (integration and tasks) are
  removed — a worktree with uncommitted changes is kept and named — and the task branches
  whose work is in the integration branch are deleted. The integration branch (the result)
  stays, checked out nowhere, so `git branch -d <branch>` works once it is merged.
- `crew clean` (`plan_clean` then `apply_clean`): everything else of a run — worktrees (also
  dirty ones), every task branch, `.crew/worktrees/<run-id>/` and the run directory. The
  integration branch is deleted only when nothing would be lost (merged into the repository's
  HEAD, or holding no commit beyond the run's base); otherwise it is kept and named.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from crew.workspace.git import branch_exists, dirty, is_ancestor, rev, run_git, worktrees


def _run_worktrees(root: Path, run_id: str) -> list[Path]:
    base = (root / ".crew" / "worktrees" / run_id).resolve()
    return sorted(p for p in worktrees(root) if p == base or base in p.parents)


def _task_branches(root: Path, branch: str) -> list[str]:
    out = run_git(root, "for-each-ref", "--format=%(refname:short)",
                  f"refs/heads/{branch}--*").out
    return [b for b in out.split() if b]


def _remove_worktree(root: Path, path: Path) -> None:
    run_git(root, "worktree", "remove", "--force", str(path))
    if path.exists():  # ignored files (caches) survive `worktree remove` on some gits
        shutil.rmtree(path, ignore_errors=True)


def finish_run(root: Path, run_id: str, branch: str) -> list[str]:
    """Tidy up after a finished run: lines saying what was removed and what was kept."""
    removed_wt, kept, deleted = 0, [], []
    checked_out = worktrees(root)
    in_use: set[str | None] = set()
    for path in _run_worktrees(root, run_id):
        if dirty(path).strip():
            kept.append(f"kept worktree {path} (uncommitted changes)")
            in_use.add(checked_out.get(path))
            continue
        _remove_worktree(root, path)
        removed_wt += 1
    run_git(root, "worktree", "prune")
    for tb in _task_branches(root, branch):
        if tb in in_use:
            continue  # its worktree is kept, so is the branch
        if branch_exists(root, branch) and is_ancestor(root, f"refs/heads/{tb}",
                                                       f"refs/heads/{branch}"):
            run_git(root, "branch", "-D", tb)
            deleted.append(tb)
        else:
            kept.append(f"kept task branch {tb} (its work is not on {branch})")
    lines = []
    if removed_wt:
        lines.append(f"removed {removed_wt} worktree{'s' if removed_wt != 1 else ''}")
    if deleted:
        lines.append(f"deleted {len(deleted)} task branch{'es' if len(deleted) != 1 else ''}")
    return lines + kept


@dataclass
class CleanPlan:
    """What `crew clean` would remove for one run (and what it keeps)."""

    run_id: str
    root: Path
    run_dir: Path
    branch: str
    base: str | None
    worktrees: list[Path] = field(default_factory=list)
    dirty: list[Path] = field(default_factory=list)  # worktrees holding uncommitted changes
    task_branches: list[str] = field(default_factory=list)
    unmerged_tasks: list[str] = field(default_factory=list)  # work not on the integration branch
    delete_branch: bool = False  # the integration branch: only when nothing is lost
    keep_reason: str = ""

    @property
    def destructive(self) -> bool:
        """Whether applying it loses work that exists nowhere else."""
        return bool(self.dirty or self.unmerged_tasks)

    def lines(self) -> list[str]:
        out = []
        for p in self.worktrees:
            note = " (uncommitted changes will be lost)" if p in self.dirty else ""
            out.append(f"worktree {p}{note}")
        for b in self.task_branches:
            note = " (not merged: its commits will be lost)" if b in self.unmerged_tasks else ""
            out.append(f"task branch {b}{note}")
        if self.branch and self.delete_branch:
            out.append(f"branch {self.branch} ({self.keep_reason})")
        out.append(f"run directory {self.run_dir}")
        return out


def plan_clean(root: Path, run_id: str, run_dir: Path, branch: str,
               base: str | None) -> CleanPlan:
    plan = CleanPlan(run_id, root, run_dir, branch, base)
    plan.worktrees = _run_worktrees(root, run_id)
    plan.dirty = [p for p in plan.worktrees if dirty(p).strip()]
    if not branch:
        return plan
    exists = branch_exists(root, branch)
    plan.task_branches = _task_branches(root, branch)
    plan.unmerged_tasks = [
        b for b in plan.task_branches
        if not (exists and is_ancestor(root, f"refs/heads/{b}", f"refs/heads/{branch}"))]
    if not exists:
        return plan
    head, tip = rev(root, "HEAD"), rev(root, f"refs/heads/{branch}")
    if base and tip == rev(root, base):
        plan.delete_branch, plan.keep_reason = True, "no commit beyond the run's base"
    elif head and is_ancestor(root, f"refs/heads/{branch}", head):
        plan.delete_branch, plan.keep_reason = True, "merged into your HEAD"
    else:
        plan.keep_reason = (f"kept branch {branch}: not merged into your HEAD; delete it with "
                            f"`git branch -D {branch}`")
    return plan


def apply_clean(plan: CleanPlan) -> list[str]:
    """Remove what `plan` lists; the lines of what was removed (and the branch kept)."""
    done = []
    for p in plan.worktrees:
        _remove_worktree(plan.root, p)
        done.append(f"removed worktree {p}")
    run_git(plan.root, "worktree", "prune")
    for b in plan.task_branches:
        run_git(plan.root, "branch", "-D", b)
        done.append(f"deleted task branch {b}")
    if plan.branch and plan.delete_branch:
        run_git(plan.root, "branch", "-D", plan.branch)
        done.append(f"deleted branch {plan.branch} ({plan.keep_reason})")
    elif plan.keep_reason:
        done.append(plan.keep_reason)
    wt_dir = plan.root / ".crew" / "worktrees" / plan.run_id
    if wt_dir.exists():
        shutil.rmtree(wt_dir)
    if plan.run_dir.exists():
        shutil.rmtree(plan.run_dir)
        done.append(f"removed run directory {plan.run_dir}")
    return done
