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
crew.llm.LLM.ask (repair, re-ask). A Ledger and Budget may be given to test budget stops:
calls take production's accounting path (crew.llm.accounting), each reserving its worst case
(`max_tokens`, else `max_output`, at `price`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from crew.errors import ContextTooLongError, ProviderError, UserError
from crew.llm.accounting import AccountedModel
from crew.llm.budget import Budget
from crew.llm.deployments import DEFAULT_MAX_OUTPUT
from crew.llm.ledger import Ledger
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


@dataclass(frozen=True)
class RecordedCall:
    """One call the code under test made (messages are a snapshot)."""

    alias: str
    messages: list[Message]
    tools: list[ToolSpec] | None
    context: CallContext
    params: dict[str, Any] = field(default_factory=dict)
    entry: int = -1  # index of the script answer served


class ScriptedLLM(AccountedModel):
    """A scripted ChatModel: answers from a list or replay script; records every call. Its
    calls go through crew's one accounting path (crew.llm.accounting): the same budget
    reservation, ledger and tracing as the Router's. `max_output` is each call's worst-case
    output without `max_tokens` (as a deployment's `model_info.max_output_tokens`);
    `price` is (input, output) USD per token (default: free)."""

    def __init__(self, answers: list[str | dict[str, Any] | Completion] | None = None, *,
                 ledger: Ledger | None = None, budget: Budget | None = None,
                 name: str = "scripted", source: str = "<ScriptedLLM>",
                 max_output: int = DEFAULT_MAX_OUTPUT,
                 price: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__(ledger=ledger, budget=budget)
        items: list[Any] = []
        for a in answers or []:
            if isinstance(a, Completion):
                a = {"content": a.content, "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments} for c in a.tool_calls]}
            items.append(a)
        self._script = ReplayScript(parse_entries(items, source=source), source=source)
        self.name = name
        self.max_output = max_output
        self.price = price
        self.calls: list[RecordedCall] = []

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> ScriptedLLM:
        llm = cls(None, source=str(path), **kw)
        llm._script = ReplayScript(load_script(Path(path)), source=str(path))
        return llm

    def _call_limits(self, alias: str, params: dict[str, Any]) -> tuple[int, float, float]:
        out = int(params.get("max_tokens") or params.get("max_completion_tokens") or 0)
        return out or self.max_output, self.price[0], self.price[1]

    def _count_prompt(self, alias: str, messages: list[Message],
                      tools: list[ToolSpec] | None) -> int:
        return estimate_tokens(json.dumps(messages, default=str))

    async def _send(self, alias: str, messages: list[Message], tools: list[ToolSpec] | None,
                    ctx: CallContext, params: dict[str, Any]) -> Completion:
        entry = self._script.take(asked_from(ctx.__dict__, model=self.name, alias=alias))
        self.calls.append(RecordedCall(alias, copy.deepcopy(messages), copy.deepcopy(tools),
                                       ctx, dict(params), entry.index))
        if entry.error:
            raise _error_for(entry, alias)
        usage = entry.usage or Usage(self._count_prompt(alias, messages, tools), estimate_tokens(
            (entry.content or "") + "".join(c.arguments for c in entry.tool_calls)))
        cost = usage.prompt_tokens * self.price[0] + usage.completion_tokens * self.price[1]
        return Completion(
            content=entry.content, tool_calls=entry.tool_calls, alias=alias,
            model=f"{self.name}/{alias}", usage=usage, cost_usd=cost,
            finish_reason="tool_calls" if entry.tool_calls else "stop")

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
