"""The run's git workspace: worktrees on crew branches, one commit per task, merges of
concurrent task branches, and resume without duplicates. The user's working tree, index and
current branch are never touched: everything happens in worktrees under `<repo>/.crew/`.

Layout, for run R of feature F (slug S):

    branch   crew/S-R                       the integration branch, the run's result
    branch   crew/S-R--<task-id>            a task's branch when tasks run concurrently
    <repo>/.crew/worktrees/R/integration    worktree of crew/S-R
    <repo>/.crew/worktrees/R/tasks/<id>     worktree of crew/S-R--<id>
    <repo>/.crew/worktrees/R/workspace.json branch, base and feature, so `open` finds them

Every call is blocking (it runs git); async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from crew.errors import UserError
from crew.observability.redact import scrub
from crew.textsafe import safe_text
from crew.workspace.changes import ProtectedMatch, commit_problems, fork_point, skip_masked
from crew.workspace.git import (
    NOISE_PATHSPECS,
    WorkspaceError,
    branch_exists,
    dirty,
    ensure_excluded,
    find_run_branch,
    has_conflict_markers,
    identity_env,
    is_ancestor,
    merge_in_progress,
    refuse_in_progress,
    repo_root,
    rev,
    run_git,
    trailer_log,
    unmerged_paths,
    worktrees,
)
from crew.workspace.naming import (
    CREW_IDENTITY,
    MERGE_TRAILER,
    RUN_TRAILER,
    TASK_TRAILER,
    check_run_id,
    check_task_id,
    feature_slug,
    role_identity,
)
from crew.workspace.secrets import CommitRefused, SecretInDiff, refuse_secrets

__all__ = [
    "CommitRefused",
    "MergeConflict",
    "SecretInDiff",
    "TaskWorktree",
    "Workspace",
    "WorkspaceError",
    "feature_slug",
]


@dataclass(frozen=True)
class TaskWorktree:
    """A task's own worktree and branch, for tasks that run concurrently."""

    task_id: str
    branch: str
    path: Path


@dataclass(frozen=True)
class MergeConflict:
    """A task branch that did not merge cleanly into the integration branch. The merge was
    aborted; hand `contents` to a coder and pass its resolved files to `Workspace.resolve`."""

    task_id: str
    task_branch: str
    ours: str  # integration commit the merge started from
    theirs: str  # task commit
    paths: tuple[str, ...]
    contents: dict[str, str] = field(default_factory=dict)  # path -> conflict-marked text
    diff: str = ""  # `git diff` of the conflicted merge

    def render(self) -> str:
        """A compact description for a prompt: the paths and their conflict-marked text."""
        parts = [f"Merging task {self.task_id} conflicts in: {', '.join(self.paths)}"]
        for path in self.paths:
            parts.append(f"--- {path}\n{self.contents.get(path, '')}")
        return "\n".join(parts)


