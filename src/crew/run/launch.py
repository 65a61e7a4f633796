"""Start or resume a run: resolve the feature, take the run's lock, open the workspace, build
the LLM (ledger from ledger.jsonl, budget from the checkpoint), the sandbox and the tracer,
open the journals and the state writer, then drive a `RunSession` under asyncio with Ctrl-C /
SIGTERM turned into a clean, resumable stop."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from crew.errors import Problem, UserError
from crew.run.journal import RunFiles, load_ledger
from crew.run.sandboxing import (
    describe_limits,
    register_model_secrets,
    sandbox_settings,
)
from crew.run.state import (
    REPORT_FILE,
    RunState,
    RunStatus,
    find_run_dir,
    load_plan,
    load_state,
    run_dir,
    run_lock,
    save_state,
)
from crew.workspace import hostcheck

if TYPE_CHECKING:
    from crew.llm.budget import BudgetPool
    from crew.observability.sinks import TraceSink
    from crew.run.preflight import Checked
    from crew.run.runner import RunSession
    from crew.spec.models import SandboxSpec
    from crew.spec.pattern_check import PatternKinds
    from crew.spec.resolve import ResolvedFeature
    from crew.tools.registry import ToolRegistry

FEATURE_COPY = "feature.yaml"


@dataclass
class RunOptions:
    """The flags of `crew run` / `crew resume` (None: the feature's or crew's value)."""

    repo: Path | None = None
    models: Path | None = None
    plan_only: bool = False
    approve: Callable[[Any], Any] | None = None
    max_parallel: int | None = None
    budget_usd: float | None = None
    budget_tokens: int | None = None
    budget_minutes: float | None = None
    # `crew resume --task-budget/--role-budget VALUE`: (flag, value) pairs (crew.run.budgets)
    scoped_budgets: Sequence[tuple[str, str]] = ()
    sandbox: str | None = None
    # --memory-mb, --cpus, --pids, --timeout-s, --network: over the feature's and crew's
    sandbox_flags: dict[str, Any] = field(default_factory=dict)
    trace: bool = True
    view: TraceSink | None = None  # the live view: fed by the run's tracer, nothing else
    sinks: Sequence[TraceSink] = field(default_factory=tuple)
    say: Callable[[str], None] = lambda _text: None  # one-line notices for the user
    tool_approver: Any = None  # answers `approvals: ask` (default: crew.tools.approvals)
    # `crew eval`: a budget shared with the suite's other runs, and the trace's session id,
    # extra tags and metadata (not kept in state.json: the eval passes them again on resume)
    shared_budget: BudgetPool | None = None
    trace_session: str | None = None
    trace_tags: Sequence[str] = ()
    trace_metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class RunOutcome:
    run_id: str
    exit_code: int
    state: RunState
    run_dir: Path
    report: str = ""


def _kinds() -> PatternKinds:
    """Params of every kind and engines (installed) checked with the feature, before a run
    directory, branch or model call exists."""
    from crew.patterns.checks import pattern_kinds

    return pattern_kinds(require_installed=True)


def _prewarm() -> None:
    """The one prewarm of a process that runs: litellm and what its first request loads
    import in a background thread while the feature is resolved, the sandbox and repository
    are checked and MCP servers start; building the run's LLM (`preflight.run_llm`) joins it
    and loads what it left (the OpenAI client of an HTTP deployment)."""
    from crew.llm import prewarm

    prewarm()


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


class NewRun(NamedTuple):
    """What `check_new_run` found: the resolved feature, the preflight's results and the
    feature's text (the run dir's frozen copy)."""

    resolved: ResolvedFeature
    checked: Checked
    text: str


def check_new_run(feature: Path, opts: RunOptions) -> NewRun:
    """Everything `crew run` can check without a model call (crew.run.preflight): one
    UserError listing every problem, before a run directory, branch or worktree exists."""
    from crew.run.preflight import preflight
    from crew.spec.resolve import resolve_feature
    from crew.spec.yamlio import read_text

    _prewarm()
    text = read_text(feature)  # read once: the run's frozen copy is exactly what was checked
    resolved = resolve_feature(feature, models_override=opts.models, kinds=_kinds(), text=text)
    return NewRun(resolved, preflight(resolved, opts), text)


def start_run(feature: Path, opts: RunOptions, run_id: str | None = None,
              checked: NewRun | None = None) -> RunOutcome:
    """`crew run FEATURE`: the checks (unless done: `checked`), a new run id, its checkpoint,
    then the run."""
    new = checked or check_new_run(feature, opts)
    # MCP servers up (or exit 2) before anything exists
    with _tools(new.resolved, opts) as (opts, tools):
        return _new_run(new, feature, opts, run_id, tools)


def _new_run(new: NewRun, feature: Path, opts: RunOptions, run_id: str | None,
             tools: ToolRegistry) -> RunOutcome:
    from crew.run.index import record_run

    resolved, checked, text = new
    root = checked.root
    run_id = run_id or new_run_id()
    d = run_dir(root, run_id)
    crew = resolved.crew.spec
    settings, sandbox = checked.settings, checked.sandbox
    register_model_secrets(resolved.models)
    before = hostcheck.snapshot(root)
    state = RunState(
        run_id=run_id, feature_path=str(feature.resolve()),
        feature_title=resolved.feature.spec.title, repo=str(root),
        models_path=str(opts.models.resolve()) if opts.models else None,
        sandbox=settings.backend, sandbox_settings=settings.model_dump(),
        max_parallel=opts.max_parallel or crew.defaults.max_parallel, trace=opts.trace,
        budget_usd=opts.budget_usd, budget_tokens=opts.budget_tokens,
        budget_minutes=opts.budget_minutes)
    d.mkdir(parents=True, exist_ok=True)
    with run_lock(d):
        (d / FEATURE_COPY).write_text(text, encoding="utf-8")  # `crew resume` runs this copy
        save_state(d, state)
        unindexed = record_run(run_id, root, d, state.feature_title)
        if unindexed:
            opts.say(f"warning: the run could not be added to crew's index of runs "
                     f"({unindexed}); pass `--repo {root}` to `crew resume` and `crew show`")
        return _drive(resolved, state, d, opts, sandbox, before, fresh=True, llm=checked.llm,
                      tools=tools)


def resume_run(run_id: str, opts: RunOptions) -> RunOutcome:
    """`crew resume RUN_ID`: continue from the checkpoint."""
    from crew.spec.resolve import resolve_feature

    d = find_run_dir(run_id, opts.repo)
    with run_lock(d):
        state = load_state(d)
        if state.status == RunStatus.PASSED:  # nothing left: no gate, call or report again
            opts.say(f"run {state.run_id} already passed; nothing to resume (its work is on "
                     f"{state.branch})")
            report = d / REPORT_FILE
            return RunOutcome(state.run_id, 0, state, d,
                              report.read_text(encoding="utf-8") if report.is_file() else "")
        _prewarm()  # litellm loads while the feature resolves and the sandbox is checked
        feature, text = _frozen_feature(state, d)
        models = opts.models or (Path(state.models_path) if state.models_path else None)
        resolved = resolve_feature(feature, models_override=models, kinds=_kinds(), text=text)
        _check_saved_plan(resolved, d)
        if opts.budget_usd is not None:
            state.budget_usd = opts.budget_usd
        if opts.budget_tokens is not None:
            state.budget_tokens = opts.budget_tokens
        if opts.budget_minutes is not None:
            state.budget_minutes = opts.budget_minutes
        _scoped_overrides(state, resolved, opts)
        if opts.max_parallel:
            state.max_parallel = opts.max_parallel
        settings = sandbox_settings(resolved, opts, state.sandbox_settings or
                                    {"backend": state.sandbox})
        sandbox = select_backend(settings, opts, resolved, Path(state.repo))
        register_model_secrets(resolved.models)
        state.sandbox, state.sandbox_settings = settings.backend, settings.model_dump()
        state.trace = state.trace and opts.trace
        before = hostcheck.snapshot(Path(state.repo))
        llm = _resumed_llm(resolved, state, d, opts)  # its problems before the worktree is reopened
        from crew.run.preflight import servers_up

        servers_up(resolved)  # a model server still down: exit 6, the run untouched
        with _tools(resolved, opts) as (opts, tools):
            return _drive(resolved, state, d, opts, sandbox, before, fresh=False, llm=llm,
                          tools=tools)


def _frozen_feature(state: RunState, d: Path) -> tuple[Path, str | None]:
    """The feature a resume runs: the copy frozen in the run dir at start (edits to the
    original since then are ignored), read as if it stood at the original's path so its
    relative `repo:`, `models:` and library folders mean what they meant. A run from before
    the copy existed falls back to the original file."""
    from crew.spec.yamlio import read_text

    feature, copy = Path(state.feature_path), d / FEATURE_COPY
    if copy.is_file():
        return feature, read_text(copy)
    if not feature.exists():
        raise UserError(f"the feature file of run {state.run_id!r} is gone", file=str(feature),
                        hint="restore it: the run has no frozen copy to fall back on")
    return feature, None


@contextlib.contextmanager
def _tools(resolved: ResolvedFeature, opts: RunOptions
           ) -> Iterator[tuple[RunOptions, ToolRegistry]]:
    """The run's tool registry (MCP servers, approvals, hooks) for the block, handed to the
    session's RunContext; its hook notifications added to the trace sinks."""
    from crew.run.tooling import run_tools

    with run_tools(resolved, opts.tool_approver, opts.say) as tools:
        yield replace(opts, sinks=[*opts.sinks, *tools.sinks]), tools.registry


