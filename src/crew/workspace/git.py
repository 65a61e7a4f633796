"""Git plumbing for the workspace: a thread-safe command runner over GitPython and the checks
that decide whether crew may work on a repository. GitPython is imported lazily."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crew.errors import CrewRuntimeError, UserError
from crew.textsafe import safe_text

# Options on every git call crew makes: crew's own commits are never signed, never run the
# user's (or an agent's) hooks — crew's gates are its acceptance commands —, never replay
# recorded resolutions, and no program named in a config runs: fsmonitor, editors, pagers,
# ssh, credential helpers. Filter, textconv and merge drivers are blanked per repository
# (`driver_options`), external diff programs by `--no-ext-diff`.
GIT_OPTIONS: tuple[str, ...] = (
    "-c", "commit.gpgsign=false",
    "-c", "tag.gpgsign=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.untrackedCache=false",
    "-c", "core.sshCommand=false",
    "-c", "core.editor=true",
    "-c", "sequence.editor=true",
    "-c", "core.pager=cat",
    "-c", "credential.helper=",
    "-c", "protocol.allow=never",
    "-c", "rerere.enabled=false",
    "-c", "core.quotePath=false",
    "-c", "advice.detachedHead=false",
)  # fmt: skip
# Config keys that name a program git would run on add, checkout, diff or merge.
_DRIVER_KEYS = r"^(filter\..+\.(clean|smudge|process)|diff\..+\.textconv|merge\..+\.driver)$"
_PATCH_COMMANDS = frozenset({"diff", "show", "log"})
_driver_cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], tuple[str, ...]] = {}
_driver_lock = threading.Lock()

# Caches that running tools leaves in a worktree: never committed by crew, never "changes".
NOISE_PATHSPECS: tuple[str, ...] = (
    ".",
    *(
        f":(glob,exclude){p}"
        for p in ("**/__pycache__/**", "**/*.pyc", "**/.pytest_cache/**", "**/.mypy_cache/**",
                  "**/.ruff_cache/**")
    ),
)  # fmt: skip

# In-progress operations that make a repository's state ambiguous: (git-path, what, fix).
IN_PROGRESS: tuple[tuple[str, str, str], ...] = (
    ("MERGE_HEAD", "a merge", "finish it with `git commit` or cancel it with `git merge --abort`"),
    ("rebase-merge", "a rebase", "run `git rebase --continue` or `git rebase --abort`"),
    ("rebase-apply", "a rebase or `git am`", "run `git rebase --abort` or `git am --abort`"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "run `git cherry-pick --continue` or `--abort`"),
    ("REVERT_HEAD", "a revert", "run `git revert --continue` or `git revert --abort`"),
    ("BISECT_LOG", "a bisect", "run `git bisect reset`"),
)

_CONFLICT_MARKER = re.compile(r"^(<{7}|>{7}|={7})(\s|$)", re.MULTILINE)


class WorkspaceError(CrewRuntimeError):
    """A git operation in the workspace failed for a reason other than the user's input."""


@dataclass(frozen=True)
class GitResult:
    status: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.status == 0


def run_git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> GitResult:
    """Run `git <args>` in `cwd` (a fresh process per call, so threads may share nothing).
    Raises WorkspaceError when `check` and git exits non-zero."""
    from git import Git

    runner = Git(str(cwd))
    exe = str(Git.GIT_PYTHON_GIT_EXECUTABLE or "git")
    if args and args[0] in _PATCH_COMMANDS:
        args = (args[0], "--no-ext-diff", *args[1:])
    args = tuple(map(_passable, args))
    command: list[str] = [exe, *GIT_OPTIONS, *driver_options(cwd, exe), *args]
    kwargs: dict[str, Any] = {
        "with_extended_output": True,
        "with_exceptions": False,
        "strip_newline_in_stdout": False,
    }
    if env:
        kwargs["env"] = dict(env)
    status, out, err = runner.execute(command, **kwargs)
    result = GitResult(int(status or 0), str(out), str(err))
    if check and not result.ok:
        raise WorkspaceError(
            f"git {' '.join(args)} failed in {cwd} (exit {result.status}): {result.err.strip()}"
        )
    return result


