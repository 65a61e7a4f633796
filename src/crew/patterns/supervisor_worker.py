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

from pydantic import BaseModel, Field, create_model

from crew.errors import UserError
from crew.patterns.base import (
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    fired_after,
    gather_all,
    run_agent,
    stop_outcome,
    system_message,
    traced_round,
)
from crew.patterns.decisions import (
    TEXT_CHARS,
    DecisionKind,
    DegradedReason,
    degrade,
    read_approval,
    try_ask,
)
from crew.patterns.termination import Condition, Fired, RoundState, Stop
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


def plan_schema(workers: list[str]) -> type[BaseModel]:
    """A Plan whose subtask roles are limited to the workers (so a wrong role is re-asked)."""
    role_type: Any = Literal[tuple(workers)]
    sub = create_model("Subtask", id=(str, Field(min_length=1)), title=(str, ...),
                       description=(str, ""), role=(role_type, ...),
                       depends_on=(list[str], Field(default_factory=list)))
    return create_model("Plan", subtasks=(list[sub], Field(min_length=1)))  # type: ignore[valid-type]


def waves(subtasks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Subtasks grouped so each group depends only on earlier ones (a cycle runs last, together)."""
    ids = {s["id"] for s in subtasks}
    done: set[str] = set()
    left = list(subtasks)
    out: list[list[dict[str, Any]]] = []
    while left:
        ready = [s for s in left if all(d in done or d not in ids for d in s["depends_on"])]
        if not ready:
            ready = left
        out.append(ready)
        done |= {s["id"] for s in ready}
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
        st = dict(ctx.state)
        base = st.get("base") or (await asyncio.to_thread(ws.head) if ws else None)
        rnd = int(st.get("round", 0))
        subtasks: list[dict[str, Any]] = st.get("plan") or []
        results: dict[str, dict[str, Any]] = st.get("results", {})
        redo: list[dict[str, str]] = st.get("redo", [])
        rec.votes, rec.rounds = list(st.get("reviews", [])), rnd
        rec.restore(st)
        if not subtasks:
            subtasks = await self._plan(ctx, rec, lead, workers, p.max_subtasks)
        fired = Fired.from_state(st.get("fired"))
        review = LeadReview.model_validate(st["review"]) if st.get("review") else None
        while fired is None:  # a resume after the deciding round goes straight to the finish
            rnd += 1
            with traced_round(ctx, rnd):
                rec.guard = None
                todo = ([s for s in subtasks if s["id"] in {r["id"] for r in redo}]
                        if redo else subtasks)
                feedback = {r["id"]: r["feedback"] for r in redo}
                lock = asyncio.Lock()
                for wave in waves(todo):
                    outs = await gather_all(*(self._work(ctx, rec, rnd, s,
                                                         feedback.get(s["id"]), results, lock)
                                              for s in wave))
                    results.update(dict(outs))
                if rec.guard is not None and Stop.GUARD in stop.names():  # guarded: no review
                    review = LeadReview(approved=False,
                                        summary=f"stopped by a guard: {rec.guard}")
                else:
                    review = await self._review(ctx, rec, rnd, lead, subtasks, results)
                redo = [r.model_dump() for r in review.redo
                        if r.id in {s["id"] for s in subtasks}]
                if not review.approved and not redo:  # "not approved" without items: redo all
                    redo = [{"id": s["id"], "feedback": review.summary} for s in subtasks]
                rec.rounds = rnd
                state = RoundState(round=rnd, approved=review.approved,
                                   guard_stopped=rec.guard is not None)
                fired = fired_after(stop, state, p.max_rounds)
                await ctx.save({"round": rnd, "base": base, "plan": subtasks,
                                "results": results, "redo": redo, "reviews": rec.votes,
                                "fired": fired.to_state() if fired else None,
                                "review": review.model_dump(),
                                **rec.saved_degraded()})
        assert review is not None
        outcome = stop_outcome(fired) or (Outcome.DONE if review.approved else Outcome.FAILED)
        if outcome is Outcome.DONE and not review.approved:
            outcome = Outcome.FAILED
        artifacts = await gitops.changes_since(ws, base) if ws and base else None
        summary = review.summary or "; ".join(
            f"{k}: {v['summary']}" for k, v in results.items())
        if outcome is Outcome.GUARD:
            summary = f"stopped by a guard: {rec.guard or review.summary}"
        return self.result(rec, outcome, summary, decision=review.summary or None,
                           stopped_by=fired, artifacts=artifacts)

    async def _plan(self, ctx: PatternContext, rec: Record, lead: str, workers: list[str],
                    n: int) -> list[dict[str, Any]]:
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
        subs: list[dict[str, Any]] = []
        for i, s in enumerate(proposed[:n], 1):
            s["id"] = str(s["id"]) if s["id"] not in {x["id"] for x in subs} else f"{s['id']}-{i}"
            s["n"] = i
            subs.append(s)
        rec.votes.append({"round": 1, "role": lead, "plan": subs})
        return subs

    async def _work(self, ctx: PatternContext, rec: Record, rnd: int, sub: dict[str, Any],
                    feedback: str | None, results: dict[str, dict[str, Any]],
                    lock: asyncio.Lock) -> tuple[str, dict[str, Any]]:
        ws = ctx.workspace
        wid = f"{ctx.task.id[:52]}-s{sub['n']}" + (f"r{rnd}" if rnd > 1 else "")
        workdir: Path | None = await gitops.task_worktree(ws, wid) if ws else None
        done = [f"- {k}: {v['summary']}" for k, v in results.items() if k in sub["depends_on"]]
        text = ("\n\n".join(x for x in (sub["title"], sub["description"].strip()) if x)
                + f"\n\nPart of: {ctx.task.title}"
                + ("\n\nDone already:\n" + "\n".join(done) if done else "")
                + (f"\n\nThe lead sent this back: {feedback}" if feedback else ""))
        # task_id stays the parent's (per-task budgets); purpose names the subtask
        res = await run_agent(ctx, rec, rnd, sub["role"], workdir, task=text,
                              purpose=f"work:{sub['id']}")
        out: dict[str, Any] = {"role": sub["role"], "summary": (res.text or "").strip()[:2000],
                               "final": res.final, "round": rnd}
        if ws is not None and res.final:
            art = await gitops.commit(ws, wid, sub["title"], sub["role"], out["summary"])
            out["files"] = art.files_changed
            if art.commit:
                async with lock:  # merges into the integration branch go one at a time
                    merged = await gitops.merge(ws, wid)
                out["merged"] = isinstance(merged, str)
                if not isinstance(merged, str):
                    out["conflict"] = list(merged.paths)
            await asyncio.to_thread(ws.remove_task_worktree, wid)
        return sub["id"], out

    async def _review(self, ctx: PatternContext, rec: Record, rnd: int, lead: str,
                      subtasks: list[dict[str, Any]], results: dict[str, dict[str, Any]]
                      ) -> LeadReview:
        lines = []
        for s in subtasks:
            r = results.get(s["id"], {})
            extra = ""
            if r.get("files"):
                extra += f" [files: {', '.join(r['files'])}]"
            if r.get("conflict"):
                extra += f" [merge conflict in {', '.join(r['conflict'])}: not merged]"
            if r and not r.get("final"):
                extra += " [stopped before finishing]"
            lines.append(f"- {s['id']} ({s['role']}): {r.get('summary', '(not run)')}{extra}")
        user = (f"{ctx.task.prompt()}\n\n## Results\n" + "\n".join(lines) + f"\n\n{REVIEW_NOTE}")
        msgs = [system_message(ctx, lead), {"role": "user", "content": user}]
        review, raw, error = await try_ask(ctx, lead, rnd, msgs, LeadReview, purpose="review")
        rec.call(lead, rnd, "review", REVIEW_NOTE)
        if review is None:  # a marker, else changes requested with the text as feedback
            approved = read_approval(raw)
            text = (raw or "").strip()[:TEXT_CHARS]
            degrade(rec, DecisionKind.LEAD_REVIEW, DegradedReason.CHANGES_REQUESTED
                    if approved is None else DegradedReason.READ_FROM_TEXT, role=lead,
                    rnd=rnd, task=ctx.task.id, error=error, text=raw)
            review = LeadReview(approved=bool(approved), summary=text or (
                "the lead's review could not be read: check the work again"))
        rec.votes.append({"round": rnd, "role": lead, **review.model_dump()})
        return review
