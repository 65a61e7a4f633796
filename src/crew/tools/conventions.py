"""A repository's own conventions file (AGENTS.md, CLAUDE.md or CONTRIBUTING.md: how to build,
test and write code there), read once, bounded, and placed at the head of every role's system
message: it is the same for every call of a run, so it leads the stable prefix that prompt
caches reuse across roles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crew.tools.base import ToolError
from crew.tools.paths import DEFAULT_PROTECTED, PathPolicy

# The first one present wins (CLAUDE.md often just points at AGENTS.md).
CONVENTION_FILES = ("AGENTS.md", "CLAUDE.md", "CONTRIBUTING.md", ".github/CONTRIBUTING.md",
                    "docs/CONTRIBUTING.md")
CONVENTIONS_CHARS = 4000  # ~1,000 tokens in every prompt (cached after the first call)


def read_conventions(root: Path, protected: Sequence[str] = DEFAULT_PROTECTED) -> str | None:
    """The first conventions file in `root` as a prompt section (cut at CONVENTIONS_CHARS,
    secrets scrubbed), or None. Paths are confined like the tools' (no symlink out, nothing
    protected); an unreadable or binary file is skipped."""
    from crew.observability.redact import scrub

    policy = PathPolicy(root, tuple(protected))
    for name in CONVENTION_FILES:
        try:
            path = policy.resolve(name)
            if not path.is_file():
                continue
            with path.open("rb") as f:
                data = f.read(CONVENTIONS_CHARS * 4 + 1)
        except (ToolError, OSError):
            continue
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", "replace").strip()
        if not text:
            continue
        if len(text) > CONVENTIONS_CHARS:
            cut = text.rfind("\n", 0, CONVENTIONS_CHARS)
            text = (text[:cut if cut > CONVENTIONS_CHARS // 2 else CONVENTIONS_CHARS].rstrip()
                    + f"\n[... cut; read {name} for the rest]")
        return f"## Repository conventions ({name})\n{scrub(text)}"
    return None


def with_conventions(prompt: str, conventions: str | None) -> str:
    """A system prompt with the repository's conventions first (stable across roles)."""
    return f"{conventions.strip()}\n\n{prompt}" if conventions else prompt
