"""Workspace confinement: every path a tool touches resolves inside the workspace and outside
the protected paths (.git, .crew and secret files such as .env at any depth), or the tool
refuses it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from crew.textsafe import safe_text, unusable_at
from crew.tools.base import ToolError
from crew.tools.sandbox.masks import DEFAULT_PROTECTED, protected_match, sandbox_masks

__all__ = ["DEFAULT_PROTECTED", "PathPolicy"]


@dataclass(frozen=True)
class PathPolicy:
    """Where tools may read and write.

    `protected` holds glob patterns: one without '/' matches any path component (so `.env`
    protects `sub/.env` too); one with '/' matches a path prefix from the workspace root.
    """

    root: Path
    protected: tuple[str, ...] = DEFAULT_PROTECTED

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    def protected_match(self, rel: str) -> str | None:
        """The pattern protecting workspace-relative `rel`, or None."""
        return protected_match(rel, self.protected)

    def resolve(self, path: str, *, what: str = "path") -> Path:
        """The real path of workspace-relative `path`; ToolError when it escapes or is protected."""
        if not isinstance(path, str) or not path.strip():
            raise ToolError(f"empty {what}: give a path relative to the workspace root")
        raw = path.strip()
        if unusable_at(raw) is not None:
            raise ToolError(f"{what} {safe_text(raw)!r} refused: it holds a NUL byte or an "
                            "invalid unicode character (a lone surrogate)")
        if raw.startswith("~"):
            raise ToolError(
                f"{what} {raw!r} refused: '~' is not expanded; paths are relative to the workspace"
            )
        p = PurePosixPath(raw)
        if p.is_absolute():
            raise ToolError(
                f"{what} {raw!r} refused: absolute paths are not allowed; "
                "use a path relative to the workspace root"
            )
        if ".." in p.parts:
            lexical = (self.root / p).resolve(strict=False)
            if not self._inside(lexical) or self._walks_out(p):
                raise ToolError(f"{what} {raw!r} refused: it leads outside the workspace")
        candidate = self.root / p
        real = candidate.resolve(strict=False)
        if not self._inside(real):
            raise ToolError(
                f"{what} {raw!r} refused: it resolves outside the workspace (through a symlink)"
            )
        for rel in {p.as_posix(), self.relative(real)}:
            pat = self.protected_match(rel)
            if pat:
                raise ToolError(f"{what} {raw!r} refused: it is protected ({pat})")
        return real

    def relative(self, real: Path) -> str:
        """Workspace-relative posix form of a resolved path inside the workspace."""
        rel = real.relative_to(self.root).as_posix()
        return rel or "."

    def _inside(self, real: Path) -> bool:
        return real == self.root or self.root in real.parents

    def _walks_out(self, p: PurePosixPath) -> bool:
        depth = 0
        for part in p.parts:
            depth += -1 if part == ".." else (0 if part == "." else 1)
            if depth < 0:
                return True
        return False

    def sandbox_masks(self) -> tuple[list[str], list[str]]:
        """(read_only, hidden) paths for a sandbox, at any depth: .git and .crew stay
        read-only inside, other protected files (.env, app/.env.local, ...) cannot be read."""
        return sandbox_masks(self.root, self.protected)
