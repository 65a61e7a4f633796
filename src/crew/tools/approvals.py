"""Approval rules from YAML (`approvals:`) and the approver that answers `ask`.

Which rule applies to a tool: an exact name beats a glob, a longer glob beats a shorter one.
Rules match the name the model calls (`issues__get_issue`, `run_command`) and, for an MCP tool,
its reference (`mcp:issues/get_issue`), so `"mcp:*": ask` covers every MCP tool.

`ask` is answered by `--yes` (every call) or `--approve-tools PATTERN` (matching calls) first;
otherwise by a human on a terminal; without one the call is refused with a tool error telling
the model (and the report) how to allow it. Flags never lift a `deny`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from crew.tools.base import Approval

if TYPE_CHECKING:
    from crew.tools.base import Tool

_GLOB_CHARS = "*?["


def tool_names(t: Tool) -> tuple[str, ...]:
    """The names a rule may use for `t`: the model-facing name and its reference."""
    return (t.name,) if t.ref == t.name else (t.name, t.ref)


def rule_for(rules: Mapping[str, Approval], names: Iterable[str]) -> Approval | None:
    """The policy of the most specific rule matching any of `names`, or None."""
    names = tuple(names)
    for n in names:
        if n in rules:
            return rules[n]
    globs = [k for k in rules if any(ch in k for ch in _GLOB_CHARS)]
    for pattern in sorted(globs, key=len, reverse=True):
        if any(fnmatchcase(n, pattern) for n in names):
            return rules[pattern]
    return None


def matches_any(patterns: Sequence[str], names: Iterable[str]) -> bool:
    names = tuple(names)
    return any(n == p or fnmatchcase(n, p) for p in patterns for n in names)


_prompt_lock = asyncio.Lock()


class FlagApprover:
    """Answers `ask`: `--yes`, then `--approve-tools` patterns, then a human on a terminal
    (`pause`/`resume` hide a live display around the prompt), else a refusal."""

    def __init__(self, *, yes: bool = False, patterns: Sequence[str] = (),
                 pause: Callable[[], Any] | None = None,
                 resume: Callable[[], Any] | None = None,
                 interactive: Callable[[], bool] | None = None) -> None:
        self.yes = yes
        self.patterns = tuple(patterns)
        self.pause, self.resume = pause, resume
        self.interactive = interactive or _terminal
        self.basis = ""  # how the last call was decided: flag, human, no-terminal

    async def __call__(self, t: Tool, args: dict[str, Any]) -> str | None:
        if self.yes or matches_any(self.patterns, tool_names(t)):
            self.basis = "--yes" if self.yes else "--approve-tools"
            return None
        if not self.interactive():
            self.basis = "no-terminal"
            return (f"tool {t.name!r} needs a human's approval (approvals: ask) but this run "
                    f"has no terminal, so it was refused; rerun with `--approve-tools {t.name}` "
                    "or `--yes` to allow it")
        shown = json.dumps(args, ensure_ascii=False)[:500]
        async with _prompt_lock:  # parallel calls ask one at a time
            if self.pause is not None:
                self.pause()
            try:
                answer = await asyncio.to_thread(
                    _ask, f"\ncrew: allow {t.name}({shown})? [y/N] ")
            finally:
                if self.resume is not None:
                    self.resume()
        self.basis = "human"
        if answer.strip().lower() in ("y", "yes"):
            return None
        return f"a human refused the call to {t.name!r}"


def _terminal() -> bool:
    """The process's own stdin and stdout are a terminal (a live display may wrap sys.stdout)."""
    stdin, stdout = sys.__stdin__, sys.__stdout__
    return bool(stdin and stdout and stdin.isatty() and stdout.isatty())


def _ask(prompt: str) -> str:
    out, inp = sys.__stdout__, sys.__stdin__
    assert out is not None and inp is not None
    out.write(prompt)
    out.flush()
    return inp.readline()
