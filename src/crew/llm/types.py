"""Provider-neutral value types of the LLM layer. Importing this module never imports litellm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from pydantic import BaseModel

Message = dict[str, Any]  # OpenAI chat format: {"role": ..., "content": ..., "tool_calls": ...}
ToolSpec = dict[str, Any]  # OpenAI function-calling format: {"type": "function", "function": {...}}
SchemaT = TypeVar("SchemaT", bound="BaseModel")


@dataclass(frozen=True)
class ToolCall:
    """One function call requested by the model. `arguments` is the raw JSON string."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CallContext:
    """Who is calling: used for ledger attribution, budgets, replay keys and traces."""

    run_id: str = ""
    task_id: str = ""
    role: str = ""
    pattern: str = ""
    turn: int = 0
    purpose: str = ""  # e.g. "plan", "vote", "verdict"; empty for an ordinary agent turn


@dataclass(frozen=True)
class Completion:
    """One model answer, with what it cost."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    alias: str = ""  # the alias the caller asked for
    model: str = ""  # the deployment that actually answered (after fallbacks)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    finish_reason: str | None = None

    def as_message(self) -> Message:
        """The assistant message to append to a conversation."""
        msg: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return msg


@runtime_checkable
class ChatModel(Protocol):
    """The one interface agents and patterns call. The LiteLLM-backed `LLM` implements it."""

    async def complete(
        self,
        alias: str,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        context: CallContext | None = None,
        **params: Any,
    ) -> Completion: ...


@runtime_checkable
class StructuredChatModel(ChatModel, Protocol):
    """A ChatModel that also returns validated pydantic instances (planner, votes, verdicts)."""

    async def ask(
        self,
        alias: str,
        messages: list[Message],
        schema: type[SchemaT],
        *,
        context: CallContext | None = None,
        max_reasks: int = 2,
        **params: Any,
    ) -> SchemaT: ...


def estimate_tokens(text: str) -> int:
    """~4 characters per token: crew's one cheap estimate (framework overhead, fakes, budgets'
    first guess); exact counts come from the provider or litellm.token_counter."""
    return (len(text) + 3) // 4