def _passable(arg: str) -> str:
    """`arg` as it can be passed to a process: kept when the OS can take it (file names with
    undecodable bytes included), else made safe (crew.textsafe): a NUL or a lone surrogate
    from a model's text would fail the whole command."""
    try:
        if "\x00" not in arg:
            os.fsencode(arg)
            return arg
    except UnicodeEncodeError:
        pass
    return safe_text(arg)


def _config_files(cwd: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the config files git reads for `cwd` (the cache key)."""
    found: list[tuple[str, int, int]] = []
    dot = cwd / ".git"
    dirs = [dot] if dot.is_dir() else []
    if dot.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            gitdir = (cwd / dot.read_text(encoding="utf-8").split(":", 1)[1].strip()).resolve()
            dirs.append(gitdir)
            with contextlib.suppress(OSError):
                dirs.append((gitdir / (gitdir / "commondir").read_text().strip()).resolve())
    for d in dirs:
        for name in ("config", "config.worktree"):
            with contextlib.suppress(OSError):
                st = os.stat(d / name)
                found.append((str(d / name), st.st_mtime_ns, st.st_size))
    return tuple(found)


def driver_options(cwd: Path, exe: str = "git") -> tuple[str, ...]:
    """`-c key=` for every filter, textconv and merge driver the repository's config names,
    so crew's git runs none of them. Cached until a config file changes."""
    import subprocess

    key = (str(cwd), _config_files(cwd))
    with _driver_lock:
        if key in _driver_cache:
            return _driver_cache[key]
    proc = subprocess.run(
        [exe, "-c", "core.fsmonitor=false", "config", "--name-only", "--get-regexp",
         _DRIVER_KEYS], cwd=cwd, capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL,
    )
    opts: list[str] = []
    for name in sorted(set(proc.stdout.split())):
        opts += ["-c", f"{name}="]
        if name.startswith("filter."):
            opts += ["-c", f"{name.rsplit('.', 1)[0]}.required=false"]
    result = tuple(opts)
    with _driver_lock:
        if len(_driver_cache) > 256:
            _driver_cache.clear()
        _driver_cache[key] = result
    return result


def identity_env(name: str, email: str) -> dict[str, str]:
    """Environment making `name <email>` both author and committer of a git commit."""
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def enclosing_repo(path: Path) -> Path | None:
    """The nearest folder at or above `path` holding a `.git` (no git process, no GitPython:
    for defaults and messages; `repo_root` is the checked answer)."""
    target = path.resolve()
    return next((d for d in (target, *target.parents) if (d / ".git").exists()), None)


def repo_root(path: str | Path) -> Path:
    """The top of the git working tree holding `path`, or UserError saying how to fix it."""
    from git import InvalidGitRepositoryError, NoSuchPathError, Repo

    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(
            f"repository path {str(p)!r} does not exist",
            field="repo",
            hint="set repo: in feature.yaml (or --repo) to an existing git repository",
        )
    try:
        repo = Repo(p, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise UserError(
            f"{str(p)!r} is not a git repository",
            field="repo",
            hint="run `git init && git add -A && git commit -m init` there, "
            "or point repo: at a git repository",
        ) from None
    try:
        if repo.bare or repo.working_tree_dir is None:
            raise UserError(
                f"{str(p)!r} is a bare git repository; crew needs a working tree",
                field="repo",
                hint="clone it (`git clone <bare> <dir>`) and point repo: at the clone",
            )
        root = Path(repo.working_tree_dir).resolve()
    finally:
        repo.close()
    if not run_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).ok:
        raise UserError(
            f"{str(root)!r} has no commits yet",
            field="repo",
            hint="make a first commit (`git add -A && git commit -m init`)",
        )
    return root


def refuse_in_progress(root: Path) -> None:
    """UserError when the repository is in the middle of a merge, rebase, cherry-pick, etc."""
    args: list[str] = []
    for name, _, _ in IN_PROGRESS:
        args += ["--git-path", name]
    paths = run_git(root, "rev-parse", *args).out.splitlines()
    for (_, what, fix), rel in zip(IN_PROGRESS, paths, strict=True):
        if (root / rel).exists():
            raise UserError(
                f"the repository {str(root)!r} is in the middle of {what}",
                field="repo",
                hint=f"{fix}, then run crew again",
            )


def ensure_excluded(root: Path, entry: str = "/.crew/") -> bool:
    """Add `entry` to the repository's info/exclude once. Returns True if it was added."""
    rel = run_git(root, "rev-parse", "--git-path", "info/exclude").out.strip()
    exclude = root / rel
    text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    bare = entry.strip("/")
    if any(line.strip().strip("/") == bare for line in text.splitlines()):
        return False
    exclude.parent.mkdir(parents=True, exist_ok=True)
    sep = "" if not text or text.endswith("\n") else "\n"
    with exclude.open("a", encoding="utf-8") as fh:
        fh.write(f"{sep}# crew: run state and worktrees, never committed\n{entry}\n")
    return True


def rev(cwd: Path, ref: str) -> str | None:
    """The commit id `ref` names, or None."""
    r = run_git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return r.out.strip() if r.ok else None


def branch_exists(cwd: Path, branch: str) -> bool:
    return run_git(cwd, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).ok


def is_ancestor(cwd: Path, older: str, newer: str) -> bool:
    return run_git(cwd, "merge-base", "--is-ancestor", older, newer, check=False).ok


def worktrees(root: Path) -> dict[Path, str | None]:
    """Registered worktrees that exist on disk: {path: branch name or None if detached}."""
    out = run_git(root, "worktree", "list", "--porcelain", "-z").out
    result: dict[Path, str | None] = {}
    path: Path | None = None
    for field in out.split("\0"):
        if field.startswith("worktree "):
            path = Path(field[len("worktree ") :]).resolve()
            result[path] = None
        elif field.startswith("branch refs/heads/") and path is not None:
            result[path] = field[len("branch refs/heads/") :]
        elif field == "prunable" and path is not None:
            result.pop(path, None)
    return {p: b for p, b in result.items() if p.exists()}


def dirty(cwd: Path) -> str:
    """`git status --porcelain` of a worktree, ignoring tool caches (NOISE_PATHSPECS)."""
    return run_git(cwd, "status", "--porcelain", "--", *NOISE_PATHSPECS).out.strip()


def unmerged_paths(cwd: Path) -> list[str]:
    out = run_git(cwd, "diff", "--name-only", "--diff-filter=U", "-z").out
    return sorted({p for p in out.split("\0") if p})


def merge_in_progress(cwd: Path) -> bool:
    rel = run_git(cwd, "rev-parse", "--git-path", "MERGE_HEAD").out.strip()
    return (cwd / rel).exists()


def has_conflict_markers(text: str) -> bool:
    return bool(_CONFLICT_MARKER.search(text))


def trailer_log(cwd: Path, revisions: Sequence[str], *keys: str) -> list[tuple[str, list[str]]]:
    """Non-merge commits in `revisions` with the values of trailers `keys`:
    [(sha, [value of key 1, value of key 2, ...])], newest first."""
    fmt = (
        "%H"
        + "".join(f"%x1f%(trailers:key={k},valueonly,separator=%x1d,unfold)" for k in keys)
        + "%x1e"
    )
    out = run_git(cwd, "log", "--no-merges", f"--format={fmt}", *revisions, "--").out
    rows: list[tuple[str, list[str]]] = []
    for record in out.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == len(keys) + 1 and parts[0]:
            rows.append((parts[0], [p.strip() for p in parts[1:]]))
    return rows


def find_run_branch(root: Path, run_id: str) -> str:
    """The branch `crew/<slug>-<run_id>` of a run, or UserError if none or several."""
    refs = run_git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads/crew/").out
    found = [r for r in refs.split() if r.endswith(f"-{run_id}") and "--" not in r]
    if len(found) != 1:
        raise UserError(
            f"no workspace for run {run_id!r} in {str(root)!r}"
            + (f" (ambiguous: {', '.join(found)})" if found else ""),
            hint="check the run id with `crew show`, or pass the feature title",
        )
    return found[0]
