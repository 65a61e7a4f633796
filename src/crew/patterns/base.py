"""The Pattern protocol, what a run hands a pattern (PatternContext) and what it gets back
(PatternResult), plus the shared machinery: params validation, termination, member turns
through `ctx.turns` (recorded, guard set), budget and guard stops, checkpoints after each
completed round.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crew.agent_prompt import start_messages as role_start_messages
from crew.agent_prompt import system_message as role_system_message
from crew.context import RunContext
from crew.errors import BudgetExceeded, BudgetKind, UserError
from crew.llm.types import CallContext, Message, StructuredChatModel, estimate_tokens
from crew.observability.tracer import Observation, Tracer, null_tracer
from crew.patterns.decisions import Degraded
from crew.patterns.state import AskRecord, PatternState
from crew.patterns.state import Outcome as Outcome
from crew.patterns.termination import Condition, Fired, RoundState, Stop, build_termination
from crew.patterns.turns import NATIVE_TURNS, MemberTurns, TurnResult
from crew.patterns.turns import traced_call as traced_call
from crew.spec.models import RoleSpec
from crew.spec.params import NoParams as NoParams
from crew.workspace.ops import Artifacts as Artifacts

if TYPE_CHECKING:
    from crew.agent import Agent, AgentResult
    from crew.tools.sandbox.base import SandboxBackend
    from crew.workspace.worktrees import Workspace

# a role with one of these may change the worktree: told before it ends what a commit refuses
WRITING_TOOLS = frozenset({"write_file", "edit_file", "run_command"})
Checkpoint = Callable[[dict[str, Any]], Awaitable[None] | None]
S = TypeVar("S", bound=PatternState)


class TurnStore(Protocol):
    """Where a run keeps completed turns (crew.run.journal.TurnJournal): by key, the latest
    conversation, its turn count, and its stop reason and detail once the agent stopped; and
    each structured ask's answer."""

    def conversation(self, key: str) -> tuple[list[Message], int, str | None, str] | None: ...

    def record(self, key: str, turn: int, messages: list[Message], stop: str | None,
               detail: str = "") -> None: ...

    def answer(self, key: str) -> AskRecord | None: ...

    def record_answer(self, key: str, answer: AskRecord) -> None: ...


@dataclass(frozen=True)
class TaskInfo:
    """The task a pattern works on. `roles` are in the pattern's own order."""

    id: str
    title: str
    description: str = ""
    roles: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # template params + the task's

    def prompt(self) -> str:
        return f"# {self.title}\n\n{self.description.strip()}".strip()


