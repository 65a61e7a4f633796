"""`supervisor_worker`: a lead splits the task into subtasks (a structured plan), workers do
them — independent ones concurrently, each in its own git worktree, merged back so concurrent
writers never lose each other's writes — and the lead reviews: approve, or send subtasks back
with feedback, until approved or max_rounds. Critical path: plan, workers, review (3 calls).
A plan that cannot be read becomes one subtask (the whole task) for the first worker; a review
that cannot be read is its APPROVED / CHANGES REQUESTED marker, else changes requested on every
subtask with the lead's text as the feedback (degraded decisions, crew.patterns.decisions).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from crew.errors import UserError
from crew.patterns.base import (
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    gather_all,
    run_agent,
    stop_outcome,
    system_message,
)
from crew.patterns.decisions import (
    TEXT_CHARS,
    DecisionKind,
    DegradedReason,
    degrade,
    field_text,
    read_approval,
    read_fields,
    read_flag,
    read_items,
    try_ask,
)
from crew.patterns.state import PatternState
from crew.patterns.termination import Condition, RoundState, Stop
from crew.spec.params import SupervisorWorkerParams as SupervisorWorkerParams
from crew.workspace import ops as gitops

PLAN_NOTE = ("Split the task into at most {n} subtasks for these workers: {workers}. They run "
             "in parallel, each in its own copy of the repository: give each its own files; "
             "depends_on only when one needs another's result.")
REVIEW_NOTE = ("Check the workers' results against the task. Approve, or list the subtasks to "
               "redo with concrete feedback.")


class Redo(BaseModel):
    id: str
    feedback: str


class LeadReview(BaseModel):
    approved: bool
    summary: str = ""
    redo: list[Redo] = Field(default_factory=list)


class Subtask(BaseModel):
    """One subtask of the lead's plan; `n` numbers it (its worktree's name)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    description: str = ""
    role: str
    depends_on: list[str] = Field(default_factory=list)
    n: int = 1


class SubtaskResult(BaseModel):
    """What a worker's turn on a subtask came to."""

    model_config = ConfigDict(extra="forbid")

    role: str
    summary: str = ""
    final: bool = True  # False: stopped before a final answer
    round: int = 1
    files: list[str] = Field(default_factory=list)
    merged: bool = False
    conflict: list[str] = Field(default_factory=list)  # paths that did not merge


class SupervisorState(PatternState):
    """The supervisor-worker checkpoint: where the work started, the plan, each subtask's
    latest result, what the lead sent back and its last review."""

    base: str | None = None
    plan: list[Subtask] = Field(default_factory=list)
    results: dict[str, SubtaskResult] = Field(default_factory=dict)
    redo: list[Redo] = Field(default_factory=list)
    review: LeadReview | None = None


def plan_schema(workers: list[str]) -> type[BaseModel]:
    """A Plan whose subtask roles are limited to the workers (so a wrong role is re-asked)."""
    role_type: Any = Literal[tuple(workers)]
    sub = create_model("Subtask", id=(str, Field(min_length=1)), title=(str, ...),
                       description=(str, ""), role=(role_type, ...),
                       depends_on=(list[str], Field(default_factory=list)))
    return create_model("Plan", subtasks=(list[sub], Field(min_length=1)))  # type: ignore[valid-type]


def waves(subtasks: list[Subtask]) -> list[list[Subtask]]:
    """Subtasks grouped so each group depends only on earlier ones (a cycle runs last, together)."""
    ids = {s.id for s in subtasks}
    done: set[str] = set()
    left = list(subtasks)
    out: list[list[Subtask]] = []
    while left:
        ready = [s for s in left if all(d in done or d not in ids for d in s.depends_on)]
        if not ready:
            ready = left
        out.append(ready)
        done |= {s.id for s in ready}
        left = [s for s in left if s not in ready]
    return out


