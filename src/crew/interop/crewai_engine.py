"""review_loop and supervisor_worker run as CrewAI Crews, with crew's params, result and stops.

review_loop: each round is a sequential Crew — the author's task, then the reviewer's task
(with the author's output as its context) — repeated until the reviewer's verdict approves or a
termination condition fires. With a `gate`, the gate runs between the two tasks (two kickoffs).
CrewAI's agents keep no memory across kickoffs, so a later round's author task carries the
previous answer and the review's change requests. supervisor_worker: one hierarchical Crew,
the lead as CrewAI's manager agent delegating to the workers (one at a time, in the task's
worktree); the manager's final answer is the result.

Every model call goes through crew's LLM layer (crewai_adapters.CrewLLM) with the same
CallContext keys as the native pattern (role; purpose "" for authors and workers, "review" for
the reviewer, "manage" for the manager; turn = the agent's call number in the round), so one
replay script serves both engines. The result is the native pattern's PatternResult; the run
commits via crew.workspace.ops and checkpoints after each round.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from crew.errors import CrewError, CrewRuntimeError, UserError
from crew.interop.crewai_adapters import Bridge, CallStats, crewai_tools, llm_class, load_crewai
from crew.llm.structured import parse_as
from crew.patterns.base import (
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    TranscriptRef,
    stop_outcome,
    system_message,
    traced_round,
)
from crew.patterns.review_loop import VERDICT_NOTE, ReviewLoop, ReviewLoopParams, Verdict
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.patterns.termination import Condition, RoundState
from crew.spec.models import PatternSpec
from crew.workspace import ops as gitops

ENGINE = "crewai"
AUTHOR_OUTPUT = "Your answer: what you did and why, briefly."
MANAGER_OUTPUT = "A summary of what the team did for the task."


async def run_crewai(template: PatternSpec, ctx: PatternContext) -> PatternResult:
    """Run `template` (kind review_loop or supervisor_worker) as a CrewAI Crew on `ctx`."""
    crewai = await asyncio.to_thread(load_crewai)
    if ctx.termination is None and template.termination:
        ctx.termination = template.termination
    if template.kind == "review_loop":
        return await CrewAIReviewLoop(crewai).run(ctx)
    if template.kind == "supervisor_worker":
        return await CrewAISupervisor(crewai).run(ctx)
    raise UserError(f"pattern {template.name or template.kind!r}: the crewai engine does not run "
                    f"{template.kind!r} patterns", field="engine",
                    hint="crewai runs: review_loop, supervisor_worker")


@dataclass
class _Kickoff:
    """What one kickoff needs and leaves: the bridge, and each agent's call stats."""

    crewai: ModuleType
    ctx: PatternContext
    bridge: Bridge
    stats: dict[str, CallStats] = field(default_factory=dict)

    def agent(self, role: str, *, purpose: str = "", task_text: str = "",
              delegate: bool = False, tools: bool = True) -> Any:
        """A CrewAI Agent for `role`, backed by crew's LLM; crew's tools in the workdir."""
        ctx, spec = self.ctx, self.ctx.role(role)
        params: dict[str, Any] = {"temperature": spec.temperature}
        if spec.max_tokens:
            params["max_tokens"] = spec.max_tokens
        call = ctx.call(role, purpose=purpose)
        own = f"{spec.title}{spec.goal}{spec.instructions}{task_text}"
        llm = llm_class(self.crewai)(ctx.llm, spec.model, call, self.bridge, params=params,
                                     own_text=own)
        self.stats[role] = llm.stats
        workdir = ctx.workdir
        kit = (crewai_tools(self.crewai, spec.tools, workdir, call, self.bridge, ctx.sandbox)
               if tools and workdir is not None else [])
        return self.crewai.Agent(
            role=spec.title, goal=spec.goal.strip(), backstory=spec.instructions.strip(),
            llm=llm, tools=kit, allow_delegation=delegate, max_iter=spec.max_turns,
            max_retry_limit=0, cache=False, verbose=False)

    async def run(self, crew: Any) -> Any:
        """`crew.kickoff()` in a worker thread; crew's own error first, whatever CrewAI did
        with it (a BudgetExceeded becomes the pattern's BUDGET outcome)."""
        try:
            out = await asyncio.to_thread(crew.kickoff)
            self.bridge.close_turn()
        except asyncio.CancelledError:
            self.bridge.closed = True
            raise
        except Exception as e:
            self.bridge.close_turn(error=f"{type(e).__name__}: {e}")
            raise self._crew_error(e) from None
        if self.bridge.error is not None:
            raise self.bridge.error
        return out

    def _crew_error(self, e: Exception) -> Exception:
        if self.bridge.error is not None:
            return self.bridge.error
        if isinstance(e, CrewError):
            return e
        return CrewRuntimeError(f"the CrewAI crew failed: {type(e).__name__}: {e}")

    def record(self, rec: Record, role: str, rnd: int, purpose: str = "") -> None:
        st = self.stats.get(role)
        if st is None or not st.calls:
            return
        rec.transcripts.append(TranscriptRef(
            role=role, round=rnd, purpose=purpose, messages=len(st.last_messages) + 1,
            turns=st.calls, stop_reason="final", task_id=self.ctx.task.id))
        rec.framework_tokens += st.framework_tokens


