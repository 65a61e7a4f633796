"""Start or resume a run: resolve the feature, take the run's lock, open the workspace, build
the LLM (ledger + budget restored from the checkpoint), the sandbox and the tracer, then drive
a `RunSession` under asyncio with Ctrl-C / SIGTERM turned into a clean, resumable stop."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.errors import UserError
from crew.run.state import (
    RunState,
    find_run_dir,
    load_plan,
    load_state,
    run_dir,
    run_lock,
    save_state,
)

if TYPE_CHECKING:
    from crew.observability.sinks import TraceSink
    from crew.run.runner import RunSession, RunView
    from crew.spec.resolve import ResolvedFeature

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
    sandbox: str | None = None
    trace: bool = True
    view: RunView | None = None
    sinks: Sequence[TraceSink] = field(default_factory=tuple)
    say: Callable[[str], None] = lambda _text: None  # one-line notices for the user


@dataclass
class RunOutcome:
    run_id: str
    exit_code: int
    state: RunState
    run_dir: Path
    report: str = ""


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def start_run(feature: Path, opts: RunOptions, run_id: str | None = None) -> RunOutcome:
    """`crew run FEATURE`: a new run id, its checkpoint, then the run."""
    from crew.spec.resolve import resolve_feature
    from crew.workspace.git import repo_root

    resolved = resolve_feature(feature, models_override=opts.models)
    root = repo_root(opts.repo or resolved.repo)
    run_id = run_id or new_run_id()
    d = run_dir(root, run_id)
    crew = resolved.crew.spec
    state = RunState(
        run_id=run_id, feature_path=str(feature.resolve()),
        feature_title=resolved.feature.spec.title, repo=str(root),
        models_path=str(opts.models.resolve()) if opts.models else None,
        sandbox=opts.sandbox or crew.defaults.sandbox,
        max_parallel=opts.max_parallel or crew.defaults.max_parallel, trace=opts.trace,
        budget_usd=opts.budget_usd)
    d.mkdir(parents=True, exist_ok=True)
    with run_lock(d):
        shutil.copyfile(feature, d / FEATURE_COPY)
        save_state(d, state)
        return _drive(resolved, state, d, opts, fresh=True)


def resume_run(run_id: str, opts: RunOptions) -> RunOutcome:
    """`crew resume RUN_ID`: continue from the checkpoint."""
    from crew.spec.resolve import resolve_feature

    d = find_run_dir(run_id, opts.repo)
    with run_lock(d):
        state = load_state(d)
        feature = Path(state.feature_path)
        if not feature.exists():
            raise UserError(f"the feature file of run {run_id!r} is gone", file=str(feature),
                            hint=f"restore it (a copy is at {d / FEATURE_COPY})")
        models = opts.models or (Path(state.models_path) if state.models_path else None)
        resolved = resolve_feature(feature, models_override=models)
        if opts.budget_usd is not None:
            state.budget_usd = opts.budget_usd
        if opts.max_parallel:
            state.max_parallel = opts.max_parallel
        if opts.sandbox:
            state.sandbox = opts.sandbox
        state.trace = state.trace and opts.trace
        return _drive(resolved, state, d, opts, fresh=False)


def _drive(resolved: ResolvedFeature, state: RunState, d: Path, opts: RunOptions, *,
           fresh: bool) -> RunOutcome:
    from crew.workspace.worktrees import Workspace

    spec = resolved.feature.spec
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
    sandbox = _sandbox(state, opts)
    llm = _llm(resolved, state)
    with _tracer(resolved, state, d, opts) as tracer:
        from crew.observability.tracer import use_tracer
        from crew.run.runner import RunSession, _NoView

        session = RunSession(resolved=resolved, state=state, run_dir=d, workspace=ws, llm=llm,
                             sandbox=sandbox, tracer=tracer, view=opts.view or _NoView(),
                             plan=None if fresh else load_plan(d), plan_only=opts.plan_only,
                             approve=opts.approve)
        llm.ledger.listeners.append(lambda _e: session.checkpoint())
        with use_tracer(tracer):
            code = _run_async(session)
    report = ""
    with contextlib.suppress(OSError):
        report = (d / "report.md").read_text(encoding="utf-8")
    return RunOutcome(state.run_id, code, state, d, report)


def _recover_integration(path: Path) -> None:
    """A crash mid-merge leaves the integration worktree (crew's own, never the user's) half
    merged: abort the merge and reset it to its branch; the task branches hold the work."""
    from crew.workspace.git import dirty, merge_in_progress, run_git

    if merge_in_progress(path):
        run_git(path, "merge", "--abort", check=False)
    if dirty(path).strip():
        run_git(path, "reset", "--hard", "--quiet")


def _sandbox(state: RunState, opts: RunOptions) -> Any:
    from crew.tools.sandbox import select_sandbox

    sandbox = select_sandbox(state.sandbox)
    state.sandbox_used = sandbox.name
    if not sandbox.isolated:
        opts.say("sandbox: local — NO isolation (neither Docker nor bubblewrap is available, "
                 "or --sandbox local was asked for): commands run directly on this machine")
    else:
        opts.say(f"sandbox: {sandbox.name}")
    return sandbox


def _llm(resolved: ResolvedFeature, state: RunState) -> Any:
    from crew.llm import LLM, Budget, Ledger, Limits

    limits = Limits.of(resolved.feature.spec.budget)
    if state.budget_usd is not None:
        limits = Limits(state.budget_usd, limits.tokens, limits.minutes)
    budget = Budget(limits)
    if state.budget:
        budget.restore(state.budget)
    ledger = Ledger.from_dict(state.ledger) if state.ledger else Ledger()
    return LLM(resolved.models, base_dir=resolved.models_dir, ledger=ledger, budget=budget,
               source=str(resolved.models_dir))


@contextlib.contextmanager
def _tracer(resolved: ResolvedFeature, state: RunState, d: Path,
            opts: RunOptions) -> Iterator[Any]:
    from crew.observability.tracer import Tracer

    sinks = [*opts.sinks]
    if opts.view is not None and hasattr(opts.view, "on_event"):
        sinks.append(opts.view)  # type: ignore[arg-type]
    tracer = Tracer.create(state.run_id, state.feature_title, d, enabled=state.trace,
                           tags=[resolved.crew.spec.name or "crew"],
                           metadata={"branch": state.branch}, extra_sinks=sinks)
    state.trace_url = tracer.trace_url or state.trace_url  # fixed at creation: in the report
    try:
        yield tracer
    finally:
        tracer.close(deadline_s=2.0)


def _run_async(session: RunSession) -> int:
    """Run the session; SIGINT/SIGTERM cancel it, and it checkpoints and exits 4."""

    async def main() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await session.execute()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    return asyncio.run(main())
