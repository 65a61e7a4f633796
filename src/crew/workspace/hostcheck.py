"""What a run may not change in the user's repository: refs, hooks and config.

`snapshot` records them before a run; `changes` compares after it and names every change crew
did not make itself (its own run branch and task branches, its worktrees, its `/.crew/` line
in info/exclude). Config values are fingerprinted, never shown: they may hold credentials.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from crew.workspace.git import run_git

Snapshot = dict[str, str]
_CREW_EXCLUDE = ("# crew: run state and worktrees, never committed", "/.crew/")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _common_dir(root: Path) -> Path:
    rel = run_git(root, "rev-parse", "--git-common-dir").out.strip()
    return (root / rel).resolve()


def _config_entries(path: Path, label: str, snap: Snapshot) -> None:
    """One entry per config key (value fingerprinted), so a change names the key only."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]").split("]")[0].strip().lower()
            continue
        name, _, value = line.partition("=")
        key = f"config {label}: {section}.{name.strip().lower()}"
        prev = snap.get(key, "")
        snap[key] = _digest((prev + "\0" + value.strip()).encode())


def snapshot(root: Path) -> Snapshot:
    """Refs (with HEAD of every worktree), hooks and config of the repository at `root`."""
    snap: Snapshot = {}
    refs = run_git(root, "for-each-ref", "--format=%(refname) %(objectname)").out
    for line in refs.splitlines():
        name, _, sha = line.partition(" ")
        snap[f"ref {name}"] = sha
    porcelain = run_git(root, "worktree", "list", "--porcelain").out
    path = ""
    for line in porcelain.splitlines():
        if line.startswith("worktree "):
            path = line[len("worktree "):]
        elif line.startswith(("HEAD ", "branch ")) and path:
            key = f"worktree {path} {line.split(' ', 1)[0]}"
            snap[key] = line.split(" ", 1)[1]
    common = _common_dir(root)
    hooks = [common / "hooks"]
    custom = run_git(root, "config", "--get", "core.hooksPath", check=False).out.strip()
    if custom:
        hooks.append((root / os.path.expanduser(custom)).resolve())
    for d in hooks:
        for f in sorted(d.rglob("*")) if d.is_dir() else []:
            with contextlib.suppress(OSError):
                if f.is_file():
                    mode = "x" if os.access(f, os.X_OK) else "-"
                    snap[f"hook {f}"] = mode + _digest(f.read_bytes())
    _config_entries(common / "config", ".git/config", snap)
    _config_entries(common / "config.worktree", ".git/config.worktree", snap)
    for wt in sorted((common / "worktrees").glob("*/config.worktree")):
        where = wt.parent.name
        with contextlib.suppress(OSError):
            where = str(Path((wt.parent / "gitdir").read_text().strip()).parent)
        _config_entries(wt, f"{where}/.git config.worktree", snap)
    for name in ("info/attributes", "info/exclude"):
        with contextlib.suppress(OSError):
            lines = (common / name).read_text(encoding="utf-8", errors="replace").splitlines()
            kept = [x for x in lines if x.strip() not in _CREW_EXCLUDE]
            snap[f"file .git/{name}"] = _digest("\n".join(kept).encode())
    return snap


def _crews(key: str, branch: str, run_dir: Path) -> bool:
    """Whether `key` is something the run itself creates or moves: its branches and the
    HEADs of its worktrees (never a config or a hook, not even in its own worktrees)."""
    if key == f"ref refs/heads/{branch}" or key.startswith(f"ref refs/heads/{branch}--"):
        return True
    return key.startswith(f"worktree {run_dir.resolve()}/")


def changes(before: Snapshot, after: Snapshot, branch: str, run_dir: Path) -> list[str]:
    """Every difference between two snapshots that the run did not make, one line each."""
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key) or _crews(key, branch, run_dir):
            continue
        what = ("added" if key not in before else "removed" if key not in after
                else "changed")
        if key.startswith("ref ") and what == "changed":
            what = f"moved {before[key][:10]} → {after[key][:10]}"
        out.append(f"{key[key.index(' ') + 1:]} ({key.split(' ')[0]}): {what}")
    return out