def _crew(crewai: ModuleType, agents: list[Any], tasks: list[Any], **kw: Any) -> Any:
    return crewai.Crew(agents=agents, tasks=tasks, verbose=False, tracing=False, memory=False,
                       cache=False, **kw)


class CrewAIReviewLoop(ReviewLoop):
    """review_loop on CrewAI: roles [author, reviewer]; same params and result as native."""

    def __init__(self, crewai: ModuleType) -> None:
        self.crewai = crewai

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        p: ReviewLoopParams = params
        author, reviewer = self.check_roles(ctx, p)
        workdir = ctx.workdir
        st = dict(ctx.state)
        rnd = int(st.get("round", 0))
        author_text: str = st.get("author_text", "")
        feedback: str | None = st.get("feedback")
        rec.votes = list(st.get("verdicts", []))
        rec.rounds = rnd
        loop = asyncio.get_running_loop()
        while True:
            rnd += 1
            with traced_round(rnd):
                k = _Kickoff(self.crewai, ctx, Bridge(loop))
                author_desc = self._author_text(ctx, author_text, feedback)
                a_task = self.crewai.Task(description=author_desc, expected_output=AUTHOR_OUTPUT,
                                          agent=k.agent(author, task_text=author_desc))
                where = "Read the changes with your tools (git_diff). " if workdir else ""
                review_desc = (f"Review the author's work on this task.\n\n{ctx.task.prompt()}\n\n"
                               f"{where}")
                verdict: Verdict | None = None
                passed: bool | None = None
                r_agent = k.agent(reviewer, purpose="review", task_text=review_desc)
                if not p.gate:
                    r_task = self.crewai.Task(description=review_desc, expected_output=VERDICT_NOTE,
                                              agent=r_agent, context=[a_task])
                    out = await k.run(_crew(self.crewai, [a_task.agent, r_agent], [a_task, r_task]))
                    author_text = str(out.tasks_output[0].raw).strip()
                    review_text: str | None = str(out.tasks_output[1].raw)
                else:
                    out = await k.run(_crew(self.crewai, [a_task.agent], [a_task]))
                    author_text, review_text = str(out.raw).strip(), None
                    passed, feedback = await self._gate(ctx, rec, rnd, p, workdir)
                    if passed:
                        r_task = self.crewai.Task(
                            description=f"{review_desc}\n\n## Author's answer\n{author_text}",
                            expected_output=VERDICT_NOTE, agent=r_agent)
                        out = await k.run(_crew(self.crewai, [r_agent], [r_task]))
                        review_text = str(out.raw)
                k.record(rec, author, rnd)
                k.record(rec, reviewer, rnd, "review")
                if review_text is not None:
                    verdict = await self._verdict(ctx, rec, rnd, reviewer, review_text,
                                                  k.stats[reviewer])
                    feedback = ("Review: changes requested.\n"
                                + "\n".join(c.render() for c in verdict.changes))
                rec.rounds = rnd
                state = RoundState(round=rnd, approved=bool(verdict and verdict.approved),
                                   tests_passed=passed)
                await ctx.save({"engine": ENGINE, "round": rnd, "author_text": author_text,
                                "feedback": feedback, "verdicts": rec.votes})
            fired = stop.fired(state) or ("max_rounds" if rnd >= p.max_rounds else None)
            if fired is None:
                continue
            outcome = stop_outcome(fired) or (Outcome.DONE if state.approved else Outcome.FAILED)
            if outcome is Outcome.DONE and not state.approved and "tests_pass" not in fired:
                outcome = Outcome.FAILED
            return await self._finish(ctx, rec, outcome, fired, author, author_text, verdict,
                                      workdir)

    @staticmethod
    def _author_text(ctx: PatternContext, previous: str, feedback: str | None) -> str:
        parts = [ctx.context_text(), ctx.task.prompt()]
        if feedback:
            parts += [f"## Your previous answer\n{previous}",
                      f"{feedback}\nAddress each item, then summarise what you changed."]
        return "\n\n".join(x for x in parts if x)

    @staticmethod
    async def _gate(ctx: PatternContext, rec: Record, rnd: int, p: ReviewLoopParams,
                    workdir: Any) -> tuple[bool, str | None]:
        from crew.patterns.review_loop import GATE_OUTPUT_CHARS

        assert ctx.sandbox is not None and p.gate is not None
        if workdir is None:
            return True, None
        r = await ctx.sandbox.run(p.gate, workspace=workdir, timeout=p.gate_timeout)
        rec.votes.append({"round": rnd, "gate": p.gate, "passed": r.ok, "exit_code": r.exit_code})
        if r.ok:
            return True, None
        out = (r.stdout + r.stderr)[-GATE_OUTPUT_CHARS:]
        return False, f"The gate `{p.gate}` failed (exit {r.exit_code}):\n{out}"

    @staticmethod
    async def _verdict(ctx: PatternContext, rec: Record, rnd: int, reviewer: str, text: str,
                       stats: CallStats) -> Verdict:
        """The reviewer's Verdict; one structured ask repairs an answer that does not parse."""
        try:
            verdict = parse_as(Verdict, text)
        except ValueError:
            msgs = [system_message(ctx, reviewer), *stats.last_messages[1:],
                    {"role": "assistant", "content": text}]
            verdict = await ctx.llm.ask(ctx.role(reviewer).model, msgs, Verdict,
                                        context=ctx.call(reviewer, turn=rnd, purpose="verdict"))
            rec.call(reviewer, rnd, "verdict")
        rec.votes.append({"round": rnd, "role": reviewer, **verdict.model_dump()})
        return verdict


