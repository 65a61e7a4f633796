"""ScriptedLLM: a ChatModel for your own tests, without litellm, a server or a key.

    llm = ScriptedLLM([
        {"role": "coder", "tool_calls": [{"name": "read_file", "arguments": {"path": "a.py"}}]},
        {"role": "coder", "content": "Done."},
        {"role": "reviewer", "content": "APPROVED", "repeat": True},
    ])
    ... run your pattern or agent with llm ...
    assert llm.calls[0].messages[-1]["content"] == "..."
    llm.assert_complete()            # every non-repeating answer was used

Answers use the replay script format (crew.llm.replay_script): match keys (alias, task, role,
pattern, purpose, turn) select the answer for each caller's CallContext; a plain string is an
answer for anyone. `ScriptedLLM.from_file(path)` reads a replay script. `ask` works like
crew.llm.LLM.ask (repair, re-ask). A Ledger and Budget may be given to test budget stops.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from crew.errors import ContextTooLongError, ProviderError, UserError
from crew.llm.budget import Budget
from crew.llm.client import start_generation, trace_budget_warnings
from crew.llm.ledger import Ledger, LedgerEntry
from crew.llm.replay_script import (
    ReplayEntry,
    ReplayScript,
    asked_from,
    load_script,
    parse_entries,
)
from crew.llm.structured import ask_structured
from crew.llm.types import CallContext, Completion, Message, ToolSpec, Usage, estimate_tokens

T = TypeVar("T", bound=BaseModel)
_NO_CONTEXT = CallContext()


@dataclass(frozen=True)
class RecordedCall:
    """One call the code under test made (messages are a snapshot)."""

    alias: str
    messages: list[Message]
    tools: list[ToolSpec] | None
    context: CallContext
    params: dict[str, Any] = field(default_factory=dict)
    entry: int = -1  # index of the script answer served


class ScriptedLLM:
    """A scripted ChatModel: answers from a list or replay script; records every call."""

    def __init__(self, answers: list[str | dict[str, Any] | Completion] | None = None, *,
                 ledger: Ledger | None = None, budget: Budget | None = None,
                 name: str = "scripted", source: str = "<ScriptedLLM>") -> None:
        items: list[Any] = []
        for a in answers or []:
            if isinstance(a, Completion):
                a = {"content": a.content, "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments} for c in a.tool_calls]}
            items.append(a)
        self._script = ReplayScript(parse_entries(items, source=source), source=source)
        self.name = name
        self.ledger = ledger if ledger is not None else Ledger()
        self.budget = budget
        self.calls: list[RecordedCall] = []

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> ScriptedLLM:
        llm = cls(None, source=str(path), **kw)
        llm._script = ReplayScript(load_script(Path(path)), source=str(path))
        return llm

    async def complete(self, alias: str, messages: list[Message], *,
                       tools: list[ToolSpec] | None = None, context: CallContext | None = None,
                       **params: Any) -> Completion:
        ctx = context or _NO_CONTEXT
        prompt = estimate_tokens(json.dumps(messages, default=str))
        if self.budget is not None:
            trace_budget_warnings(self.budget)
            out = int(params.get("max_tokens") or 0)
            self.budget.check_before(self.ledger, ctx, est_tokens=prompt + out)
        with start_generation(alias, messages, tools, ctx, params) as gen:
            entry = self._script.take(asked_from(ctx.__dict__, model=self.name, alias=alias))
            self.calls.append(RecordedCall(alias, copy.deepcopy(messages), copy.deepcopy(tools),
                                           ctx, dict(params), entry.index))
            if entry.error:
                raise _error_for(entry, alias)
            usage = entry.usage or Usage(prompt, estimate_tokens(
                (entry.content or "") + "".join(c.arguments for c in entry.tool_calls)))
            completion = Completion(
                content=entry.content, tool_calls=entry.tool_calls, alias=alias,
                model=f"{self.name}/{alias}", usage=usage,
                finish_reason="tool_calls" if entry.tool_calls else "stop")
            gen.end(completion)
        self.ledger.record(LedgerEntry(
            alias=alias, deployment=completion.model, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens, cost_usd=0.0, latency_s=0.0,
            run_id=ctx.run_id, task_id=ctx.task_id, role=ctx.role, pattern=ctx.pattern,
            purpose=ctx.purpose, turn=ctx.turn))
        if self.budget is not None:
            self.budget.check_after(self.ledger, ctx)
        return completion

    async def ask(self, alias: str, messages: list[Message], schema: type[T], *,
                  context: CallContext | None = None, max_reasks: int = 2, **params: Any) -> T:
        return await ask_structured(self, alias, messages, schema, context=context,
                                    max_reasks=max_reasks, native_schema=False, **params)

    def unserved(self) -> list[ReplayEntry]:
        return self._script.unserved()

    def assert_complete(self) -> None:
        """AssertionError unless every non-repeating answer was served."""
        left = self.unserved()
        if left:
            raise AssertionError(
                f"{len(left)} scripted answer(s) never asked for: "
                + "; ".join(e.describe() for e in left)
                + f" ({len(self.calls)} call(s) made)")


def _error_for(entry: ReplayEntry, alias: str) -> Exception:
    msg = f"scripted {entry.error} for alias {alias!r} (answer #{entry.index})"
    if entry.error == "context_window":
        return ContextTooLongError(msg)
    if entry.error == "auth":
        return UserError(msg, hint="set the provider's API key")
    return ProviderError(msg, transient=True)
