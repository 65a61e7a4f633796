"""Replay scripts: the answers an offline model gives, keyed by who asks. No litellm here.

File format (YAML)::

    answers:
      - role: coder              # match keys, all optional: model, alias, task, role,
        task: add-export         #   pattern, purpose, turn (CallContext fields; `model` is
        turn: 0                  #   the <name> of replay/<name>, `alias` the router alias)
        content: "Reading the code first."
        tool_calls:              # OpenAI function calls; arguments a mapping or a JSON string
          - name: read_file
            arguments: {path: todo.py}
            id: call_1           # optional (default call_<entry>_<n>)
        usage: {prompt_tokens: 120, completion_tokens: 30}   # optional (default: ~4 chars per token)
      - role: reviewer
        content: APPROVED
        repeat: true             # may be served any number of times (default: once)
      - role: coder
        error: rate_limit        # a provider failure instead: rate_limit | server | timeout
                                 #   | context_window | auth

An ask is answered by the first entry, in file order, whose match keys all equal the caller's
CallContext and that has not been served yet (or has `repeat: true`). Keys make concurrent
agents get their own answers whatever the interleaving; entries without `turn` are served in
order. When nothing matches, ReplayMismatchError names what was asked for and what is left.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crew.errors import UserError
from crew.llm.types import ToolCall, Usage

MATCH_KEYS = ("model", "alias", "task", "role", "pattern", "purpose", "turn")
ERROR_KINDS = ("rate_limit", "server", "timeout", "context_window", "auth")
_ENTRY_KEYS = frozenset((*MATCH_KEYS, "content", "tool_calls", "usage", "repeat", "error"))


class ReplayMismatchError(UserError):
    """A replay script has no answer for this ask (ran out, or nothing matches)."""


@dataclass(frozen=True)
class ReplayEntry:
    index: int  # position in the file, 0-based
    match: dict[str, Any]
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    repeat: bool = False
    error: str | None = None

    def matches(self, asked: dict[str, Any]) -> bool:
        return all(asked.get(k) == v for k, v in self.match.items())

    def describe(self) -> str:
        keys = " ".join(f"{k}={v}" for k, v in self.match.items()) or "(any)"
        return f"#{self.index} {keys}"


def parse_entries(raw: Any, *, source: str = "<script>") -> list[ReplayEntry]:
    """Validate a loaded script (a mapping with `answers`, or a bare list) into entries."""
    answers = raw.get("answers") if isinstance(raw, dict) else raw
    if not isinstance(answers, list):
        raise UserError("a replay script needs a list under `answers`", file=source,
                        field="answers")
    entries = []
    for i, item in enumerate(answers):
        where = f"answers[{i}]"
        if isinstance(item, str):
            item = {"content": item}
        if not isinstance(item, dict):
            raise UserError("an answer must be a mapping", file=source, field=where)
        unknown = set(item) - _ENTRY_KEYS
        if unknown:
            from crew.spec.suggest import did_you_mean

            key = sorted(unknown)[0]
            raise UserError(f"unknown key {key!r}{did_you_mean(key, _ENTRY_KEYS)}",
                            file=source, field=where)
        error = item.get("error")
        if error is not None and error not in ERROR_KINDS:
            raise UserError(f"unknown error kind {error!r}", file=source, field=f"{where}.error",
                            hint="one of " + ", ".join(ERROR_KINDS))
        content = item.get("content")
        if content is not None and not isinstance(content, str):
            content = json.dumps(content)  # a mapping written as YAML: the JSON a model would send
        calls = []
        for j, tc in enumerate(item.get("tool_calls") or []):
            if not isinstance(tc, dict) or not isinstance(tc.get("name"), str):
                raise UserError("a tool call needs a `name`", file=source,
                                field=f"{where}.tool_calls[{j}]")
            args = tc.get("arguments", {})
            calls.append(ToolCall(id=str(tc.get("id") or f"call_{i}_{j}"), name=tc["name"],
                                  arguments=args if isinstance(args, str) else json.dumps(args)))
        if content is None and not calls and error is None:
            raise UserError("an answer needs `content`, `tool_calls` or `error`", file=source,
                            field=where)
        usage = item.get("usage")
        if usage is not None:
            if not isinstance(usage, dict):
                raise UserError("`usage` must be a mapping", file=source, field=f"{where}.usage")
            usage = Usage(int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)))
        entries.append(ReplayEntry(
            index=i, match={k: item[k] for k in MATCH_KEYS if k in item}, content=content,
            tool_calls=tuple(calls), usage=usage, repeat=bool(item.get("repeat", False)),
            error=error))
    return entries


def load_script(path: Path) -> list[ReplayEntry]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"cannot read replay script: {e.strerror}", file=str(path),
                        hint="replay_script paths are relative to the models file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"invalid YAML: {getattr(e, 'problem', e)}", file=str(path),
                        line=mark.line + 1 if mark else None) from None
    return parse_entries(raw, source=str(path))


@dataclass
class ReplayScript:
    """One script's entries plus what has been served (thread-safe)."""

    entries: list[ReplayEntry]
    source: str = "<script>"
    served: list[int] = field(default_factory=list)  # entry index per ask, in order
    _used: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, asked: dict[str, Any]) -> ReplayEntry:
        """The answer for `asked` (match keys → values); raises ReplayMismatchError."""
        with self._lock:
            for e in self.entries:
                if (e.repeat or e.index not in self._used) and e.matches(asked):
                    self._used.add(e.index)
                    self.served.append(e.index)
                    return e
            left = [e.describe() for e in self.entries if e.repeat or e.index not in self._used]
        what = " ".join(f"{k}={asked.get(k)!r}" for k in MATCH_KEYS)
        return_hint = ("entries not served yet: " + "; ".join(left[:8])
                       + (" …" if len(left) > 8 else "")) if left else "every entry was served"
        raise ReplayMismatchError(f"no answer for {what}", file=self.source, hint=return_hint)

    def unserved(self) -> list[ReplayEntry]:
        with self._lock:
            return [e for e in self.entries if not e.repeat and e.index not in self._used]


def asked_from(context: dict[str, Any], *, model: str = "", alias: str = "") -> dict[str, Any]:
    """The match values of one ask: CallContext fields (task_id → task) plus model and alias."""
    return {"model": model, "alias": alias, "task": context.get("task_id", ""),
            "role": context.get("role", ""), "pattern": context.get("pattern", ""),
            "purpose": context.get("purpose", ""), "turn": context.get("turn", 0)}
