"""Protected paths: which workspace paths the tools refuse, and what a sandbox hides.

A pattern without '/' matches any path component at any depth (`.env` protects `app/.env`);
one with '/' matches a path prefix from the workspace root. Inside a sandbox, protected
directories (and a worktree's `.git` file) are read-only and protected files read as empty.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

# Always protected, whatever a crew file says: crew's own state and the repository's git.
ALWAYS_PROTECTED: tuple[str, ...] = (".git", ".crew")
# Files holding secrets by convention: masked at any depth. A crew or feature replaces this
# list with `sandbox: {protected: [...]}`.
DEFAULT_SECRETS: tuple[str, ...] = (
    ".env", ".env.*", ".envrc", ".netrc", ".pypirc", ".git-credentials", ".pgpass",
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
)
DEFAULT_PROTECTED: tuple[str, ...] = (*ALWAYS_PROTECTED, *DEFAULT_SECRETS)
MAX_WALK = 200_000  # entries looked at for masks; a bigger tree is masked as far as walked


def protected_patterns(secrets: Sequence[str] | None) -> tuple[str, ...]:
    """The always-protected entries plus `secrets` (None: the default secret list)."""
    chosen = DEFAULT_SECRETS if secrets is None else tuple(secrets)
    return tuple(dict.fromkeys((*ALWAYS_PROTECTED, *chosen)))


def protected_match(rel: str, patterns: Sequence[str]) -> str | None:
    """The pattern protecting workspace-relative `rel`, or None."""
    parts = PurePosixPath(rel).parts
    for pat in patterns:
        bare = pat.strip("/")
        if "/" in bare:
            pat_parts = PurePosixPath(bare).parts
            n = len(pat_parts)
            if len(parts) >= n and all(
                fnmatch.fnmatchcase(a, b) for a, b in zip(parts[:n], pat_parts, strict=True)
            ):
                return pat
        elif any(fnmatch.fnmatchcase(p, bare) for p in parts):
            return pat
    return None


def sandbox_masks(root: Path, patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(read_only, hidden) workspace-relative paths for a sandbox, at any depth: `.git` and
    `.crew` stay read-only, every other protected file reads as empty. Symlinks are skipped
    (the sandbox resolves nothing through them to the host)."""
    read_only: list[str] = []
    hidden: list[str] = []
    seen = 0
    stack = [root]
    while stack and seen < MAX_WALK:
        here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.is_symlink():
                continue
            rel = Path(entry.path).relative_to(root).as_posix()
            is_dir = entry.is_dir(follow_symlinks=False)
            pat = protected_match(rel, patterns)
            if pat is not None and (entry.name == ".git" or (is_dir and pat in ALWAYS_PROTECTED)):
                read_only.append(rel)  # .git (a worktree's is a file) and .crew: not entered
            elif is_dir:
                stack.append(Path(entry.path))  # files inside a secret-named dir match too
            elif pat is not None:
                hidden.append(rel)
    return sorted(read_only), sorted(hidden)


def merged_masks(
    workspace: Path, patterns: Sequence[str], read_only: Sequence[str], hidden: Sequence[str]
) -> tuple[list[str], list[str]]:
    """A backend's own masks for `patterns` joined with those its caller passed."""
    ro, hid = sandbox_masks(workspace.resolve(), patterns)
    return sorted({*ro, *read_only}), sorted({*hid, *hidden})
