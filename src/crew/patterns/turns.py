"""How a member takes its turn: the one hook an engine overrides (`MemberTurns`).

A pattern's loop (rounds, termination, guards, budget, checkpoints, outcome) is written once;
every turn of a member goes through `ctx.turns`: an agentic turn (tools in a workdir), a
tool-less text turn, or a structured turn (a ballot, a verdict, a plan). `NativeTurns` is crew's
own Agent and LLM; the autogen and crewai engines (crew.interop) implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from crew.llm.types import Message
from crew.observability.tracer import Observation, Tracer

if TYPE_CHECKING:
    from crew.patterns.base import PatternContext

M = TypeVar("M", bound=BaseModel)
OnTurn = Callable[[Any], Any]  # hears each completed step (crew's TurnRecord)


class TurnResult(Protocol):
    """How an agentic turn ended: crew's AgentResult, or an engine's `EngineTurn`."""

    @property
    def text(self) -> str | None: ...
    @property
    def final(self) -> bool: ...  # False: a guard or max_turns stopped it before an answer
    @property
    def detail(self) -> str: ...
    @property
    def stop_reason(self) -> str: ...
    @property
    def turns(self) -> int: ...
    @property
    def messages(self) -> list[Message]: ...  # the whole conversation, system message first
    @property
    def framework_tokens(self) -> int: ...


@dataclass
class EngineTurn:
    """An engine's agentic turn, shaped like crew's AgentResult."""

    text: str | None
    messages: list[Message] = field(default_factory=list)
    turns: int = 1
    framework_tokens: int = 0
    final: bool = True
    detail: str = "final answer"

    @property
    def stop_reason(self) -> str:
        return "final" if self.final else "max_turns"


@runtime_checkable
class MemberTurns(Protocol):
    """The ways a member takes a turn. `messages` always start with the system message."""

    engine: str
    # True when `on_turn` hears each completed step (a crash resumes mid-turn); False when the
    # engine runs a turn as a whole, so the caller records it at its end
    records_steps: bool

    async def agent(self, ctx: PatternContext, role: str, workdir: Path | None, *,
                    task: str | None = None, messages: list[Message] | None = None,
                    purpose: str = "", task_id: str | None = None, alias: str | None = None,
                    temperature: float | None = None,
                    on_turn: OnTurn | None = None) -> TurnResult:
        """An agentic turn: `task` starts a conversation, `messages` continues one; tools
        in `workdir` (none without one). `on_turn` hears each completed step where the engine
        can tell them apart (native); otherwise the caller records the whole turn at its end."""
        ...

    async def text(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message], *,
                   purpose: str = "", alias: str | None = None,
                   temperature: float | None = None) -> str:
        """A tool-less completion (turn = `rnd`)."""
        ...

    async def ask(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message],
                  schema: type[M], *, purpose: str = "", alias: str | None = None,
                  temperature: float | None = None) -> M:
        """A structured answer validated against `schema` (ModelBehaviorError when none)."""
        ...


def traced_call(tracer: Tracer, role: str, turn: int, purpose: str,
                messages: list[dict[str, Any]]) -> Observation:
    """An `agent` observation in `tracer` around one tool-less call by `role` (a text turn, a
    plan, a ballot, a verdict); its input is the conversation without the role's system
    prompt."""
    if not tracer.enabled:
        return tracer.agent(role)
    return tracer.agent(role, turn, input=[m for m in messages if m.get("role") != "system"],
                        purpose=purpose)


def call_params(ctx: PatternContext, role: str, temperature: float | None) -> dict[str, Any]:
    """The role's sampling params (temperature overridden when given)."""
    spec = ctx.role(role)
    params: dict[str, Any] = {"temperature": spec.temperature if temperature is None
                              else temperature}
    if spec.max_tokens:
        params["max_tokens"] = spec.max_tokens
    return params


class NativeTurns:
    """crew's own turns: an Agent's turn loop (with its guards), LLM completions and asks."""

    engine = "native"
    records_steps = True

    async def agent(self, ctx: PatternContext, role: str, workdir: Path | None, *,
                    task: str | None = None, messages: list[Message] | None = None,
                    purpose: str = "", task_id: str | None = None, alias: str | None = None,
                    temperature: float | None = None,
                    on_turn: OnTurn | None = None) -> TurnResult:
        kw: dict[str, Any] = {"alias": alias} if alias else {}
        if temperature is not None:
            kw["params"] = {"temperature": temperature}
        if on_turn is not None:
            kw["on_turn"] = on_turn
        agent = ctx.agent(role, workdir, **kw)
        call = ctx.call(role, task_id=task_id, purpose=purpose)
        return await agent.run(task, context=call, messages=messages,
                               repo_context=ctx.context_text() if messages is None else None)

    async def text(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message], *,
                   purpose: str = "", alias: str | None = None,
                   temperature: float | None = None) -> str:
        with traced_call(ctx.tracer, role, rnd, purpose, messages) as obs:
            c = await ctx.llm.complete(alias or ctx.role(role).model, messages,
                                       context=ctx.call(role, turn=rnd, purpose=purpose),
                                       **call_params(ctx, role, temperature))
            obs.end(c.as_message())
        return (c.content or "").strip()

    async def ask(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message],
                  schema: type[M], *, purpose: str = "", alias: str | None = None,
                  temperature: float | None = None) -> M:
        spec = ctx.role(role)
        with traced_call(ctx.tracer, role, rnd, purpose, messages) as obs:
            answer = await ctx.llm.ask(alias or spec.model, messages, schema,
                                       context=ctx.call(role, turn=rnd, purpose=purpose),
                                       temperature=spec.temperature if temperature is None
                                       else temperature)
            obs.end(answer.model_dump())
        return answer


NATIVE_TURNS = NativeTurns()