@dataclass
class PatternContext:
    """Everything a run hands a pattern. `state` is what the last `checkpoint` saved (empty on
    a fresh start); a pattern resumes from its last completed round. `turns` is how members
    take their turns (native, or the engine's: see crew.patterns.turns). `run_context` is what
    its agents and tools may use (registry, sandbox and limits, test command, tracer)."""

    run_id: str
    task: TaskInfo
    roles: Mapping[str, RoleSpec]
    llm: StructuredChatModel
    workspace: Workspace | None = None
    run_context: RunContext = field(default_factory=RunContext)
    dependencies: tuple[str, ...] = ()  # summaries of the tasks this one depends on
    termination: str | None = None  # the template's expression (None: the kind's default)
    state: dict[str, Any] = field(default_factory=dict)
    checkpoint: Checkpoint | None = None
    pattern: str = ""  # the kind, set by the pattern
    turns: MemberTurns = field(default=NATIVE_TURNS)  # how members take turns (the engine)
    turn_store: TurnStore | None = None  # turn-level resume: completed turns are never redone
    conventions: str | None = None  # the repo's AGENTS.md/CONTRIBUTING.md section (every role)
    _seen: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def sandbox(self) -> SandboxBackend | None:
        return self.run_context.sandbox

    @property
    def tracer(self) -> Tracer:
        return self.run_context.tracer

    def role(self, name: str) -> RoleSpec:
        try:
            spec = self.roles[name]
        except KeyError:
            raise UserError(f"task {self.task.id!r} uses role {name!r}, which is not resolved",
                            field="roles", hint="known: " + ", ".join(sorted(self.roles))
                            ) from None
        return spec if spec.name else spec.model_copy(update={"name": name})

    def call(self, role: str, *, turn: int = 0, purpose: str = "", task_id: str | None = None
             ) -> CallContext:
        return CallContext(run_id=self.run_id, task_id=task_id or self.task.id, role=role,
                           pattern=self.pattern, turn=turn, purpose=purpose)

    @property
    def workdir(self) -> Path | None:
        """Where this task edits: its own worktree if the run gave it one, else integration."""
        return self.workspace.worktree_for(self.task.id) if self.workspace else None

    def context_text(self) -> str | None:
        """Dependency summaries for the prompt (stable, so it goes before the task)."""
        if not self.dependencies:
            return None
        return "## Done before this task\n" + "\n".join(f"- {d.strip()}" for d in self.dependencies)

    def agent(self, role: str, workdir: Path | None, **kw: Any) -> Agent:
        """An agent for `role`: its tools in `workdir`, or no tools without a workspace."""
        from crew.agent import Agent

        spec = self.role(role)
        kw.setdefault("conventions", self.conventions)
        if workdir is None:
            return Agent(spec, self.llm, tools=[], run_context=self.run_context, **kw)
        if self.workspace is not None:
            kw.setdefault("diff_base", self.workspace.task_base(workdir))
            if WRITING_TOOLS & set(spec.tools) or any(t.startswith("mcp:") for t in spec.tools):
                kw.setdefault("commit_check", partial(self.workspace.commit_problems, workdir))
        return Agent(spec, self.llm, workspace=workdir, run_context=self.run_context, **kw)

    def turn_key(self, role: str, rnd: int, purpose: str = "", task_id: str | None = None
                 ) -> str:
        """The TurnStore key of the next agent or call of (role, round, purpose): numbered by
        occurrence, so a resumed pattern replaying a round meets the same keys in order."""
        base = f"{self.task.id}/{task_id or self.task.id}/{role}/{purpose}/{rnd}"
        n = self._seen.get(base, 0)
        self._seen[base] = n + 1
        return f"{base}/{n}"

    async def save(self, state: dict[str, Any]) -> None:
        self.state = state
        if self.checkpoint is not None:
            res = self.checkpoint(state)
            if inspect.isawaitable(res):
                await res


class TranscriptRef(BaseModel):
    """One agent conversation or structured call of the pattern (the messages live in traces)."""

    role: str
    round: int
    purpose: str = ""
    messages: int = 0
    turns: int = 0
    stop_reason: str = ""
    task_id: str = ""


class PatternResult(BaseModel):
    """What every pattern returns."""

    model_config = ConfigDict(use_enum_values=False)

    kind: str
    outcome: Outcome
    summary: str
    decision: str | None = None
    rounds: int = 0
    stopped_by: str | None = None  # the termination condition that fired
    artifacts: Artifacts = Field(default_factory=Artifacts)
    transcripts: list[TranscriptRef] = Field(default_factory=list)
    votes: list[dict[str, Any]] = Field(default_factory=list)  # votes, ballots or verdicts
    framework_tokens: int = 0  # prompt text added by the framework and the pattern
    degraded: list[Degraded] = Field(default_factory=list)  # decisions taken by a fallback
    budget_kind: BudgetKind | None = None  # the limit behind Outcome.BUDGET
    budget_scope: str | None = None  # whose limit: "run", "task:<id>", "role:<name>"
    budget_limit: float | None = None
    budget_needed: float = 0.0  # what the refused call needed in all (a raise must cover it)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DONE