def _check_saved_plan(resolved: ResolvedFeature, d: Path) -> None:
    """A plan.json edited before `crew resume`: its tasks' params and engines must fit their
    patterns' kinds, or nothing runs."""
    from crew.run.plan import pattern_problems
    from crew.run.state import PLAN_FILE

    problems = pattern_problems(resolved, load_plan(d) or [])
    if problems:
        raise UserError("invalid plan", problems=[
            Problem(p, file=str(d / PLAN_FILE), field="tasks") for p in problems])


def _drive(resolved: ResolvedFeature, state: RunState, d: Path, opts: RunOptions,
           sandbox: Any, before: hostcheck.Snapshot, *, fresh: bool, llm: Any,
           tools: ToolRegistry | None = None) -> RunOutcome:
    from crew.run.testcmd import choose_test_command
    from crew.tools.protect import commit_guard
    from crew.workspace.worktrees import Workspace

    spec = resolved.feature.spec
    state.limits = _limits_of(llm)  # the run's budget, as the LLM enforces it
    if state.trace:
        from crew.observability.tracer import prewarm_langfuse

        prewarm_langfuse()  # overlaps the SDK's import with the workspace and LLM setup
    if fresh:
        ws = Workspace.create(state.repo, state.run_id, spec.title, spec.base)
        opts.say(f"run {state.run_id}: branch {ws.branch} from {(ws.base or '')[:10]} "
                 "(committed files only; uncommitted edits in your tree are not used)")
    else:
        ws = Workspace.open(state.repo, state.run_id, spec.title)
        _recover_integration(ws.path)
        opts.say(f"resuming run {state.run_id} on {ws.branch}")
    state.branch, state.base = ws.branch, ws.base
    if fresh:  # on disk at once: a kill while planning leaves a run `crew resume` continues
        save_state(d, state)
    masks = tuple(getattr(sandbox, "protected", ()))
    ws.protected = commit_guard(masks, resolved.tools.hooks)
    ws.masked = commit_guard(masks)
    state.sandbox_used = sandbox.name
    state.sandbox_limits = describe_limits(sandbox)
    test_command = choose_test_command(resolved, ws.root).command
    files = RunFiles(d)
    try:
        with _tracer(resolved, state, d, opts) as tracer:
            from crew.run.runner import RunSession

            session = RunSession(
                resolved=resolved, state=state, run_dir=d, workspace=ws, llm=llm,
                sandbox=sandbox, tracer=tracer, plan=None if fresh else load_plan(d),
                plan_only=opts.plan_only, approve=opts.approve, turns=files.turns,
                writer=files.writer, test_command=test_command, tools=tools)
            # ledger.jsonl gets one line per call; state.json is written off the loop
            llm.ledger.listeners.append(lambda e: files.on_call(e, session.checkpoint))
            try:
                _run_async(session)
                _tidy(session, ws, opts)
                _check_host(session, before, ws, opts)
            finally:  # the one report, after the end work (also after an error in it)
                code, report = session.finish()
    finally:
        files.close()  # whatever was asked for is on disk, also after an error
    return RunOutcome(state.run_id, code, state, d, report)


