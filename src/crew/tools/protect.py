"""The built-in `protect` hook: refuses writes to configured globs.

    hooks: [{name: protect, settings: {paths: ["migrations/**", "*.lock"]}}]

`paths` are globs over workspace-relative paths (`*` also crosses `/`; `dir/**` covers the
directory and everything under it). `tools` lists the writing tools it watches (default
write_file and edit_file) with the argument naming the path (default `path`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crew.tools.hooks import Hook


class ProtectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)
    tools: list[str] = Field(default_factory=lambda: ["write_file", "edit_file"])
    argument: str = "path"


def _norm(path: str) -> str:
    parts = [p for p in PurePosixPath(path.strip()).parts if p not in (".", "/")]
    return "/".join(parts)


def matches(path: str, pattern: str) -> bool:
    rel, pat = _norm(path), _norm(pattern)
    if fnmatchcase(rel, pat):
        return True
    if pat.endswith("/**"):
        base = pat[:-3]
        return fnmatchcase(rel, base) or any(
            fnmatchcase("/".join(rel.split("/")[:i]), base) for i in range(1, rel.count("/") + 1))
    return False


class ProtectHook(Hook):
    """Vetoes a watched tool's call whose path matches one of `paths`."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.config = ProtectSettings.model_validate(self.settings)

    def before_tool(self, call: Any, ctx: Any) -> str | None:
        if call.name not in self.config.tools:
            return None
        try:
            import json

            args = json.loads(call.arguments or "{}")
        except ValueError:
            return None
        path = args.get(self.config.argument) if isinstance(args, dict) else None
        if not isinstance(path, str):
            return None
        for pat in self.config.paths:
            if matches(path, pat):
                return (f"{path} is protected (hook 'protect', pattern {pat!r}); "
                        "leave it unchanged and change other files instead")
        return None


def commit_guard(protected: Sequence[str], hooks: Iterable[Any] = ()
                 ) -> Callable[[str], str | None]:
    """What a task's commit refuses, whatever wrote it (a tool, a command): a path the
    sandbox's `protected` list covers, or one of a `protect` hook's `paths` (its HookSpecs
    among `hooks`). Returns path -> the pattern that protects it, or None."""
    from crew.tools.sandbox.masks import protected_match

    globs = [pat for h in hooks if getattr(h, "name", None) == "protect"
             for pat in ProtectSettings.model_validate(getattr(h, "settings", {})).paths]

    def match(path: str) -> str | None:
        found = protected_match(path, protected)
        if found is not None:
            return found
        return next((f"protect: {pat}" for pat in globs if matches(path, pat)), None)

    return match
