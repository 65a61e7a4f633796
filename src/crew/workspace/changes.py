"""A task's whole change, as the commit will see it: everything since the task's base commit,
committed or not, new (untracked) files included — read through a throwaway copy of the
worktree's index, so the worktree and its real index are never touched. The reviewer's
`git_diff`, the review prompt's file list and the commit check (`commit_problems`: protected
paths and secrets, refused before the commit and told to the agent) all read it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from crew.observability.redact import find_secrets
from crew.workspace.git import NOISE_PATHSPECS, WorkspaceError, run_git

# workspace-relative path -> the pattern protecting it (None: not protected)
ProtectedMatch = Callable[[str], str | None]


@contextlib.contextmanager
def full_index(wt: Path) -> Iterator[dict[str, str]]:
    """The environment of a git call that sees the worktree as `git add -A` would stage it
    (a temporary copy of the index; tool caches left out, as in a task's commit)."""
    real = Path(run_git(wt, "rev-parse", "--path-format=absolute", "--git-path",
                        "index").out.strip())
    fd, tmp = tempfile.mkstemp(prefix="crew-index-")
    os.close(fd)
    try:
        if real.is_file():
            shutil.copyfile(real, tmp)
        else:
            os.unlink(tmp)
        env = {"GIT_INDEX_FILE": tmp}
        run_git(wt, "add", "-A", "--", *NOISE_PATHSPECS, env=env)
        yield env
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def fork_point(wt: Path, branch: str) -> str | None:
    """Where the worktree's history left `branch` (a task's base commit), or None."""
    res = run_git(wt, "merge-base", "HEAD", f"refs/heads/{branch}", check=False)
    return res.out.strip() or None if res.ok else None


def changed_paths(wt: Path, base: str = "HEAD") -> list[str]:
    """Every path the worktree changes against `base`: committed since, staged, unstaged and
    new files."""
    with full_index(wt) as env:
        out = run_git(wt, "diff", "--cached", "--name-only", "-z", "--no-renames", base,
                      env=env).out
    return sorted({p for p in out.split("\0") if p})


def full_diff(wt: Path, base: str = "HEAD", paths: Sequence[str] = (), *,
              stat: bool = False, hidden: ProtectedMatch | None = None) -> tuple[str, list[str]]:
    """(`git diff` of everything since `base`, new files included; the changed paths left
    out because `hidden` covers them — protected files are never shown)."""
    with full_index(wt) as env:
        names = run_git(wt, "diff", "--cached", "--name-only", "-z", "--no-renames", base, "--",
                        *paths, env=env).out
        changed = sorted({p for p in names.split("\0") if p})
        left_out = [p for p in changed if hidden is not None and hidden(p) is not None]
        shown = [p for p in changed if p not in left_out]
        if not shown:
            return "", left_out
        out = run_git(wt, "diff", "--cached", "--no-textconv", "--no-color", "--no-renames",
                      *(["--stat"] if stat else []), base, "--", *shown, env=env).out
    return out, left_out


def commit_problems(wt: Path, protected: ProtectedMatch | None = None) -> list[str]:
    """Why the worktree's uncommitted change cannot be committed: each changed path a
    protected pattern covers, and each added line holding a secret (named by file and kind,
    never the value). Empty: it can be."""
    try:
        with full_index(wt) as env:
            names = run_git(wt, "diff", "--cached", "--name-only", "-z", "--no-renames",
                            env=env).out
            diff = run_git(wt, "diff", "--cached", "-U0", "--no-color", "--no-textconv",
                           "--no-renames", env=env).out
    except WorkspaceError:
        return []  # not a repository (a unit test's folder): nothing to commit
    problems: list[str] = []
    if protected is not None:
        for path in sorted({p for p in names.split("\0") if p}):
            pat = protected(path)
            if pat is not None:
                problems.append(f"{path} is protected ({pat!r}): restore it (`git checkout -- "
                                f"{path}`, or delete it if you created it)")
    problems += [f"{hit}: remove the secret (read keys from the environment at run time)"
                 for hit in added_secrets(diff)]
    return problems


def added_secrets(diff: str) -> list[str]:
    """'path: what' for every added line of a `-U0` diff that holds a known secret."""
    hits: list[str] = []
    path = "?"
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+"):
            hits += [f"{path}: {what}" for what in find_secrets(line[1:])]
    return list(dict.fromkeys(hits))


def skip_masked(wt: Path, masked: ProtectedMatch) -> list[str]:
    """Mark the tracked files a sandbox masks (they read as empty inside) skip-worktree in the
    worktree's index, so `git status` inside the sandbox does not show them as modified and
    no commit stages the mask. Returns the paths marked."""
    out = run_git(wt, "ls-files", "-z").out
    paths = [p for p in out.split("\0") if p and masked(p) is not None]
    if paths:
        run_git(wt, "update-index", "--skip-worktree", "--", *paths)
    return paths