def _tidy(session: RunSession, ws: Any, opts: RunOptions) -> None:
    """A finished run removes its worktrees and merged task branches (the integration branch
    stays); a resumable one keeps everything `crew resume` needs."""
    from crew.run.state import FINISHED_RUN
    from crew.workspace.cleanup import finish_run

    if session.state.status not in FINISHED_RUN:
        return
    try:
        lines = finish_run(ws.root, session.state.run_id, ws.branch)
    except Exception as e:  # tidying never fails a run; `crew clean` can finish the job
        lines = [f"cleanup stopped: {e}; `crew clean {session.state.run_id}` finishes it"]
    session.state.cleanup = lines
    if lines:
        opts.say("cleanup: " + "; ".join(lines))


def _check_host(session: RunSession, before: hostcheck.Snapshot, ws: Any,
                opts: RunOptions) -> None:
    """Compare the user's refs, hooks and config with the snapshot from before the run;
    every change crew did not make goes to the state, the report and the terminal."""
    try:
        after = hostcheck.snapshot(ws.root)
    except Exception as e:  # a broken repository is reported, never a crash at the end
        found = [f"the repository could not be checked after the run: {e}"]
    else:
        found = hostcheck.changes(before, after, ws.branch, ws.run_dir)
    session.state.host_changes = found
    for line in found:
        opts.say(f"WARNING: changed in your repository, not by crew: {line}")