class SupervisorWorker(BasePattern):
    """roles: [lead, worker, ...]."""

    kind = "supervisor_worker"
    Params = SupervisorWorkerParams
    default_termination = "approved | max_rounds | guard"

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        p: SupervisorWorkerParams = params
        if len(ctx.task.roles) < 2:
            raise UserError(f"task {ctx.task.id!r}: supervisor_worker needs roles [lead, "
                            "worker, ...]", field="roles")
        lead, workers = ctx.task.roles[0], list(dict.fromkeys(ctx.task.roles[1:]))
        ws = ctx.workspace
        st = self.restore(ctx, rec, SupervisorState)
        st.base = st.base or (await asyncio.to_thread(ws.head) if ws else None)
        if not st.plan:
            st.plan = await self._plan(ctx, rec, lead, workers, p.max_subtasks)

        async def play(rnd: int) -> RoundState:
            redo = {r.id: r.feedback for r in st.redo}
            lock = asyncio.Lock()
            for wave in waves([s for s in st.plan if s.id in redo] if redo else st.plan):
                outs = await gather_all(*(self._work(ctx, rec, rnd, s, redo.get(s.id),
                                                     st.results, lock) for s in wave))
                st.results.update(dict(outs))
            if rec.guard is not None and Stop.GUARD in stop.names():  # guarded: no review
                review = LeadReview(approved=False, summary=f"stopped by a guard: {rec.guard}")
            else:
                review = await self._review(ctx, rec, rnd, lead, st.plan, st.results)
            ids = {s.id for s in st.plan}
            st.review, st.redo = review, [r for r in review.redo if r.id in ids]
            if not review.approved and not st.redo:  # "not approved" without items: redo all
                st.redo = [Redo(id=s.id, feedback=review.summary) for s in st.plan]
            return RoundState(round=rnd, approved=review.approved,
                              guard_stopped=rec.guard is not None)

        fired = await self.rounds(ctx, rec, st, stop, p.max_rounds, play)
        review = st.review
        assert review is not None
        outcome = stop_outcome(fired) or (Outcome.DONE if review.approved else Outcome.FAILED)
        if outcome is Outcome.DONE and not review.approved:
            outcome = Outcome.FAILED
        artifacts = await gitops.changes_since(ws, st.base) if ws and st.base else None
        summary = review.summary or "; ".join(
            f"{k}: {v.summary}" for k, v in st.results.items())
        if outcome is Outcome.GUARD:
            summary = f"stopped by a guard: {rec.guard or review.summary}"
        return self.result(rec, outcome, summary, decision=review.summary or None,
                           stopped_by=fired, artifacts=artifacts)

    async def _plan(self, ctx: PatternContext, rec: Record, lead: str, workers: list[str],
                    n: int) -> list[Subtask]:
        titles = ", ".join(f"{w} ({ctx.role(w).title})" for w in workers)
        note = PLAN_NOTE.format(n=n, workers=titles)
        user = "\n\n".join(x for x in (ctx.context_text(), ctx.task.prompt(), note) if x)
        schema = plan_schema(workers)
        msgs = [system_message(ctx, lead), {"role": "user", "content": user}]
        plan, raw, error = await try_ask(ctx, lead, 1, msgs, schema, purpose="plan")
        rec.call(lead, 1, "plan", note)  # before round 1
        proposed: list[dict[str, Any]]
        if plan is None:  # the whole task, one subtask, for the first worker
            degrade(rec, DecisionKind.LEAD_PLAN, DegradedReason.SINGLE_SUBTASK, role=lead,
                    rnd=1, task=ctx.task.id, error=error, text=raw)
            notes = (raw or "").strip()[:TEXT_CHARS]
            proposed = [{"id": "all", "title": ctx.task.title, "role": workers[0],
                         "description": ctx.task.description.strip() + (
                             f"\n\nThe lead's notes:\n{notes}" if notes else ""),
                         "depends_on": []}]
        else:
            proposed = plan.model_dump()["subtasks"]
        subs: list[Subtask] = []
        for i, s in enumerate(proposed[:n], 1):
            sid = str(s["id"]) if s["id"] not in {x.id for x in subs} else f"{s['id']}-{i}"
            subs.append(Subtask.model_validate({**s, "id": sid, "n": i}))
        rec.votes.append({"round": 1, "role": lead, "plan": [s.model_dump() for s in subs]})
        return subs

    async def _work(self, ctx: PatternContext, rec: Record, rnd: int, sub: Subtask,
                    feedback: str | None, results: dict[str, SubtaskResult],
                    lock: asyncio.Lock) -> tuple[str, SubtaskResult]:
        ws = ctx.workspace
        wid = f"{ctx.task.id[:52]}-s{sub.n}" + (f"r{rnd}" if rnd > 1 else "")
        workdir: Path | None = await gitops.task_worktree(ws, wid) if ws else None
        done = [f"- {k}: {v.summary}" for k, v in results.items() if k in sub.depends_on]
        text = ("\n\n".join(x for x in (sub.title, sub.description.strip()) if x)
                + f"\n\nPart of: {ctx.task.title}"
                + ("\n\nDone already:\n" + "\n".join(done) if done else "")
                + (f"\n\nThe lead sent this back: {feedback}" if feedback else ""))
        # task_id stays the parent's (per-task budgets); purpose names the subtask
        res = await run_agent(ctx, rec, rnd, sub.role, workdir, task=text,
                              purpose=f"work:{sub.id}")
        out = SubtaskResult(role=sub.role, summary=(res.text or "").strip()[:2000],
                            final=res.final, round=rnd)
        if ws is not None and res.final:
            art = await gitops.commit(ws, wid, sub.title, sub.role, out.summary)
            out.files = list(art.files_changed)
            if art.commit:
                async with lock:  # merges into the integration branch go one at a time
                    merged = await gitops.merge(ws, wid)
                out.merged = isinstance(merged, str)
                if not isinstance(merged, str):
                    out.conflict = list(merged.paths)
            await asyncio.to_thread(ws.remove_task_worktree, wid)
        return sub.id, out

    async def _review(self, ctx: PatternContext, rec: Record, rnd: int, lead: str,
                      subtasks: list[Subtask], results: dict[str, SubtaskResult]
                      ) -> LeadReview:
        lines = []
        for s in subtasks:
            r = results.get(s.id)
            extra = ""
            if r is not None and r.files:
                extra += f" [files: {', '.join(r.files)}]"
            if r is not None and r.conflict:
                extra += f" [merge conflict in {', '.join(r.conflict)}: not merged]"
            if r is not None and not r.final:
                extra += " [stopped before finishing]"
            lines.append(f"- {s.id} ({s.role}): {r.summary if r else '(not run)'}{extra}")
        user = (f"{ctx.task.prompt()}\n\n## Results\n" + "\n".join(lines) + f"\n\n{REVIEW_NOTE}")
        msgs = [system_message(ctx, lead), {"role": "user", "content": user}]
        review, raw, error = await try_ask(ctx, lead, rnd, msgs, LeadReview, purpose="review")
        rec.call(lead, rnd, "review", REVIEW_NOTE)
        if review is None:  # a marker or the fields of its JSON, else changes requested
            fields = read_fields(raw)  # with the text as feedback
            approved = read_approval(raw)
            approved = read_flag(fields, "approved") if approved is None else approved
            text = field_text(fields, "summary") or (raw or "").strip()[:TEXT_CHARS]
            degrade(rec, DecisionKind.LEAD_REVIEW, DegradedReason.CHANGES_REQUESTED
                    if approved is None else DegradedReason.READ_FROM_TEXT, role=lead,
                    rnd=rnd, task=ctx.task.id, error=error, text=raw)
            review = LeadReview(approved=bool(approved), redo=read_items(fields, "redo", Redo),
                                summary=text or "the lead's review could not be read: check "
                                "the work again")
        rec.votes.append({"round": rnd, "role": lead, **review.model_dump()})
        return review
