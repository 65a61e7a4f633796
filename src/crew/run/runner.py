"""`crew run` / `crew resume`: plan, schedule the task DAG, run the gates, checkpoint, report.

One `RunSession` per process run of a run id. Everything it learns is checkpointed before it
moves on (journals appended at once, state.json written off the event loop and awaited at task
ends), so a crash at any point resumes: finished tasks are not re-run, an interrupted pattern
continues from its saved round and an interrupted agent from its last completed turn, a task's
uncommitted work stays in its worktree and commits are never duplicated (trailers).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.context import RunContext
from crew.errors import BudgetExceeded, CrewRuntimeError, InfrastructureError, UserError
from crew.patterns.base import Outcome, PatternResult, TaskInfo
from crew.patterns.decisions import Degraded, trace_degraded
from crew.patterns.registry import default_registry
from crew.patterns.setup import pattern_context
from crew.run import gates as gates_mod
from crew.run import schedule, view_events
from crew.run.budgets import scoped_limits
from crew.run.checkpointer import Checkpointer
from crew.run.crash import describe_crash, minimal_report, save_crash
from crew.run.journal import TURNS_FILE, StateWriter, TurnJournal
from crew.run.knowledge import join_sections, learn_from_run, read_for_prompt
from crew.run.merge_fix import conflict_task, markers_left, start_conflict_merge
from crew.run.plan import make_plan, planned_problems, repo_context
from crew.run.plan_tools import PlanRepo, tracked_files
from crew.run.report import render_report, review_lines
from crew.run.schedule import TaskStopped
from crew.run.state import (
    FINISHED_TASK,
    REPORT_FILE,
    PlannedTask,
    RunState,
    RunStatus,
    TaskState,
    TaskStatus,
    save_plan,
    write_atomic,
)
from crew.run.testcmd import with_test_command
from crew.textsafe import safe_text
from crew.tools.conventions import read_conventions
from crew.tools.paths import DEFAULT_PROTECTED
from crew.workspace.secrets import CommitRefused

if TYPE_CHECKING:
    from crew.llm import LLM
    from crew.observability.tracer import Tracer
    from crew.spec.resolve import ResolvedFeature
    from crew.tools.registry import ToolRegistry
    from crew.tools.sandbox.base import SandboxBackend
    from crew.workspace.worktrees import Workspace

SUMMARY_CHARS = 600


@dataclass
class RunSession:
    """One process working on one run id (fresh or resumed)."""

    resolved: ResolvedFeature
    state: RunState
    run_dir: Path
    workspace: Workspace
    llm: LLM
    sandbox: SandboxBackend
    tracer: Tracer  # also the one channel to the live view (crew.run.view_events)
    plan: list[PlannedTask] | None = None
    plan_only: bool = False
    approve: Any = None  # Callable[[list[PlannedTask]], list[PlannedTask] | None]
    turns: TurnJournal | None = None  # turns.jsonl (opened from run_dir when not given)
    writer: StateWriter | None = None  # None: state.json is written synchronously
    conventions: str | None = None  # AGENTS.md + crew's notes on the repo, read at the start
    test_command: str | None = None  # what run_tests runs; every role is told it
    tools: ToolRegistry | None = None  # the run's registry: MCP tools, approvals, hooks
    _budget_out: bool = False  # a task ended on the budget: start nothing new
    _stopped_by: str | None = None  # why running tasks were cancelled (a sibling stopped)
    _session_start: float = field(default_factory=time.monotonic)
    _wall_base: float = 0.0
    _checkpoints: Checkpointer = field(init=False)
    # what every pattern, agent and tool of this run is handed (built once, from the above)
    run_context: RunContext = field(init=False)

    def __post_init__(self) -> None:
        from crew.tools.registry import ToolRegistry

        self.run_context = RunContext(
            tools=self.tools if self.tools is not None else ToolRegistry(), tracer=self.tracer,
            sandbox=self.sandbox, test_command=self.test_command)
        self._wall_base = self.state.wall_s
        self._checkpoints = Checkpointer(self.run_dir, self.state, self._snapshot, self.writer)
        if self.turns is None:
            self.turns = TurnJournal(self.run_dir / TURNS_FILE)
        self.turns.finish([tid for tid, ts in self.state.tasks.items()
                           if ts.status in FINISHED_TASK])

    # ------------------------------------------------------------------ checkpoint
    def checkpoint(self) -> None:
        """Checkpoint state.json (small: O(tasks)) after every LLM call and task change. With
        a writer, the snapshot goes to its thread, at most once per CHECKPOINT_INTERVAL_S (a
        later call is deferred, not dropped); `flush`/`durable` send the latest at once."""
        self._checkpoints.checkpoint()

    def flush(self) -> None:
        """Block until the latest checkpoint is on disk (at exit)."""
        self._checkpoints.flush()

    async def durable(self) -> None:
        """Wait, off the loop, until the latest checkpoint is on disk."""
        await self._checkpoints.durable()

    def _snapshot(self) -> None:
        s = self.state
        s.wall_s = self._wall_base + (time.monotonic() - self._session_start)
        t = self.llm.ledger.total
        s.spent = {"calls": t.calls, "prompt_tokens": t.prompt_tokens,
                   "completion_tokens": t.completion_tokens, "cost_usd": t.cost_usd}
        if self.llm.budget is not None:
            s.budget = self.llm.budget.to_dict()

    def _set(self, task_id: str, status: TaskStatus, **kw: Any) -> TaskState:
        ts = self.state.task(task_id)
        ts.status = status
        for k, v in kw.items():
            setattr(ts, k, v)
        self.checkpoint()
        return ts

    # ------------------------------------------------------------------ the run
    async def execute(self) -> None:
        """Run (or continue) to the end and checkpoint; `finish` then writes the report."""
        self.state.sessions += 1
        self.state.stop_reason = self.state.budget_kind = None
        self.state.budget_scope = self.state.budget_limit = None
        self.state.budget_needed = 0.0
        if self.llm.budget is not None:
            self.llm.budget.start()  # the run's minutes: crew's start-up and checks are done
        try:
            with self.tracer.run({"goal": self.resolved.feature.spec.goal}):
                await self._execute()
        except asyncio.CancelledError:
            self._interrupted("interrupted")
        except BudgetExceeded as e:
            self.state.status, self.state.stop_reason = RunStatus.BUDGET, str(e)
            self.state.budget_kind, self.state.budget_scope = e.kind, e.scope
            self.state.budget_limit, self.state.budget_needed = e.limit, e.needed
        except (UserError, CrewRuntimeError, OSError) as e:
            # the checkpoint is intact: say what broke; `crew resume` continues after a fix
            self._interrupted(str(e) if isinstance(e, TaskStopped) else f"{type(e).__name__}: {e}")
            self.state.status = RunStatus.ERROR
            self.tracer.event("run_error", "ERROR", {
                "error": self.state.stop_reason,
                "message": f"run stopped: {self.state.stop_reason}"})
        except Exception as e:  # a bug in crew: said plainly, the traceback kept, resumable
            self._crashed(e)
        self._settle()

    def _crashed(self, e: BaseException) -> None:
        reason = describe_crash(e, save_crash(self.run_dir, e))
        self._interrupted(reason)
        self.state.status = RunStatus.ERROR
        with contextlib.suppress(Exception):
            self.tracer.event("run_crash", "ERROR", {
                "error": reason, "message": f"{reason}. Please report it with that file; "
                f"`crew resume {self.state.run_id}` continues the run."})

    def _settle(self) -> None:
        """Checkpoint whatever ended the run; a failure here is a crash too."""
        try:
            self.checkpoint()
            self.flush()
        except Exception as e:
            self._crashed(e)
            with contextlib.suppress(Exception):
                self.checkpoint()
                self.flush()

    def finish(self) -> tuple[int, str]:
        """The end of the session, after the launcher's own end work (cleanup, host check):
        the checkpoint, then report.md written once (none for a saved plan), and the exit
        code of DESIGN.md §7. A failure here is a crash too; the report is then the status
        and the reason."""
        self._settle()
        report = ""
        try:
            if self.state.status != RunStatus.PLANNING or not self.plan_only:
                report = self.write_report()
        except Exception as e:
            self._crashed(e)
            self._settle()
            report = minimal_report(self.state)
            with contextlib.suppress(OSError):
                write_atomic(self.run_dir / REPORT_FILE, report)
        return RunStatus(self.state.status).exit_code, report

    def _interrupted(self, reason: str) -> None:
        for ts in self.state.tasks.values():
            if ts.status == TaskStatus.RUNNING:
                ts.status = TaskStatus.INTERRUPTED
        self.state.status, self.state.stop_reason = RunStatus.INTERRUPTED, reason

    def _protected(self) -> tuple[str, ...]:
        return tuple(getattr(self.sandbox, "protected", DEFAULT_PROTECTED))

    async def _execute(self) -> None:
        # read once per session: every role's prompt starts with the same text (prompt caches)
        self.conventions = join_sections(  # AGENTS.md, then crew's notes on this repository
            await asyncio.to_thread(read_conventions, self.workspace.path, self._protected()),
            await asyncio.to_thread(read_for_prompt, self))
        if self.test_command:
            self.conventions = with_test_command(self.conventions, self.test_command)
        if self.plan is None:
            self.state.status = RunStatus.PLANNING
            self.checkpoint()
            self.plan = await self._make_plan()
        self._trace_plan()
        if self.plan_only:
            return
        if self.state.status == RunStatus.PLANNING and self.approve is not None:
            while True:
                approved = self.approve(self.plan)
                if approved is None:
                    self.state.status = RunStatus.REJECTED
                    self.state.stop_reason = "the plan was rejected; nothing ran"
                    return
                problems = planned_problems(self.resolved, approved)
                changed, self.plan = approved != self.plan, approved
                if changed:
                    self._trace_plan()
                if not problems:
                    break
                self.tracer.event("plan_invalid", "WARNING", {
                    "problems": problems, "message": "the plan is invalid: " + "; ".join(problems)})
            self._save_plan()
        if self.llm.budget is not None:  # the planned tasks' template budgets
            self.llm.budget.set_scoped(*scoped_limits(self.resolved, self.plan,
                                                      self.state.budget_overrides))
        self.state.status = RunStatus.RUNNING
        self.checkpoint()
        await self._schedule()
        if self._budget_out:
            self.state.status = RunStatus.BUDGET
            return
        await self._gates()
        await learn_from_run(self)  # the notes for the next run (degrades; never fails one)

    async def _make_plan(self) -> list[PlannedTask]:
        files = await asyncio.to_thread(tracked_files, self.workspace.path)
        degraded: list[Degraded] = []
        repo = PlanRepo(self.workspace.path, self._protected())
        with self.tracer.task("plan", pattern="plan", roles=[self.resolved.crew.spec.supervisor]):
            plan, notes = await make_plan(self.resolved, self.llm, run_id=self.state.run_id,
                                          repo_text=repo_context(self.workspace.path, files),
                                          repo=repo, conventions=self.conventions,
                                          degraded=degraded, run_context=self.run_context)
            for d in degraded:
                trace_degraded(self.tracer, d)
        self.state.degraded = degraded
        self.state.plan_notes = list(notes)  # report.md lists them
        for n in notes:
            self.tracer.event("plan_repaired", "WARNING", {"detail": n, "message": n})
        self.plan = plan
        self._save_plan()
        return plan

    def _trace_plan(self) -> None:
        """The plan to the views (and the record), with a resumed run's statuses."""
        assert self.plan is not None
        self.tracer.event(view_events.PLAN, "DEFAULT", view_events.plan_payload(
            self.plan, {tid: ts.status for tid, ts in self.state.tasks.items()}))

    def _save_plan(self) -> None:
        assert self.plan is not None
        save_plan(self.run_dir, self.plan)
        self.state.order = [t.id for t in self.plan]
        for t in self.plan:
            self.state.task(t.id)
        self.checkpoint()

    # ------------------------------------------------------------------ scheduling
    async def _schedule(self) -> None:
        """Start each task once its dependencies are merged, up to max_parallel at a time;
        merge finished tasks in plan order; skip the dependents of a failed task. The tasks
        run in one asyncio.TaskGroup (crew.run.schedule.run_tasks): a task that raises stops
        its siblings (each records why, its checkpoint stays resumable) and its error ends
        the run; Ctrl-C cancels them all."""
        await schedule.run_tasks(self._next_tasks)

    async def _next_tasks(self, running: set[str]) -> schedule.Starts:
        """Merge what finished, skip what a failure blocks, then what may start now."""
        assert self.plan is not None
        await self._merge_ready()
        by_id = {t.id: t for t in self.plan}
        while not self._budget_out and (stuck := schedule.blocked(self.state, by_id)):
            why = f"dependency {stuck[1]} did not finish"
            self._set(stuck[0], TaskStatus.SKIPPED, error=why)
            self.tracer.event(view_events.TASK_SKIPPED, "WARNING", {
                "task_id": stuck[0], "message": f"{stuck[0]} skipped: {why}"})
        starts: schedule.Starts = []
        for t in [] if self._budget_out else self.plan:
            if len(running) + len(starts) >= self.state.max_parallel:
                break
            if t.id not in running and schedule.ready(t, self.state, by_id):
                starts.append((t.id, self._run_in_group(t)))
        return starts

    async def _run_in_group(self, t: PlannedTask) -> None:
        """A task in the schedule's group: its error names it as what stopped the others."""
        try:
            await self._run_task(t)
        except Exception:
            self._stopped_by = self._stopped_by or f"task {t.id} stopped the run"
            raise

    async def _merge_ready(self) -> None:
        assert self.plan is not None
        for t in list(self.plan):
            ts = self.state.task(t.id)
            if ts.status != TaskStatus.DONE or ts.merged:
                continue
            if any(p.conflict_of == t.id for p in self.plan):
                continue  # a merge_fix task stands in for it
            result = await asyncio.to_thread(self.workspace.merge_task, t.id, fast_forward=True)
            if isinstance(result, str):
                ts.merged = True
                if t.conflict_of:
                    self.state.task(t.conflict_of).merged = True
                self.checkpoint()
                continue
            # a conflict: a coder resolves it in a new task that stands in for this one
            fix = conflict_task(self.resolved, t, result)
            ts.error = f"merge conflict in {', '.join(result.paths)}; resolving in {fix.id}"
            self.tracer.event("merge_conflict", "WARNING",
                              {"task": t.id, "paths": list(result.paths), "message": ts.error})
            schedule.redirect_dependents(self.plan, t.id, fix.id)
            self.plan.append(fix)
            self._save_plan()

    async def _run_task(self, t: PlannedTask) -> None:
        ts = self.state.task(t.id)
        self._set(t.id, TaskStatus.RUNNING, started_at=ts.started_at or time.time(), error=None)
        wt = await asyncio.to_thread(self.workspace.task_worktree, t.id)
        if t.conflict_of:
            await asyncio.to_thread(start_conflict_merge, self.workspace, t, wt.path)
        template = self.resolved.patterns[t.pattern].spec
        if t.engine:
            template = template.model_copy(update={"engine": t.engine})
        ctx = pattern_context(
            self._info(t), self._role_specs(), self.llm, run_id=self.state.run_id,
            template=template, workspace=self.workspace, run_context=self.run_context,
            dependencies=self._dep_summaries(t), state=self._pattern_state(t.id),
            checkpoint=self._pattern_checkpoint(t.id), turn_store=self.turns,
            conventions=self.conventions)
        with self.tracer.task(t.id, pattern=t.pattern, roles=t.roles) as obs:
            try:
                result = await default_registry().run(template, ctx)
            except asyncio.CancelledError:
                if self._stopped_by is not None:  # not this task's failure: said so
                    ts.error = f"stopped before it finished: {self._stopped_by}"
                    obs.end({"outcome": "stopped", "summary": ts.error}, level="WARNING")
                raise
            except (InfrastructureError, UserError) as e:
                # not the model's problem: the task stops after this one attempt, resumable
                stopped = TaskStopped(t.id, e)
                self._set(t.id, TaskStatus.ERROR, error=stopped.reason, finished_at=time.time())
                await self.durable()
                raise stopped from e
            except CommitRefused as e:  # told to the agents, not undone: this task fails
                result = PatternResult(kind=template.kind, outcome=Outcome.FAILED,
                                       summary=str(e))
            status = TaskStatus.of(result.outcome)
            commit = result.artifacts.commit
            if commit is None and status is TaskStatus.DONE:
                commit = await asyncio.to_thread(self.workspace.find_task_commit, t.id)
            if status is TaskStatus.DONE and t.conflict_of:
                leftover = await asyncio.to_thread(markers_left, wt.path, t)
                if leftover:
                    status = TaskStatus.FAILED
                    result.summary = f"conflict markers left in {leftover}"
            # checkpointed before the task's span closes: whoever sees it ended can rely on it
            self._set(t.id, status, outcome=result.outcome, summary=result.summary,
                      commit=commit, files_changed=result.artifacts.files_changed,
                      rounds=result.rounds, reviews=review_lines(result.votes),
                      finished_at=time.time(), degraded=result.degraded)
            await self.durable()  # (each degraded decision was traced when it was taken)
            obs.end({"outcome": status, "summary": result.summary[:SUMMARY_CHARS],
                     "commit": commit})
        if self.turns is not None and status in FINISHED_TASK:  # its end is on disk
            self.turns.forget([t.id])
            await asyncio.to_thread(self.turns.compact, [t.id])
        if result.outcome is Outcome.BUDGET:
            self._budget_out = True
            self.state.stop_reason = result.summary
            self.state.budget_kind = result.budget_kind
            self.state.budget_scope = result.budget_scope
            self.state.budget_limit = result.budget_limit
            self.state.budget_needed = result.budget_needed

    def _info(self, t: PlannedTask) -> TaskInfo:
        desc = t.description.strip()
        if t.acceptance:
            desc += "\n\nDone when:\n" + "\n".join(f"- {a}" for a in t.acceptance)
        return TaskInfo(id=t.id, title=t.title, description=desc, roles=tuple(t.roles),
                        params=dict(t.params))

    def _role_specs(self) -> dict[str, Any]:
        return {n: loaded.spec for n, loaded in self.resolved.roles.items()}

    def _dep_summaries(self, t: PlannedTask) -> tuple[str, ...]:
        """Each dependency's summary and changed files, never its transcript."""
        out = []
        for d in t.depends_on:
            ds = self.state.task(d)
            files = f" (files: {', '.join(ds.files_changed[:12])})" if ds.files_changed else ""
            summary = " ".join(ds.summary.split())[:SUMMARY_CHARS]
            out.append(f"{d}: {summary}{files}")
        return tuple(out)

    def _pattern_state(self, task_id: str) -> dict[str, Any]:
        assert self.turns is not None
        return self.turns.pattern_state(task_id) or {}

    def _pattern_checkpoint(self, task_id: str) -> Any:
        def save(pattern_state: dict[str, Any]) -> None:
            assert self.turns is not None
            self.turns.save_pattern(task_id, pattern_state)  # turns.jsonl, not state.json
            self.checkpoint()
        return save

    # ------------------------------------------------------------------ gates
    async def _gates(self) -> None:
        assert self.plan is not None
        commands = self.resolved.feature.spec.acceptance
        self.state.status = RunStatus.GATES
        while True:
            attempt = self.state.fix_rounds + 1
            results = []
            for cmd in commands:
                g = await gates_mod.run_gate(self.sandbox, self.workspace.path, cmd, attempt)
                results.append(g)
                self.tracer.event("gate", "DEFAULT" if g.passed else "WARNING", {
                    "gate": g.name, "command": g.command, "passed": g.passed,
                    "exit_code": g.exit_code, "attempt": attempt, "output": g.output})
            self.state.gates.extend(results)
            self.checkpoint()
            failed = [g for g in results if not g.passed]
            tasks_ok = all(self.state.task(t.id).status == TaskStatus.DONE for t in self.plan
                           if t.kind != "gate_fix")
            if not failed:
                self.state.status = RunStatus.PASSED if tasks_ok else RunStatus.FAILED
                return
            if self.state.fix_rounds >= self.resolved.crew.spec.defaults.fix.max_rounds:
                self.state.status, self.state.stop_reason = RunStatus.FAILED, "acceptance gates fail"
                return
            self.state.fix_rounds += 1
            fix = gates_mod.fix_task(self.resolved, failed, self.state.fix_rounds)
            self.plan.append(fix)
            self._save_plan()
            self.state.status = RunStatus.RUNNING
            await self._schedule()
            if self._budget_out:
                self.state.status = RunStatus.BUDGET
                return
            if self.state.task(fix.id).status != TaskStatus.DONE:
                self.state.status = RunStatus.FAILED
                self.state.stop_reason = f"{fix.id}: {self.state.task(fix.id).summary[:200]}"
                return
            self.state.status = RunStatus.GATES

    # ------------------------------------------------------------------ report
    def write_report(self) -> str:
        limit = self.llm.budget.run.usd if self.llm.budget is not None else None
        text = safe_text(render_report(self.state, self.plan or [], self.llm.ledger,
                                       limit_usd=limit))
        write_atomic(self.run_dir / REPORT_FILE, text)
        return text