class Record:
    """What a pattern accumulates while it runs (so a budget stop still reports it), and the
    tracer its degraded decisions are reported to (the run context's)."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        self.tracer = tracer if tracer is not None else null_tracer()
        self.rounds = 0
        self.transcripts: list[TranscriptRef] = []
        self.votes: list[dict[str, Any]] = []
        self.framework_tokens = 0
        self.guard: str | None = None
        self.degraded: list[Degraded] = []

    def agent(self, role: str, rnd: int, res: TurnResult, purpose: str = "",
              task_id: str = "") -> None:
        self.transcripts.append(TranscriptRef(
            role=role, round=rnd, purpose=purpose, messages=len(res.messages), turns=res.turns,
            stop_reason=str(res.stop_reason), task_id=task_id))
        self.framework_tokens += res.framework_tokens

    def call(self, role: str, rnd: int, purpose: str, prompt_text: str = "") -> None:
        self.transcripts.append(TranscriptRef(role=role, round=rnd, purpose=purpose, messages=2,
                                              turns=1, stop_reason="final"))
        self.framework_tokens += estimate_tokens(prompt_text)


def guard_tripped(res: TurnResult) -> bool:
    """A deterministic guard (or max_turns) stopped the agent before a final answer."""
    return not res.final


@runtime_checkable
class Pattern(Protocol):
    """A collaboration pattern: `await pattern.run(ctx)` → PatternResult."""

    kind: ClassVar[str]

    async def run(self, ctx: PatternContext) -> PatternResult: ...


class BasePattern:
    """Shared run wrapper: validates params, builds termination, turns budget stops into
    outcomes. Subclasses set `kind`, `Params`, `default_termination` and write `execute`."""

    kind: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams
    default_termination: ClassVar[str] = "guard"  # "": no condition (Never)
    max_rounds_param: ClassVar[str] = "max_rounds"

    def params(self, ctx: PatternContext) -> Any:
        try:
            return self.Params.model_validate(dict(ctx.task.params))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise UserError(f"pattern {self.kind!r}: param {loc}: {err['msg']}",
                            field=f"params.{loc}" if loc else "params",
                            hint="params: " + ", ".join(self.Params.model_fields)) from None

    async def run(self, ctx: PatternContext) -> PatternResult:
        ctx.pattern = self.kind
        params = self.params(ctx)
        stop = build_termination(ctx.termination or self.default_termination or "",
                                 params.model_dump(), max_rounds_param=self.max_rounds_param)
        rec = Record(ctx.tracer)
        try:
            return await self.execute(ctx, params, stop, rec)
        except BudgetExceeded as e:
            result = self.result(rec, Outcome.BUDGET, str(e),  # "run budget would cross …"
                                 stopped_by="budget")
            result.budget_kind, result.budget_scope, result.budget_limit = e.kind, e.scope, e.limit
            result.budget_needed = e.needed
            return result

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        raise NotImplementedError

    def restore(self, ctx: PatternContext, rec: Record, model: type[S]) -> S:
        """The kind's state as last saved (a fresh one on a first start), with `rec` holding
        the rounds, votes and degraded decisions of the rounds a resume does not redo."""
        try:
            st = model.model_validate(ctx.state)
        except ValidationError as e:
            raise UserError(f"task {ctx.task.id!r}: its saved {self.kind} state does not fit "
                            f"this crew: {e.errors()[0]['msg']}", field="turns.jsonl",
                            hint="a checkpoint of another crew version: start a new run"
                            ) from None
        rec.rounds, rec.votes, rec.degraded = st.round, list(st.votes), list(st.degraded)
        return st

    async def save(self, ctx: PatternContext, rec: Record, st: PatternState) -> None:
        """Checkpoint `st` with the record's votes and degraded decisions."""
        st.votes, st.degraded = list(rec.votes), list(rec.degraded)
        await ctx.save(st.model_dump(mode="json"))

    async def rounds(self, ctx: PatternContext, rec: Record, st: PatternState, stop: Condition,
                     max_rounds: int, play: Callable[[int], Awaitable[RoundState]]) -> Fired:
        """Play rounds from the last saved one until a condition (or max_rounds) fires, each
        in its trace span and checkpointed after it; `play(n)` is round n, answering what the
        conditions read. A resume after the deciding round plays none."""
        fired = st.stopped
        while fired is None:
            rnd = st.round + 1
            with traced_round(ctx, rnd):  # concurrent members nest under it
                rec.guard = None
                after = await play(rnd)
            st.round = rec.rounds = rnd
            fired = fired_after(stop, after, max_rounds)
            st.fired = list(fired.stops) if fired is not None else None
            await self.save(ctx, rec, st)
        return fired

    def result(self, rec: Record, outcome: Outcome, summary: str, *, decision: str | None = None,
               stopped_by: Fired | str | None = None, artifacts: Artifacts | None = None
               ) -> PatternResult:
        label = stopped_by.label if isinstance(stopped_by, Fired) else stopped_by
        return PatternResult(
            kind=self.kind, outcome=outcome, summary=summary, decision=decision,
            rounds=rec.rounds, stopped_by=label, artifacts=artifacts or Artifacts(),
            transcripts=rec.transcripts, votes=rec.votes, framework_tokens=rec.framework_tokens,
            degraded=rec.degraded)


