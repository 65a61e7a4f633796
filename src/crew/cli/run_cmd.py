"""`crew run`, `crew plan`, `crew resume`, `crew runs`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from crew.errors import UserError

if TYPE_CHECKING:
    from crew.run.launch import RunOptions, RunOutcome
    from crew.run.state import PlannedTask

REPO_OPT = typer.Option("--repo", help="The git repository to work on (default: the "
                                         "feature's `repo:`).")
# one wording wherever --repo finds an existing run (resume, runs, show, clean)
RUN_REPO_HELP = ("The repository the run worked on (default: the repository holding the "
                 "current directory, then crew's index of runs).")
RUN_REPO_OPT = typer.Option("--repo", help=RUN_REPO_HELP)
MODELS_OPT = typer.Option("--models", help="A LiteLLM router config overriding the crew's.")
BUDGET_OPT = typer.Option("--budget-usd", help="Spending limit in USD for the run.")
TOKENS_OPT = typer.Option("--budget-tokens", help="Token limit (prompt + completion) for the "
                                                  "run.")
MINUTES_OPT = typer.Option("--budget-minutes", help="Wall-time limit in minutes for the run.")
PARALLEL_OPT = typer.Option("--max-parallel", help="Tasks run at once (default: the crew's "
                                                   "max_parallel).")
NO_TRACE_OPT = typer.Option("--no-trace", help="Do not send the run to Langfuse.")
SANDBOX_OPT = typer.Option("--sandbox", help="auto, docker, bwrap or local.")
JSON_OPT = typer.Option("--json", help="Print machine-readable events (JSON lines) instead.")
MEMORY_OPT = typer.Option("--memory-mb", help="Sandbox memory limit per command (MiB).")
CPUS_OPT = typer.Option("--cpus", help="Sandbox CPU limit per command.")
PIDS_OPT = typer.Option("--pids", help="Sandbox process/thread limit per command.")
TIMEOUT_OPT = typer.Option("--timeout-s", help="Longest a sandboxed command may run (s).")
NETWORK_OPT = typer.Option("--network/--no-network",
                           help="Let sandboxed commands reach the network (default: off).")
YES_OPT = typer.Option("--yes", help="Approve every tool call whose approval is 'ask'.")
APPROVE_TOOLS_OPT = typer.Option(
    "--approve-tools", metavar="PATTERN",
    help="Approve 'ask' calls of tools matching this name or glob (repeatable).")


def _positive(flag: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UserError(f"{flag} must be a number more than 0, got {value}", field=flag)


def _options(*, repo: Path | None, models: Path | None, budget_usd: float | None,
             sandbox: str | None, max_parallel: int | None, no_trace: bool, json_mode: bool,
             plan_only: bool = False, approve: bool = False,
             limits: dict[str, Any] | None = None, yes: bool = False,
             approve_tools: list[str] | None = None, budget_tokens: int | None = None,
             budget_minutes: float | None = None) -> tuple[RunOptions, Any]:
    from rich.console import Console

    from crew.cli.live import make_view
    from crew.run.launch import RunOptions

    _positive("--budget-usd", budget_usd)
    _positive("--budget-tokens", budget_tokens)
    _positive("--budget-minutes", budget_minutes)
    for flag, value in (limits or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            name = "--" + flag.replace("_", "-")
            raise UserError(f"{name} must be a finite number, got {value}", field=name)
    if max_parallel is not None and not 1 <= max_parallel <= 64:
        raise UserError("--max-parallel must be between 1 and 64", field="--max-parallel")
    console = Console(stderr=json_mode)
    view = make_view(console, json_mode)
    opts = RunOptions(repo=repo, models=models, plan_only=plan_only, max_parallel=max_parallel,
                      budget_usd=budget_usd, budget_tokens=budget_tokens,
                      budget_minutes=budget_minutes, sandbox=sandbox, trace=not no_trace,
                      view=view,
                      sandbox_flags={k: v for k, v in (limits or {}).items() if v is not None},
                      say=view.message, approve=_approver(view) if approve else None)
    opts.tool_approver = _tool_approver(view, yes, approve_tools or [])
    return opts, view


def _tool_approver(view: Any, yes: bool, patterns: list[str]) -> Any:
    """Answers `approvals: ask`: the flags first, then a prompt (the live view paused)."""
    from crew.tools.approvals import FlagApprover

    return FlagApprover(yes=yes, patterns=patterns, pause=view.pause, resume=view.resume)


def _finish(outcome: RunOutcome, view: Any, json_mode: bool) -> None:
    """The result (JSON line, or the report and summary) and the exit code of DESIGN §7
    (5: the plan was rejected)."""
    from crew.run.report import render_summary

    if json_mode:
        sys.stdout.write(json.dumps({
            "type": "crew.result", "run_id": outcome.run_id, "status": outcome.state.status,
            "exit_code": outcome.exit_code, "branch": outcome.state.branch,
            "report": str(outcome.run_dir / "report.md")}) + "\n")
    else:
        from crew.run.journal import load_ledger

        ledger = load_ledger(outcome.run_dir)
        if outcome.report and outcome.state.status != "planning":
            typer.echo(outcome.report)
        for line in render_summary(outcome.state, ledger):
            typer.echo(line)
    raise typer.Exit(outcome.exit_code)


def run(
    feature: Annotated[Path, typer.Argument(help="The feature.yaml to build.")],
    repo: Annotated[Path | None, REPO_OPT] = None,
    models: Annotated[Path | None, MODELS_OPT] = None,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Plan, print, stop.")] = False,
    approve_plan: Annotated[bool, typer.Option("--approve-plan",
                                               help="Show the plan and ask before running.")]
    = False,
    max_parallel: Annotated[int | None, PARALLEL_OPT] = None,
    budget_usd: Annotated[float | None, BUDGET_OPT] = None,
    budget_tokens: Annotated[int | None, TOKENS_OPT] = None,
    budget_minutes: Annotated[float | None, MINUTES_OPT] = None,
    sandbox: Annotated[str | None, SANDBOX_OPT] = None,
    memory_mb: Annotated[int | None, MEMORY_OPT] = None,
    cpus: Annotated[float | None, CPUS_OPT] = None,
    pids: Annotated[int | None, PIDS_OPT] = None,
    timeout_s: Annotated[int | None, TIMEOUT_OPT] = None,
    network: Annotated[bool | None, NETWORK_OPT] = None,
    no_trace: Annotated[bool, NO_TRACE_OPT] = False,
    json_mode: Annotated[bool, JSON_OPT] = False,
    yes: Annotated[bool, YES_OPT] = False,
    approve_tools: Annotated[list[str] | None, APPROVE_TOOLS_OPT] = None,
) -> None:
    """Build a feature: plan, run the tasks, run the gates, leave a branch and a report."""
    if approve_plan and not _answerable(sys.stdin):
        raise UserError("--approve-plan asks before the plan runs, and there is no terminal "
                        "(or piped input) to answer on; nothing was started",
                        field="--approve-plan",
                        hint="run it in a terminal or pipe the answer (`echo y | crew run ...`),"
                        " or save the plan with `crew plan FEATURE` and run it with `crew "
                        "resume RUN_ID`")
    from crew.run.launch import check_new_run, start_run

    opts, view = _options(repo=repo, models=models, budget_usd=budget_usd, sandbox=sandbox,
                          max_parallel=max_parallel, no_trace=no_trace, json_mode=json_mode,
                          plan_only=plan_only, approve=approve_plan,
                          limits={"memory_mb": memory_mb, "cpus": cpus, "pids": pids,
                                  "timeout_s": timeout_s, "network": network},
                          yes=yes, approve_tools=approve_tools, budget_tokens=budget_tokens,
                          budget_minutes=budget_minutes)
    checked = check_new_run(feature, opts)  # before the view: nothing exists if this fails
    with _view(view):
        outcome = start_run(feature, opts, checked=checked)
        unanswered = isinstance(opts.approve, _PlanApprover) and opts.approve.input_ended
        if not unanswered:
            _final_frame(view, outcome)
    if unanswered:  # no decision was made: bad input, like a closed stdin; nothing is kept
        _discard_run(outcome)
        raise UserError("the input ended before the plan was answered; "
                        "nothing ran and the run (branch, worktree, run directory) was removed",
                        field="--approve-plan",
                        hint="answer y, n or e: run it in a terminal or pipe the answer "
                        "(`echo y | crew run ...`)")
    from crew.run.state import PLAN_FILE, RunStatus

    if plan_only and outcome.state.status == RunStatus.PLANNING and (
            outcome.run_dir / PLAN_FILE).is_file():  # never after a failed planning
        view.message(f"plan saved; run it with `crew resume {outcome.run_id}` (from any "
                     "directory)")
    _finish(outcome, view, json_mode)


def _discard_run(outcome: RunOutcome) -> None:
    """Remove a run that never started its work: worktrees, its branch (no commit beyond the
    base), run directory and index line, as `crew clean` would."""
    from crew.run.index import forget_runs
    from crew.workspace.cleanup import apply_clean, plan_clean

    state = outcome.state
    apply_clean(plan_clean(Path(state.repo), state.run_id, outcome.run_dir, state.branch or "",
                           state.base))
    forget_runs({outcome.run_dir})


def _answerable(stdin: Any) -> bool:
    """Whether a question can be answered on `stdin`: a terminal, a pipe or a file (scripted
    answers); not a closed stdin or /dev/null (cron, CI, `< /dev/null`)."""
    import stat

    try:
        if stdin is None or stdin.closed:
            return False
        if stdin.isatty():
            return True
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def plan(
    feature: Annotated[Path, typer.Argument(help="The feature.yaml to plan.")],
    repo: Annotated[Path | None, REPO_OPT] = None,
    models: Annotated[Path | None, MODELS_OPT] = None,
    json_mode: Annotated[bool, JSON_OPT] = False,
    sandbox: Annotated[str | None, SANDBOX_OPT] = None,
) -> None:
    """Plan a feature and stop (= crew run --plan-only)."""
    run(feature, repo=repo, models=models, plan_only=True, json_mode=json_mode,
        sandbox=sandbox)


def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue (a unique prefix will "
                                                "do).")],
    repo: Annotated[Path | None, RUN_REPO_OPT] = None,
    budget_usd: Annotated[float | None, typer.Option(
        "--budget-usd", help="A new USD limit for the run (after a USD budget stop).")] = None,
    budget_tokens: Annotated[int | None, typer.Option(
        "--budget-tokens", help="A new token limit for the run (after a token budget stop)."
    )] = None,
    budget_minutes: Annotated[float | None, typer.Option(
        "--budget-minutes", help="A new wall-time limit in minutes, counting the time already "
                                 "used (after a minutes budget stop).")] = None,
    task_budget: Annotated[list[str] | None, typer.Option(
        "--task-budget", metavar="ID:KIND=VALUE",
        help="A new limit for one task, e.g. export-csv:usd=0.5 (KIND: usd, tokens, minutes; "
             "repeatable; after a task budget stop).")] = None,
    role_budget: Annotated[list[str] | None, typer.Option(
        "--role-budget", metavar="NAME:KIND=VALUE",
        help="A new limit for one role over the run, e.g. coder:tokens=400000 (KIND: usd, "
             "tokens; repeatable; after a role budget stop).")] = None,
    max_parallel: Annotated[int | None, PARALLEL_OPT] = None,
    sandbox: Annotated[str | None, SANDBOX_OPT] = None,
    memory_mb: Annotated[int | None, MEMORY_OPT] = None,
    cpus: Annotated[float | None, CPUS_OPT] = None,
    pids: Annotated[int | None, PIDS_OPT] = None,
    timeout_s: Annotated[int | None, TIMEOUT_OPT] = None,
    network: Annotated[bool | None, NETWORK_OPT] = None,
    no_trace: Annotated[bool, NO_TRACE_OPT] = False,
    json_mode: Annotated[bool, JSON_OPT] = False,
    yes: Annotated[bool, YES_OPT] = False,
    approve_tools: Annotated[list[str] | None, APPROVE_TOOLS_OPT] = None,
) -> None:
    """Continue a run after a crash, Ctrl-C or an exhausted budget."""
    from crew.run.launch import resume_run
    from crew.run.state import find_run_dir

    opts, view = _options(repo=repo, models=None, budget_usd=budget_usd, sandbox=sandbox,
                          max_parallel=max_parallel, no_trace=no_trace, json_mode=json_mode,
                          limits={"memory_mb": memory_mb, "cpus": cpus, "pids": pids,
                                  "timeout_s": timeout_s, "network": network},
                          yes=yes, approve_tools=approve_tools, budget_tokens=budget_tokens,
                          budget_minutes=budget_minutes)
    opts.scoped_budgets = [*(("--task-budget", v) for v in task_budget or []),
                           *(("--role-budget", v) for v in role_budget or [])]
    find_run_dir(run_id, repo)  # an unknown id: its error alone, before any progress line
    with _view(view):
        outcome = resume_run(run_id, opts)
        _final_frame(view, outcome)
    _finish(outcome, view, json_mode)


def _final_frame(view: Any, outcome: RunOutcome) -> None:
    """The view's last frame shows the run's own counts and wall time (= the summary's)."""
    view.finish(outcome.state.wall_s, {k: v.status for k, v in outcome.state.tasks.items()},
                outcome.state.spent)


def runs(
    repo: Annotated[Path | None, typer.Option(
        "--repo", help="The repository whose runs to list (default: the repository holding "
                       "the current directory; outside one, every run in crew's index).")]
    = None,
    json_mode: Annotated[bool, JSON_OPT] = False,
) -> None:
    """List runs: id, status (also plan-only, failed to start, interrupted), cost, time."""
    from crew.run.report import format_duration
    from crew.run.state import RESUMABLE_LABELS, run_label

    rows: list[dict[str, Any]] = []
    for d, s in _run_dirs(repo):
        cost = 0.0
        if s is not None:
            cost = float(s.spent.get("cost_usd", 0.0))
        when = s.created_at if s is not None else d.stat().st_mtime
        label = run_label(d, s)
        rows.append({"run_id": d.name, "feature": s.feature_title if s else "",
                     "status": label, "checkpoint": s.status if s else None,
                     "resumable": label in RESUMABLE_LABELS,
                     "cost_usd": round(cost, 6), "duration_s": round(s.wall_s if s else 0, 1),
                     "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(when)),
                     "repo": s.repo if s else str(d.parents[2])})
    if json_mode:
        for r in rows:
            typer.echo(json.dumps(r))
        return
    if not rows:
        typer.echo("no runs yet (start one with `crew run feature.yaml`)")
        return
    repos = _repo_column(rows, repo)
    typer.echo(f"{'RUN':<22} {'STATUS':<16} {'COST':>9} {'TIME':>8}  "
               + (f"{'REPO':<{repos}}  " if repos else "") + "FEATURE")
    for r in rows:
        where = f"{_short_path(r['repo']):<{repos}}  " if repos else ""
        typer.echo(f"{r['run_id']:<22} {r['status']:<16} ${r['cost_usd']:>8.4f} "
                   f"{format_duration(float(r['duration_s'])):>8}  {where}{r['feature']}")


def _repo_column(rows: list[dict[str, Any]], repo: Path | None) -> int:
    """The REPO column's width: listed outside a repository (crew's index: runs of many
    repositories), else 0 (no column)."""
    from crew.workspace.git import enclosing_repo

    if repo is not None or enclosing_repo(Path.cwd()) is not None:
        return 0
    return min(40, max(4, *(len(_short_path(r["repo"])) for r in rows)))


def _short_path(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home):] if path == home or path.startswith(home + os.sep) else path


