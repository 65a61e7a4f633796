"""`single`: one role does the task alone."""

from __future__ import annotations

from typing import Any

from crew.patterns.base import (
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    run_agent,
    traced_round,
)
from crew.patterns.state import PatternState
from crew.patterns.termination import Condition, RoundState, Stop
from crew.workspace import ops as gitops


class SingleState(PatternState):
    """Set once the doer finished (its commit is found by its trailer on a resume)."""

    done: bool = False
    summary: str = ""


class Single(BasePattern):
    """roles: [doer]."""

    kind = "single"
    default_termination = "guard"

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        if not ctx.task.roles:
            from crew.errors import UserError

            raise UserError(f"task {ctx.task.id!r}: the single pattern needs one role",
                            field="roles")
        role = ctx.task.roles[0]
        workdir = ctx.workdir
        st = self.restore(ctx, rec, SingleState)
        if st.done:  # resumed after it finished: report, never redo
            summary = st.summary
            artifacts = (await gitops.commit(ctx.workspace, ctx.task.id, ctx.task.title, role,
                                             summary) if ctx.workspace is not None else None)
            return self.result(rec, Outcome.DONE, summary, decision=summary or None,
                               artifacts=artifacts)
        with traced_round(ctx, 1):
            res = await run_agent(ctx, rec, 1, role, workdir, task=ctx.task.prompt())
        rec.rounds = 1
        summary = (res.text or "").strip()
        if rec.guard:
            fired = stop.fired(RoundState(round=1, guard_stopped=True))
            outcome = Outcome.GUARD if fired is not None and Stop.GUARD in fired else Outcome.FAILED
            return self.result(rec, outcome, f"stopped: {rec.guard}", stopped_by=fired,
                               artifacts=await gitops.pending(workdir))
        artifacts = None
        if ctx.workspace is not None:
            artifacts = await gitops.commit(ctx.workspace, ctx.task.id, ctx.task.title, role,
                                            summary)
        st.round, st.done, st.summary = 1, True, summary
        await self.save(ctx, rec, st)
        return self.result(rec, Outcome.DONE, summary, decision=summary or None,
                           artifacts=artifacts)