def stop_outcome(fired: Fired) -> Outcome | None:
    """The outcome the fired conditions mean, when they settle it (None: max_rounds alone,
    the pattern decides). A budget stop is no condition: BudgetExceeded → Outcome.BUDGET."""
    if Stop.GUARD in fired:
        return Outcome.GUARD
    if fired.stops == (Stop.MAX_ROUNDS,):
        return None
    return Outcome.DONE


def fired_after(stop: Condition, state: RoundState, max_rounds: int) -> Fired | None:
    """What ends the pattern after this round: its condition, else the hard max_rounds cap."""
    hit = stop.fired(state)
    if hit is None and state.round >= max_rounds:
        return Fired.of(Stop.MAX_ROUNDS)
    return hit


async def run_agent(ctx: PatternContext, rec: Record, rnd: int, role: str,
                    workdir: Path | None, *, task: str | None = None,
                    messages: list[Message] | None = None, purpose: str = "",
                    task_id: str | None = None, pattern_text: str = "", alias: str | None = None,
                    temperature: float | None = None) -> TurnResult:
    """One agentic turn of `role` (through the engine's `ctx.turns`), recorded; a turn that
    ended before a final answer (a guard, max_turns) sets `rec.guard`. With a TurnStore, each
    completed turn is recorded (natively as it happens, an engine's at its end), and a turn
    recorded before a crash continues from its last completed step, or returns its recorded
    end without a model call."""
    store = ctx.turn_store
    key, saved, kw = None, None, {}
    if store is not None:
        key = ctx.turn_key(role, rnd, purpose, task_id)
        saved = store.conversation(key)
        kw = {"on_turn": _recording(store, key)}
    res: TurnResult
    if saved is not None and saved[2] is not None:
        res = _ended(saved[0], saved[1], saved[2], saved[3])
    else:
        res = await ctx.turns.agent(ctx, role, workdir, task=task if saved is None else None,
                                    messages=saved[0] if saved is not None else messages,
                                    purpose=purpose, task_id=task_id, alias=alias,
                                    temperature=temperature, **kw)
        if store is not None and key is not None and not ctx.turns.records_steps:
            store.record(key, res.turns, list(res.messages), str(res.stop_reason), res.detail)
    rec.agent(role, rnd, res, purpose, task_id or ctx.task.id)
    rec.framework_tokens += estimate_tokens(pattern_text)
    if guard_tripped(res):
        rec.guard = f"{role}: {res.detail}"
    return res


