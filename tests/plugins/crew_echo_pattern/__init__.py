"""A tiny third-party pattern kind for the entry-point test: `echo` asks its one role once and
returns the answer, prefixed. Registered by a `crew.patterns` entry point made at test time."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from crew.patterns.base import (
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    system_message,
    text_turn,
)
from crew.patterns.termination import Condition


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str = "echo"


class EchoPattern(BasePattern):
    kind = "echo"
    Params = EchoParams
    default_termination = "guard"

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        role = ctx.task.roles[0]
        text = await text_turn(ctx, rec, role, 1, [system_message(ctx, role),
                                                   {"role": "user", "content": ctx.task.prompt()}])
        rec.rounds = 1
        return self.result(rec, Outcome.DONE, f"{params.prefix}: {text}", decision=text)