class Workspace:
    """A run's git workspace. Make one with `create`, `open` or `open_or_create`."""

    def __init__(
        self, root: Path, run_id: str, branch: str, base: str | None, feature: str
    ) -> None:
        self.root = root
        self.run_id = run_id
        self.branch = branch
        self.base = base  # the commit the run started from (None if unknown)
        self.feature = feature
        self.run_dir = root / ".crew" / "worktrees" / run_id
        self.path = self.run_dir / "integration"
        self._lock = threading.RLock()
        # the run's protected paths (the crew's `protected:` list and the protect hook's):
        # a task's change touching one is refused at commit (None: only secrets are checked)
        self.protected: ProtectedMatch | None = None
        # the files a sandbox masks (read as empty inside): skip-worktree in task worktrees
        self.masked: ProtectedMatch | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls, repo: str | Path, run_id: str, feature: str, base: str | None = None
    ) -> Workspace:
        """A new branch `crew/<slug>-<run_id>` from `base` (default HEAD) and its worktree.
        UserError if the repo is unusable, mid-merge/rebase, or the run already has one."""
        check_run_id(run_id)
        root = repo_root(repo)
        refuse_in_progress(root)
        base_sha = rev(root, base or "HEAD")
        if base_sha is None:
            raise UserError(
                f"base {base!r} is not a commit in {str(root)!r}",
                field="base",
                hint="use a branch, tag or commit id that exists (see `git branch -a`)",
            )
        branch = f"crew/{feature_slug(feature)}-{run_id}"
        ws = cls(root, run_id, branch, base_sha, feature)
        if ws._meta_file.exists() or branch_exists(root, branch):
            raise UserError(
                f"run {run_id!r} already has a workspace (branch {branch})",
                hint=f"resume it with `crew resume {run_id}`",
            )
        ensure_excluded(root)
        with ws._lock:
            ws.run_dir.mkdir(parents=True, exist_ok=True)
            run_git(root, "worktree", "add", "-b", branch, str(ws.path), base_sha)
            ws._write_meta()
        return ws

    @classmethod
    def open(cls, repo: str | Path, run_id: str, feature: str | None = None) -> Workspace:
        """The existing workspace of `run_id`; its worktree is re-added if it was removed."""
        check_run_id(run_id)
        root = repo_root(repo)
        meta_file = root / ".crew" / "worktrees" / run_id / "workspace.json"
        base: str | None = None
        meta = _read_meta(meta_file)
        if meta:
            branch, base, feature = str(meta["branch"]), meta.get("base"), str(meta["feature"])
        elif feature is not None:
            branch = f"crew/{feature_slug(feature)}-{run_id}"
        else:
            branch = find_run_branch(root, run_id)
        if not branch_exists(root, branch):
            raise UserError(
                f"no workspace for run {run_id!r} in {str(root)!r} (branch {branch} is missing)",
                hint="check the run id with `crew show`, or start a new run",
            )
        ensure_excluded(root)
        ws = cls(root, run_id, branch, base, feature or branch)
        with ws._lock:
            ws._ensure_worktree(ws.path, branch)
            if not ws._meta_file.exists():
                ws._write_meta()
        return ws

    @classmethod
    def open_or_create(
        cls, repo: str | Path, run_id: str, feature: str, base: str | None = None
    ) -> Workspace:
        """`open` if the run already has a workspace, else `create`."""
        check_run_id(run_id)
        root = repo_root(repo)
        meta = root / ".crew" / "worktrees" / run_id / "workspace.json"
        if meta.exists() or branch_exists(root, f"crew/{feature_slug(feature)}-{run_id}"):
            return cls.open(root, run_id, feature)
        return cls.create(root, run_id, feature, base)

    # ------------------------------------------------------------------ queries

    def head(self) -> str:
        """The integration branch's current commit."""
        sha = rev(self.root, f"refs/heads/{self.branch}")
        if sha is None:
            raise WorkspaceError(f"branch {self.branch} disappeared")
        return sha

    def task_branch(self, task_id: str) -> str:
        return f"{self.branch}--{check_task_id(task_id)}"

    def task_path(self, task_id: str) -> Path:
        return self.run_dir / "tasks" / check_task_id(task_id)

    def worktree_for(self, task_id: str) -> Path:
        """Where a task works: its own worktree if it has one, else the integration worktree."""
        path = self.task_path(task_id)
        return path if path.resolve() in worktrees(self.root) else self.path

    def find_task_commit(self, task_id: str) -> str | None:
        """The commit this run made for `task_id` (by its trailers) on the integration branch
        or the task's branch, or None. A resumed run calls this instead of committing twice."""
        check_task_id(task_id)
        revisions = [f"refs/heads/{self.branch}"]
        tb = self.task_branch(task_id)
        if branch_exists(self.root, tb):
            revisions.append(f"refs/heads/{tb}")
        if self.base:
            revisions.append(f"^{self.base}")
        for sha, (runs, tasks) in trailer_log(self.root, revisions, RUN_TRAILER, TASK_TRAILER):
            if self.run_id in runs.split("\x1d") and task_id in tasks.split("\x1d"):
                return sha
        return None

    def is_merged(self, task_id: str) -> bool:
        """Whether the task's branch exists and is contained in the integration branch."""
        tb = self.task_branch(task_id)
        return branch_exists(self.root, tb) and is_ancestor(self.root, tb, self.branch)

    # ------------------------------------------------------------------ commits

    def commit_task(self, task_id: str, title: str, role: str, body: str = "") -> str | None:
        """Commit everything the task changed in its worktree as one commit authored by `role`,
        with `Crew-Run` and `Crew-Task` trailers. Returns the commit id; None if the task changed
        nothing. If this run already committed the task, returns that commit (no duplicate)."""
        existing = self.find_task_commit(task_id)
        if existing is not None:
            return existing
        wt = self.worktree_for(task_id)
        subject = " ".join(f"crew: {task_id}: {title}".split())
        trailers = f"{RUN_TRAILER}: {self.run_id}\n{TASK_TRAILER}: {task_id}"
        message = (
            f"{subject}\n\n{body.strip()}\n\n{trailers}\n"
            if body.strip()
            else (f"{subject}\n\n{trailers}\n")
        )
        message = scrub(safe_text(message))  # a model's NUL or surrogate cannot reach git
        with self._task_lock(wt):
            run_git(wt, "add", "-A", "--", *NOISE_PATHSPECS)
            if run_git(wt, "diff", "--cached", "--quiet", check=False).ok:
                return None
            refuse_secrets(wt, task_id, self.protected)
            run_git(
                wt, "commit", "--no-verify", "--quiet", "-m", message,
                env=identity_env(*role_identity(role)),
            )  # fmt: skip
            sha = rev(wt, "HEAD")
        assert sha is not None
        return sha

    def task_base(self, path: Path) -> str | None:
        """The commit a task worktree started from (where it left the integration branch);
        None for the integration worktree itself (its HEAD is the base)."""
        if path.resolve() == self.path.resolve():
            return None
        return fork_point(path, self.branch)

    def commit_problems(self, path: Path) -> list[str]:
        """Why the change in the worktree at `path` would be refused at commit (empty: it
        would not be): what an agent is told before it ends its turn."""
        return commit_problems(path, self.protected)

    # ------------------------------------------------------------------ concurrent tasks

    def task_worktree(self, task_id: str) -> TaskWorktree:
        """The task's own worktree on `crew/<slug>-<run>--<task>`, branched from the integration
        branch's current commit (so create it once the task's dependencies are merged).
        Reuses the worktree or branch when they already exist (resume)."""
        tb, path = self.task_branch(task_id), self.task_path(task_id)
        with self._lock:
            if branch_exists(self.root, tb):
                self._ensure_worktree(path, tb)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                run_git(self.root, "worktree", "prune")
                run_git(self.root, "worktree", "add", "-b", tb, str(path), self.branch)
            if self.masked is not None:
                skip_masked(path, self.masked)
        return TaskWorktree(task_id, tb, path)

    def merge_task(self, task_id: str, *, fast_forward: bool = False) -> str | MergeConflict:
        """Merge the task's branch into the integration branch (a merge commit with a
        `Crew-Merge` trailer). Returns the new integration commit, or a MergeConflict after
        aborting the merge, which leaves the integration worktree clean. Merging a task that is
        already merged returns the current commit. `fast_forward`: when the integration branch
        has not moved since the task branched, move it forward instead (linear history)."""
        tb = self.task_branch(task_id)
        if not branch_exists(self.root, tb):
            raise WorkspaceError(f"task {task_id!r} has no branch {tb} to merge")
        with self._lock:
            self._ensure_worktree(self.path, self.branch)
            self._require_clean_integration()
            if is_ancestor(self.root, tb, self.branch):
                return self.head()
            ours, theirs = self.head(), rev(self.root, f"refs/heads/{tb}") or tb
            if fast_forward and is_ancestor(self.root, self.branch, tb):
                run_git(self.path, "merge", "--ff-only", "--quiet", f"refs/heads/{tb}")
                return self.head()
            result = run_git(
                self.path, "merge", "--no-ff", "--no-verify", "-m", self._merge_message(task_id),
                f"refs/heads/{tb}", env=identity_env(*CREW_IDENTITY), check=False,
            )  # fmt: skip
            if result.ok:
                return self.head()
            paths = unmerged_paths(self.path)
            if not paths:
                if merge_in_progress(self.path):
                    run_git(self.path, "merge", "--abort", check=False)
                raise WorkspaceError(f"merging task {task_id!r} failed: {result.err.strip()}")
            contents = {p: _read_text(self.path / p) for p in paths}
            diff = run_git(self.path, "diff", check=False).out
            run_git(self.path, "merge", "--abort")
            return MergeConflict(task_id, tb, ours, theirs, tuple(paths), contents, diff)

    def resolve(
        self, conflict: MergeConflict, files: Mapping[str, str | None], role: str = "coder"
    ) -> str:
        """Complete a conflicted merge with resolved file contents (None deletes the file),
        committed as `role`. Raises WorkspaceError, leaving the worktree clean, if a conflicting
        path is missing from `files`, still holds conflict markers, or the branch moved."""
        missing = [p for p in conflict.paths if p not in files]
        if missing:
            raise WorkspaceError(f"no resolution given for {', '.join(missing)}")
        for path, text in files.items():
            _safe_rel(path)
            if text is not None and has_conflict_markers(text):
                raise WorkspaceError(f"{path} still contains conflict markers")
        with self._lock:
            self._ensure_worktree(self.path, self.branch)
            self._require_clean_integration()
            if self.head() != conflict.ours:
                raise WorkspaceError(
                    f"{self.branch} moved since the conflict on task {conflict.task_id!r}; "
                    "merge the task again to get the current conflict"
                )
            started = run_git(
                self.path, "merge", "--no-ff", "--no-commit", "--no-verify",
                f"refs/heads/{conflict.task_branch}", env=identity_env(*CREW_IDENTITY),
                check=False,
            )  # fmt: skip
            if not merge_in_progress(self.path):
                raise WorkspaceError(
                    f"could not restart the merge of task {conflict.task_id!r}: "
                    f"{started.err.strip()}"
                )
            try:
                for path, text in files.items():
                    target = self.path / path
                    if text is None:
                        target.unlink(missing_ok=True)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(text, encoding="utf-8")
                run_git(self.path, "add", "-A", "--", *files)
                left = unmerged_paths(self.path)
                if left:
                    raise WorkspaceError(f"still unresolved: {', '.join(left)}")
                message = self._merge_message(conflict.task_id, resolved_by=role)
                run_git(
                    self.path, "commit", "--no-verify", "--quiet", "-m", message,
                    env=identity_env(*role_identity(role)),
                )  # fmt: skip
            except BaseException:
                if merge_in_progress(self.path):
                    run_git(self.path, "merge", "--abort", check=False)
                raise
            return self.head()

    # ------------------------------------------------------------------ cleanup

    def remove_task_worktree(self, task_id: str, *, force: bool = False) -> bool:
        """Remove a task's worktree (its branch stays). False if kept because it has
        uncommitted changes and not `force`."""
        with self._lock:
            return self._remove_worktree(self.task_path(task_id), force)

    def cleanup(
        self, *, force: bool = False, delete_merged_task_branches: bool = True
    ) -> list[Path]:
        """Remove this run's worktrees, keeping the integration branch (the run's result) and
        workspace.json. Task branches already merged are deleted. Returns the worktrees kept
        because they hold uncommitted changes (all are removed with `force`)."""
        kept: list[Path] = []
        with self._lock:
            tasks_dir = self.run_dir / "tasks"
            task_dirs = sorted(tasks_dir.iterdir()) if tasks_dir.is_dir() else []
            for path in [*task_dirs, self.path]:
                if not self._remove_worktree(path, force):
                    kept.append(path)
            if tasks_dir.is_dir() and not any(tasks_dir.iterdir()):
                tasks_dir.rmdir()
            if delete_merged_task_branches:
                prefix = f"refs/heads/{self.branch}--"
                refs = run_git(self.root, "for-each-ref", "--format=%(refname)", f"{prefix}*").out
                for ref in refs.split():
                    if is_ancestor(self.root, ref, f"refs/heads/{self.branch}"):
                        run_git(self.root, "branch", "-D", ref[len("refs/heads/") :])
        return kept

    # ------------------------------------------------------------------ internals

    @property
    def _meta_file(self) -> Path:
        return self.run_dir / "workspace.json"

    def _write_meta(self) -> None:
        meta = {"run_id": self.run_id, "branch": self.branch, "base": self.base,
                "feature": self.feature}  # fmt: skip
        self._meta_file.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def _merge_message(self, task_id: str, resolved_by: str | None = None) -> str:
        note = f" (conflicts resolved by {scrub(resolved_by)})" if resolved_by else ""
        return (
            f"crew: merge {task_id}{note}\n\n"
            f"{RUN_TRAILER}: {self.run_id}\n{MERGE_TRAILER}: {task_id}\n"
        )

    def _task_lock(self, wt: Path) -> AbstractContextManager[object]:
        # The integration worktree is shared (commits, merges); a task worktree is the task's.
        return self._lock if wt == self.path else nullcontext()

    def _ensure_worktree(self, path: Path, branch: str) -> None:
        """Make `path` a worktree of `branch`, re-adding it if it was removed."""
        current = worktrees(self.root)
        if current.get(path.resolve()) == branch:
            return
        elsewhere = [p for p, b in current.items() if b == branch]
        if elsewhere:
            raise WorkspaceError(
                f"branch {branch} is checked out in {elsewhere[0]}; crew needs it in {path} "
                f"(switch that worktree to another branch)"
            )
        if path.exists():
            if any(path.iterdir()):
                raise WorkspaceError(f"{path} exists but is not a worktree of {branch}")
            path.rmdir()
        path.parent.mkdir(parents=True, exist_ok=True)
        run_git(self.root, "worktree", "prune")
        run_git(self.root, "worktree", "add", str(path), branch)

    def _remove_worktree(self, path: Path, force: bool) -> bool:
        if path.resolve() not in worktrees(self.root):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            run_git(self.root, "worktree", "prune")
            return not path.exists()
        if not force and dirty(path):
            return False
        run_git(self.root, "worktree", "remove", "--force", str(path))
        if path.exists():  # ignored files (caches) survive `worktree remove` on some gits
            shutil.rmtree(path)
        return True

    def _require_clean_integration(self) -> None:
        if merge_in_progress(self.path):
            run_git(self.path, "merge", "--abort", check=False)
        changes = dirty(self.path)
        if changes:
            raise WorkspaceError(
                f"the integration worktree {self.path} has uncommitted changes:\n{changes}"
            )


def _read_meta(path: Path) -> dict[str, str | None] | None:
    """workspace.json, or None when missing or unreadable (then the branch is searched)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(meta, dict) and isinstance(meta.get("branch"), str) and "feature" in meta
    return meta if ok else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return ""


def _safe_rel(path: str) -> None:
    p = Path(path)
    if p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0] == ".git":
        raise WorkspaceError(f"{path!r} is not a relative path inside the repository")