def _recover_integration(path: Path) -> None:
    """A crash mid-merge leaves the integration worktree (crew's own, never the user's) half
    merged: abort the merge and reset it to its branch; the task branches hold the work."""
    from crew.workspace.git import dirty, merge_in_progress, run_git

    if merge_in_progress(path):
        run_git(path, "merge", "--abort", check=False)
    if dirty(path).strip():
        run_git(path, "reset", "--hard", "--quiet")


def select_backend(settings: SandboxSpec, opts: RunOptions,
                   resolved: ResolvedFeature | None = None, repo: Path | None = None) -> Any:
    """The backend with its limits and the project's environment (UserError when unavailable;
    `auto` never means local), wrapped to run the `setup:` commands once per worktree."""
    from crew.run.sandboxing import sandbox_environment, sandbox_image, setup_commands
    from crew.tools.sandbox import SandboxLimits, select_sandbox
    from crew.tools.sandbox.masks import protected_patterns

    limits = SandboxLimits(memory_mb=settings.memory_mb, cpus=settings.cpus,
                           pids=settings.pids, timeout_s=float(settings.timeout_s),
                           network=settings.network)
    environment = sandbox_environment(settings, repo)
    image = sandbox_image(settings, repo)
    protected = protected_patterns(settings.protected)
    sandbox = select_sandbox(settings.backend, limits=limits, image=image, protected=protected,
                             environment=environment)
    if not sandbox.isolated:
        opts.say("sandbox: local (asked for) — the filesystem is NOT isolated: commands run "
                 "directly on this machine" + ("" if getattr(sandbox, "namespaces", False)
                                               else ", with network"))
    else:
        opts.say(f"sandbox: {sandbox.name} ({describe_limits(sandbox)})")
    opts.say(f"sandbox environment: {environment.describe()}")
    setup = setup_commands(resolved) if resolved is not None else []
    if not setup:
        return sandbox
    from crew.tools.sandbox.setup import SetupOnce

    quiet = replace(environment, shares=())  # setup makes the worktree's own .venv etc.
    prep = select_sandbox(sandbox.name, limits=replace(limits, network=settings.setup_network),
                          image=image, protected=protected, environment=quiet)
    return SetupOnce(sandbox, setup, prep)


def _resumed_llm(resolved: ResolvedFeature, state: RunState, d: Path,
                 opts: RunOptions) -> Any:
    """A resumed run's LLM, built as a new run's is (`preflight.run_llm`), from the
    checkpoint: its limits, scoped overrides, budget spent so far and ledger.jsonl."""
    from crew.run.preflight import run_llm

    problems: list[Problem] = []
    llm = run_llm(resolved, problems, usd=state.budget_usd, tokens=state.budget_tokens,
                  minutes=state.budget_minutes, shared=opts.shared_budget,
                  scoped=state.budget_overrides, spent=state.budget, ledger=load_ledger(d))
    if problems:
        raise UserError("invalid", problems=problems)
    return llm


def _scoped_overrides(state: RunState, resolved: ResolvedFeature, opts: RunOptions) -> None:
    """Apply `--task-budget`/`--role-budget` to the checkpoint (a bad one: UserError, exit 2,
    before anything changed)."""
    from crew.run.budgets import SCOPE_FLAGS, parse_scope_budget

    for flag, value in opts.scoped_budgets:
        known = state.tasks if flag == SCOPE_FLAGS["task"] else resolved.roles
        scope, kinds = parse_scope_budget(flag, value, known)
        state.budget_overrides.setdefault(scope, {}).update(kinds)


def _limits_of(llm: Any) -> dict[str, Any]:
    limits = llm.budget.run
    return {"usd": limits.usd, "tokens": limits.tokens, "minutes": limits.minutes}


@contextlib.contextmanager
def _tracer(resolved: ResolvedFeature, state: RunState, d: Path,
            opts: RunOptions) -> Iterator[Any]:
    from crew.observability.tracer import Tracer

    sinks = [*opts.sinks, *([opts.view] if opts.view is not None else [])]
    tracer = Tracer.create(state.run_id, state.feature_title, d, enabled=state.trace,
                           tags=[resolved.crew.spec.name or "crew", *opts.trace_tags],
                           metadata={"branch": state.branch, **opts.trace_metadata},
                           session_id=opts.trace_session, extra_sinks=sinks)
    state.trace_url = tracer.trace_url or state.trace_url  # fixed at creation: in the report
    try:
        yield tracer
    finally:
        tracer.close(deadline_s=2.0)


def _run_async(session: RunSession) -> None:
    """Run the session; SIGINT/SIGTERM cancel it, and it checkpoints (status interrupted)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, task.cancel)
        try:
            await session.execute()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    asyncio.run(main())