def _run_dirs(repo: Path | None) -> list[tuple[Path, Any]]:
    """The runs of `repo`, of the repository around the cwd, or (outside one) every run in
    crew's index, newest first."""
    from crew.run.index import read_index
    from crew.run.state import load_state, scan_runs
    from crew.workspace.git import repo_root

    if repo is not None:
        return scan_runs(repo_root(repo))
    try:
        return scan_runs(repo_root(Path.cwd()))
    except UserError:
        pass
    out: list[tuple[Path, Any]] = []
    for e in read_index():
        try:
            out.append((e.run_dir, load_state(e.run_dir)))
        except (UserError, ValueError):
            out.append((e.run_dir, None))
    return out


class _view:
    def __init__(self, view: Any) -> None:
        self.view = view

    def __enter__(self) -> Any:
        self.view.start()
        return self.view

    def __exit__(self, *exc: object) -> None:
        self.view.stop()


def _approver(view: Any) -> _PlanApprover:
    return _PlanApprover(view)


class _PlanApprover:
    """--approve-plan: show the plan, then yes / no / edit in $EDITOR until it is valid. The
    live view is paused while the question is on the terminal (a live display would draw
    over it, and it holds back a line without a newline). The end of input is no answer:
    the plan is not run and `input_ended` tells `crew run` to remove the run."""

    def __init__(self, view: Any) -> None:
        from rich.console import Console

        self.view = view
        self.console = Console(stderr=isinstance(view, _json_view_type()))
        self.input_ended = False

    def __call__(self, tasks: list[PlannedTask]) -> list[PlannedTask] | None:
        from crew.run.plan import render_plan

        console = self.console
        self.view.pause()
        try:
            while True:
                console.print(render_plan(tasks), markup=False, highlight=False)
                try:
                    answer = typer.prompt("Run this plan? [y]es / [n]o / [e]dit", default="y",
                                          err=console.stderr)
                except (typer.Abort, click.exceptions.Abort, EOFError):  # typer vendors click
                    console.print()  # end the question's line
                    self.input_ended = True
                    return None
                choice = answer.strip().lower()[:1]
                if choice == "y":
                    return tasks
                if choice == "n":
                    return None
                if choice == "e":
                    edited = _edit(tasks, console)
                    if edited is not None:
                        tasks = edited
        finally:
            self.view.resume()