def agent_system(ctx: PatternContext, role: str, workdir: Path | None) -> Message:
    """The system message an agentic turn of `role` starts with (the tool note with tools)."""
    spec = ctx.role(role)
    return role_system_message(spec, conventions=ctx.conventions,
                               with_tools=workdir is not None and bool(spec.tools))


def start_messages(ctx: PatternContext, role: str, workdir: Path | None, task: str
                   ) -> list[Message]:
    """The conversation an agentic turn on `task` starts with, as crew's Agent lays it out
    (for engines: the same prompt text, whoever runs the turn)."""
    spec = ctx.role(role)
    return role_start_messages(spec, task, conventions=ctx.conventions,
                               context=ctx.context_text(),
                               with_tools=workdir is not None and bool(spec.tools))


def _recording(store: TurnStore, key: str) -> Callable[[Any], None]:
    """An Agent `on_turn` hook recording each completed turn under `key`."""
    def on_turn(r: Any) -> None:
        store.record(key, r.turn, r.messages, None if r.stop_reason is None
                     else str(r.stop_reason), r.detail)
    return on_turn


def _ended(messages: list[Message], turns: int, stop: str, detail: str) -> AgentResult:
    """The result of a turn that had ended before the crash, from its record."""
    from crew.agent import AgentResult, StopReason

    texts = [m.get("content") for m in messages if m.get("role") == "assistant"]
    text = next((t for t in reversed(texts) if t), None)
    return AgentResult(text=text, stop_reason=StopReason(stop), detail=detail,
                       messages=messages, turns=turns)


def _last_answer(ctx: PatternContext, role: str, rnd: int, purpose: str
                 ) -> tuple[str | None, str | None]:
    """(key, the answer recorded for it before a crash) for a tool-less call."""
    if ctx.turn_store is None:
        return None, None
    key = ctx.turn_key(role, rnd, purpose)
    saved = ctx.turn_store.conversation(key)
    return key, (str(saved[0][-1].get("content") or "") if saved and saved[0] else None)


async def gather_all(*aws: Awaitable[Any]) -> list[Any]:
    """Every awaitable's result, in order, run in an `asyncio.TaskGroup`: when one fails (e.g.
    a budget stop) the siblings are cancelled and that failure is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(a)) for a in aws]
    except BaseExceptionGroup as eg:
        raise eg.exceptions[0] from None
    return [t.result() for t in tasks]


async def _awaited(aw: Awaitable[Any]) -> Any:
    return await aw


def traced_round(ctx: PatternContext, n: int, **payload: Any) -> Observation:
    """The trace span of round `n` (enter it before gathering concurrent members)."""
    return ctx.tracer.round(n, **payload)


def round_state(rnd: int, **kw: Any) -> RoundState:
    return RoundState(round=rnd, **kw)


def system_message(ctx: PatternContext, role: str) -> dict[str, Any]:
    """The role's own prompt, without the agent's tool note (for tool-less calls)."""
    return role_system_message(ctx.role(role), conventions=ctx.conventions)


async def text_turn(ctx: PatternContext, rec: Record, role: str, rnd: int,
                    messages: list[dict[str, Any]], *, purpose: str = "", alias: str | None = None,
                    temperature: float | None = None, pattern_text: str = "") -> str:
    """One tool-less turn of `role` through `ctx.turns` (debates without a workspace);
    recorded in the TurnStore, so a resumed round does not ask it again."""
    key, answer = _last_answer(ctx, role, rnd, purpose)
    if answer is not None:
        rec.call(role, rnd, purpose, pattern_text)
        return answer.strip()
    text = await ctx.turns.text(ctx, role, rnd, messages, purpose=purpose, alias=alias,
                                temperature=temperature)
    if ctx.turn_store is not None and key is not None:
        ctx.turn_store.record(key, rnd, [{"role": "assistant", "content": text}], "final",
                              "final answer")
    rec.call(role, rnd, purpose, pattern_text)
    return text
