"""One accounting path for every model call, whatever carries it.

`AccountedModel.complete` is the only place a call is admitted, reserved against the budget,
traced, recorded in the ledger and checked after: the LiteLLM Router (`crew.llm.LLM`), the
shipped fake (`crew.testing.ScriptedLLM`) and a user's own transport all subclass it and
supply only how a call travels:

    _admit(alias, params)            refuse a call before anything is spent (unknown alias...)
    _call_limits(alias, params)      the call's worst-case output tokens and (input, output)
                                     price per token; may set `max_tokens` so the bound is real
    _count_prompt(alias, messages, tools)   the prompt's exact token count
    async _send(alias, messages, tools, ctx, params) -> Completion   the call itself

So a pattern unit test on ScriptedLLM runs production's reservation, ledger and budget code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from crew.errors import BudgetExceeded
from crew.llm.budget import Budget, BudgetWarning, Reservation
from crew.llm.ledger import Ledger, LedgerEntry
from crew.llm.types import CallContext, Completion, Message, ToolSpec
from crew.observability.tracer import GenerationObservation, current_tracer

NO_CONTEXT = CallContext()


def _trace_budget_warning(w: BudgetWarning) -> None:
    current_tracer().event("budget_warning", "WARNING", {
        "scope": w.scope, "kind": w.kind, "limit": w.limit, "spent": w.spent})


def trace_budget_warnings(budget: Budget) -> None:
    """Report `budget`'s warnings as `budget_warning` events of the current run's trace."""
    if _trace_budget_warning not in budget.listeners:
        budget.listeners.append(_trace_budget_warning)


def start_generation(alias: str, messages: list[Message], tools: list[ToolSpec] | None,
                     ctx: CallContext, params: Mapping[str, Any]) -> GenerationObservation:
    """The trace observation of one model call (a no-op outside a traced run)."""
    tracer = current_tracer()
    if not tracer.enabled:
        return tracer.generation(alias, messages)
    extra: dict[str, Any] = {k: v for k, v in (("role", ctx.role), ("purpose", ctx.purpose),
                                                ("turn", ctx.turn)) if v}
    if tools:
        extra["tools"] = [str(t.get("function", {}).get("name", "?")) for t in tools]
    return tracer.generation(alias, messages, {k: v for k, v in params.items()
                                               if k not in ("metadata", "tools")}, **extra)


class AccountedModel:
    """A ChatModel whose calls are accounted: subclasses supply the transport hooks."""

    def __init__(self, *, ledger: Ledger | None = None, budget: Budget | None = None) -> None:
        self.ledger = ledger if ledger is not None else Ledger()
        self.budget = budget

    # ------------------------------------------------------------ transport hooks
    def _admit(self, alias: str, params: Mapping[str, Any]) -> None:
        """Raise if this call must not be made at all (nothing is spent yet)."""

    def _call_limits(self, alias: str, params: dict[str, Any]) -> tuple[int, float, float]:
        raise NotImplementedError

    def _count_prompt(self, alias: str, messages: list[Message],
                      tools: list[ToolSpec] | None) -> int:
        raise NotImplementedError

    async def _send(self, alias: str, messages: list[Message], tools: list[ToolSpec] | None,
                    ctx: CallContext, params: dict[str, Any]) -> Completion:
        raise NotImplementedError

    # ------------------------------------------------------------ accounting
    async def complete(self, alias: str, messages: list[Message], *,
                       tools: list[ToolSpec] | None = None, context: CallContext | None = None,
                       **params: Any) -> Completion:
        """One chat completion by alias; reserved against the budget, traced, recorded in the
        ledger and checked after."""
        self._admit(alias, params)
        ctx = context or NO_CONTEXT
        budget = self.budget
        held = None
        if budget is not None:
            trace_budget_warnings(budget)
            held = self._reserve(budget, alias, messages, tools, ctx, params)
        try:
            with start_generation(alias, messages, tools, ctx, params) as gen:
                completion = await self._send(alias, messages, tools, ctx, params)
                gen.end(completion)
            self.ledger.record(LedgerEntry(
                alias=alias, deployment=completion.model,
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
                cost_usd=completion.cost_usd, latency_s=completion.latency_s,
                run_id=ctx.run_id, task_id=ctx.task_id, role=ctx.role, pattern=ctx.pattern,
                purpose=ctx.purpose, turn=ctx.turn, at=time.time()))
            if budget is not None:
                budget.check_after(self.ledger, ctx)
            return completion
        finally:
            if held is not None and budget is not None:
                budget.release(held)

    def _reserve(self, budget: Budget, alias: str, messages: list[Message],
                 tools: list[ToolSpec] | None, ctx: CallContext,
                 params: dict[str, Any]) -> Reservation | None:
        """Check the budget and hold this call's worst case while it is in flight: the prompt
        plus its maximum output at the transport's prices. No await in here: parallel calls
        are admitted one at a time against each other's holds."""
        if not budget.needs_estimate(ctx):
            budget.check_before(self.ledger, ctx)
            return None
        out, pin, pout = self._call_limits(alias, params)
        # A cheap over-estimate of the prompt first; count exactly only when it might cross.
        rough = sum(len(str(m.get("content") or "")) + 8 for m in messages)
        if tools:
            rough += len(json.dumps(tools))
        try:
            return budget.reserve(self.ledger, ctx, est_tokens=rough + out,
                                  est_usd=rough * pin + out * pout)
        except BudgetExceeded as e:
            if e.kind == "minutes":
                raise
        exact = self._count_prompt(alias, messages, tools)
        return budget.reserve(self.ledger, ctx, est_tokens=exact + out,
                              est_usd=exact * pin + out * pout)