def _json_view_type() -> type:
    from crew.cli.live import JsonView

    return JsonView


def _edit(tasks: list[PlannedTask], console: Any) -> list[PlannedTask] | None:
    import yaml
    from pydantic import ValidationError

    from crew.run.state import PlannedTask
    from crew.spec.resolve import find_cycle

    text = yaml.safe_dump({"tasks": [t.model_dump(exclude_defaults=True) for t in tasks]},
                          sort_keys=False, allow_unicode=True)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        subprocess.run([*editor.split(), path], check=False)
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        edited = [PlannedTask.model_validate(t) for t in raw.get("tasks", [])]
    except (yaml.YAMLError, ValidationError, AttributeError, TypeError) as e:
        console.print(f"the edited plan is invalid: {e}", markup=False)
        return None
    finally:
        os.unlink(path)
    ids = [t.id for t in edited]
    cycle = find_cycle({t.id: [d for d in t.depends_on if d in ids] for t in edited})
    missing = [d for t in edited for d in t.depends_on if d not in ids]
    if cycle or missing or len(set(ids)) != len(ids) or not edited:
        console.print("the edited plan is invalid: "
                      + ("cycle " + " -> ".join(cycle) if cycle else
                         f"unknown dependency {missing[0]}" if missing else
                         "duplicate or no task ids"), markup=False)
        return None
    return edited