class CrewAISupervisor(SupervisorWorker):
    """supervisor_worker on CrewAI: a hierarchical Crew, manager = the lead role."""

    def __init__(self, crewai: ModuleType) -> None:
        self.crewai = crewai

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        if len(ctx.task.roles) < 2:
            raise UserError(f"task {ctx.task.id!r}: supervisor_worker needs roles [lead, "
                            "worker, ...]", field="roles")
        lead, workers = ctx.task.roles[0], list(dict.fromkeys(ctx.task.roles[1:]))
        if lead in workers:
            raise UserError(f"task {ctx.task.id!r}: on the crewai engine the lead {lead!r} "
                            "cannot also be a worker", field="roles")
        summary: str | None = ctx.state.get("summary")  # resumed after the kickoff: not redone
        rec.votes = list(ctx.state.get("reviews", []))
        if summary is None:
            with traced_round(1):
                summary = await self._kickoff(ctx, rec, lead, workers)
            rec.votes.append({"round": 1, "role": lead, "approved": True, "summary": summary})
            await ctx.save({"engine": ENGINE, "round": 1, "summary": summary,
                            "reviews": rec.votes})
        rec.rounds = 1
        fired = stop.fired(RoundState(round=1, approved=True)) or "approved"
        if ctx.workspace is not None:
            artifacts = await gitops.commit(ctx.workspace, ctx.task.id, ctx.task.title, lead,
                                            summary)
        else:
            artifacts = await gitops.pending(ctx.workdir)
        return self.result(rec, Outcome.DONE, summary, decision=summary, stopped_by=fired,
                           artifacts=artifacts)

    async def _kickoff(self, ctx: PatternContext, rec: Record, lead: str,
                       workers: list[str]) -> str:
        k = _Kickoff(self.crewai, ctx, Bridge(asyncio.get_running_loop()))
        desc = "\n\n".join(x for x in (ctx.context_text(), ctx.task.prompt()) if x)
        manager = k.agent(lead, purpose="manage", task_text=desc, delegate=True, tools=False)
        team = [k.agent(w, purpose="work") for w in workers]
        task = self.crewai.Task(description=desc, expected_output=MANAGER_OUTPUT)
        out = await k.run(_crew(self.crewai, team, [task],
                                process=self.crewai.Process.hierarchical, manager_agent=manager))
        k.record(rec, lead, 1, "manage")
        for w in workers:
            k.record(rec, w, 1, "work")
        return str(out.raw).strip()
