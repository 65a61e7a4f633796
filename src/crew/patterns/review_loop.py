"""`review_loop`: an author works, an optional gate runs, a reviewer approves or requests
concrete changes; repeated until approved or max_rounds.

The reviewer is an agent (it reads the diff with its tools) whose final answer holds an
APPROVED / CHANGES REQUESTED marker (what the reviewer role's instructions ask for) or a JSON
`Verdict`; either is a first-class answer. With neither, one structured `ask` on the same
conversation repairs it; a verdict that still cannot be read counts as changes requested
with the review's text as the feedback (a degraded decision, crew.patterns.decisions). The author keeps one append-only conversation across rounds (prompt
caching).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from crew.errors import UserError
from crew.llm.structured import parse_as
from crew.patterns.base import (
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    run_agent,
    stop_outcome,
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
from crew.patterns.termination import Condition, Fired, RoundState, Stop
from crew.spec.params import ReviewLoopParams as ReviewLoopParams
from crew.workspace import ops as gitops

# Agrees with the reviewer role's instructions: the marker is an answer on its own, the JSON
# (when given and valid) adds structured change items.
VERDICT_NOTE = ("Start your verdict with APPROVED or CHANGES REQUESTED (then each blocking item: "
                'file:line, problem, fix). You may end with a JSON verdict: {"approved": '
                'true|false, "summary": "...", "changes": [{"file": "...", "line": 0, '
                '"problem": "...", "fix": "..."}]}.')
GATE_OUTPUT_CHARS = 3000


class ChangeRequest(BaseModel):
    file: str = ""
    line: int | None = None
    problem: str = Field(min_length=1)
    fix: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"- {where + ': ' if where else ''}{self.problem}{fix}"


class Verdict(BaseModel):
    """The reviewer's decision: approve, or request changes with concrete items."""

    approved: bool
    summary: str = ""
    changes: list[ChangeRequest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _concrete(self) -> Verdict:
        if not self.approved and not self.changes:
            raise ValueError("a verdict requesting changes must list them in `changes`")
        return self


class ReviewState(PatternState):
    """The review loop's checkpoint: both conversations (each only grows), the author's last
    answer, the feedback for the next round and the last round's gate and verdict."""

    author: list[dict[str, Any]] | None = None
    reviewer: list[dict[str, Any]] | None = None
    author_text: str = ""
    feedback: str | None = None
    verdict: Verdict | None = None
    approved: bool = False
    passed: bool | None = None  # the gate's (None: none ran)


def marker_verdict(approved: bool, text: str | None) -> Verdict:
    """The verdict a review states with its APPROVED / CHANGES REQUESTED marker, as the
    reviewer role's instructions ask: a first-class answer (the review is the feedback)."""
    body = (text or "").strip()[:TEXT_CHARS]
    first = body.splitlines()[0][:200] if body else ""
    if approved:
        return Verdict(approved=True, summary=first)
    return Verdict(approved=False, summary=first, changes=[ChangeRequest(problem=body)])


class ReviewLoop(BasePattern):
    """roles: [author, reviewer]."""

    kind = "review_loop"
    Params = ReviewLoopParams
    default_termination = "approved | max_rounds | guard"

    @staticmethod
    def check_roles(ctx: PatternContext, p: ReviewLoopParams) -> tuple[str, str]:
        """[author, reviewer] of the task; UserError for a wrong role count or a gate without
        a sandbox."""
        if len(ctx.task.roles) != 2:
            raise UserError(f"task {ctx.task.id!r}: review_loop needs roles [author, reviewer]",
                            field="roles")
        if p.gate and ctx.sandbox is None:
            raise UserError("review_loop: a gate needs a sandbox to run in", field="params.gate",
                            hint="run with a sandbox (crew picks one with `sandbox: auto`)")
        return ctx.task.roles[0], ctx.task.roles[1]

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        p: ReviewLoopParams = params
        author, reviewer = self.check_roles(ctx, p)
        workdir = ctx.workdir
        st = self.restore(ctx, rec, ReviewState)

        async def play(rnd: int) -> RoundState:
            # 1. the author works (round 1: the task; later: the feedback)
            if st.author is None:
                res = await run_agent(ctx, rec, rnd, author, workdir, task=ctx.task.prompt())
            else:
                note = f"{st.feedback}\nAddress each item, then summarise what you changed."
                res = await run_agent(ctx, rec, rnd, author, workdir, pattern_text=note,
                                      messages=[*st.author, {"role": "user", "content": note}])
            st.author, st.author_text = res.messages, (res.text or "").strip()
            st.verdict, st.passed = None, None
            if rec.guard is None or Stop.GUARD not in stop.names():
                await self._gate_and_review(ctx, rec, rnd, p, reviewer, st, workdir)
            st.approved = bool(st.verdict and st.verdict.approved)
            return RoundState(round=rnd, approved=st.approved, tests_passed=st.passed,
                              guard_stopped=rec.guard is not None)

        fired = await self.rounds(ctx, rec, st, stop, p.max_rounds, play)
        outcome = stop_outcome(fired) or (Outcome.DONE if st.approved else Outcome.FAILED)
        if outcome is Outcome.DONE and not st.approved and Stop.TESTS_PASS not in fired:
            outcome = Outcome.FAILED
        return await self._finish(ctx, rec, outcome, fired, author, st.author_text,
                                  st.verdict, workdir)

    async def _gate_and_review(self, ctx: PatternContext, rec: Record, rnd: int,
                               p: ReviewLoopParams, reviewer: str, st: ReviewState,
                               workdir: Any) -> None:
        """2. the gate (when set), 3. the review (unless the gate failed): into `st`."""
        if p.gate and workdir is not None and ctx.sandbox is not None:
            r = await ctx.sandbox.run(p.gate, workspace=workdir, timeout=p.gate_timeout)
            st.passed = r.ok
            ctx.tracer.event("gate", "DEFAULT" if r.ok else "WARNING", {
                "command": p.gate, "passed": r.ok, "exit_code": r.exit_code})
            rec.votes.append({"round": rnd, "gate": p.gate, "passed": r.ok,
                              "exit_code": r.exit_code})
            if not r.ok:
                out = (r.stdout + r.stderr)[-GATE_OUTPUT_CHARS:]
                st.feedback = f"The gate `{p.gate}` failed (exit {r.exit_code}):\n{out}"
        if st.passed is not False:
            st.verdict, st.reviewer = await self._review(ctx, rec, rnd, reviewer,
                                                         st.author_text, st.reviewer, workdir)
            st.feedback = ("Review: changes requested.\n"
                           + "\n".join(c.render() for c in st.verdict.changes))

    async def _review(self, ctx: PatternContext, rec: Record, rnd: int, reviewer: str,
                      author_text: str, msgs: list[dict[str, Any]] | None,
                      workdir: Any) -> tuple[Verdict, list[dict[str, Any]]]:
        files = ""
        if workdir is not None and ctx.workspace is not None:
            files = gitops.files_line(await gitops.changed_files(ctx.workspace, workdir))
        if msgs is None:
            where = (f"{files}Read the whole change with your tools (git_diff). "
                     if workdir else "")
            task = (f"Review the author's work on this task.\n\n{ctx.task.prompt()}\n\n"
                    f"## Author's answer\n{author_text}\n\n{where}{VERDICT_NOTE}")
            added = task.replace(ctx.task.prompt(), "").replace(author_text, "")
            res = await run_agent(ctx, rec, rnd, reviewer, workdir, task=task, purpose="review",
                                  pattern_text=added)
        else:
            note = f"The author revised:\n{author_text}\n\n{files}Review again. {VERDICT_NOTE}"
            res = await run_agent(ctx, rec, rnd, reviewer, workdir, purpose="review",
                                  pattern_text=note,
                                  messages=[*msgs, {"role": "user", "content": note}])
        try:
            verdict = parse_as(Verdict, res.text)
        except ValueError as e:
            marked = read_approval(res.text)
            verdict = (marker_verdict(marked, res.text) if marked is not None else
                       await self._unparsed(ctx, rec, rnd, reviewer, res.text, res.messages,
                                            str(e)))
        rec.votes.append({"round": rnd, "role": reviewer, **verdict.model_dump()})
        return verdict, res.messages

    async def _unparsed(self, ctx: PatternContext, rec: Record, rnd: int, reviewer: str,
                        review: str | None, msgs: list[dict[str, Any]], error: str) -> Verdict:
        """The verdict of a review with neither a marker nor a valid JSON verdict: a
        structured ask, else the ask's marker or the fields of its (invalid) JSON, else
        changes requested with the review as feedback (both degraded decisions)."""
        answer, raw, error = await try_ask(ctx, reviewer, rnd, msgs, Verdict, purpose="verdict")
        rec.call(reviewer, rnd, "verdict")
        if answer is not None:
            return answer
        fields = read_fields(raw) or read_fields(review)  # JSON that failed the schema
        approved = read_approval(raw)
        approved = read_flag(fields, "approved") if approved is None else approved
        text = ((review or "").strip() or (raw or "").strip())[:TEXT_CHARS]
        reason = (DegradedReason.CHANGES_REQUESTED if approved is None
                  else DegradedReason.READ_FROM_TEXT)
        degrade(rec, DecisionKind.VERDICT, reason, role=reviewer, rnd=rnd, task=ctx.task.id,
                error=error, text=text)
        summary = field_text(fields, "summary")
        if approved:
            return Verdict(approved=True, summary=summary or (
                text.splitlines()[0] if text else ""))
        changes = read_items(fields, "changes", ChangeRequest)
        problem = summary or text or "the reviewer gave no readable verdict: review the " \
            "change again"
        return Verdict(approved=False, summary=problem.splitlines()[0][:200],
                       changes=changes or [ChangeRequest(problem=problem)])

    async def _finish(self, ctx: PatternContext, rec: Record, outcome: Outcome, fired: Fired,
                      author: str, author_text: str, verdict: Verdict | None,
                      workdir: Any) -> PatternResult:
        if outcome is Outcome.DONE and ctx.workspace is not None:
            artifacts = await gitops.commit(ctx.workspace, ctx.task.id, ctx.task.title, author,
                                            author_text)
        else:
            artifacts = await gitops.pending(workdir)
        if outcome is Outcome.DONE:
            summary = f"approved in round {rec.rounds}: {author_text}"
        elif outcome is Outcome.GUARD:
            summary = f"stopped by a guard: {rec.guard}"
        else:
            summary = (f"not approved after {rec.rounds} round(s)"
                       + (f": {verdict.summary}" if verdict and verdict.summary else ""))
        return self.result(rec, outcome, summary, decision=verdict.summary if verdict else None,
                           stopped_by=fired, artifacts=artifacts)
