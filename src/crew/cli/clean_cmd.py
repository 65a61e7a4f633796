"""`crew clean [RUN_ID | --all-finished]`: remove what runs left behind — worktrees, task
branches, the run directory and (only when nothing is lost) the run's branch — and say what
was removed. A run in progress is never touched; work that exists nowhere else (uncommitted
changes, unmerged task branches) is only removed after a yes on the terminal or `--yes`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from crew.errors import UserError


def clean_command(
    run_id: Annotated[str | None, typer.Argument(
        help="The run to remove (a unique prefix will do).")] = None,
    all_finished: Annotated[bool, typer.Option(
        "--all-finished", help="Every finished run (passed, failed, plan rejected, failed to "
                               "start) of the repository instead of one run.")] = False,
    repo: Annotated[Path | None, typer.Option(
        "--repo", help="The repository the run worked on (default: the repository holding the "
                       "current directory, then crew's index of runs).")] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Do not ask before removing uncommitted changes, unmerged task branches "
                      "or a resumable run.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be removed; remove nothing.")] = False,
) -> None:
    """Remove a run's worktrees, task branches and run directory (its branch only when merged
    or empty). Never a run in progress."""
    from crew.run.index import forget_runs
    from crew.workspace.cleanup import apply_clean

    if (run_id is None) == (not all_finished):
        raise UserError("name one run or pass --all-finished", field="RUN_ID",
                        hint="see the runs with `crew runs`")
    targets = _targets(run_id, repo) if run_id else _finished(repo)
    if not targets:
        typer.echo("nothing to clean: no finished run")
        return
    plans, risky = [], []
    for d, state, label in targets:
        plan = _plan(d, state)
        plans.append(plan)
        if plan.destructive or label in _RESUMABLE:
            risky.append((plan, label))
    if dry_run or (risky and not yes):
        for plan in plans:
            typer.echo(f"run {plan.run_id}:")
            typer.echo("\n".join(f"  remove {line}" for line in plan.lines()))
            if plan.branch and not plan.delete_branch:
                typer.echo(f"  keep   branch {plan.branch} (not merged into your HEAD)")
    if dry_run:
        return
    if risky and not yes:
        what = ", ".join(f"{p.run_id} ({_why(p, label)})" for p, label in risky)
        if not (sys.stdin.isatty() and typer.confirm(f"This loses work: {what}. Remove?",
                                                     default=False)):
            raise UserError(f"nothing removed: the removal would lose work: {what}",
                            hint="pass --yes to remove it anyway, or --dry-run to review")
    removed = []
    for plan in plans:
        for line in apply_clean(plan):
            typer.echo(f"{plan.run_id}: {line}")
        removed.append(plan.run_dir)
    forget_runs(set(removed))


def _why(plan: Any, label: str) -> str:
    parts = [f"a resumable run ({label})"] if label in _RESUMABLE else []
    if plan.dirty:
        parts.append("uncommitted changes")
    if plan.unmerged_tasks:
        parts.append("unmerged task branches")
    return ", ".join(parts)


_RESUMABLE = ("budget", "interrupted", "plan-only", "error")
_FINISHED = ("passed", "failed", "rejected", "failed to start")


def _targets(run_id: str, repo: Path | None) -> list[tuple[Path, Any, str]]:
    from crew.run.state import find_run_dir, run_label

    d = _find_any(run_id, repo, find_run_dir)
    state = _state(d)
    label = run_label(d, state)
    if label == "running":
        raise UserError(f"run {d.name} is in progress", field="RUN_ID",
                        hint="wait for it to finish or stop it (Ctrl-C), then clean it")
    return [(d, state, label)]


def _find_any(run_id: str, repo: Path | None, find: Any) -> Path:
    """The run's directory, also for a run that failed to start (no state.json)."""
    try:
        return Path(find(run_id, repo))
    except UserError:
        return Path(find(run_id, repo, marker="lock"))


def _finished(repo: Path | None) -> list[tuple[Path, Any, str]]:
    from crew.run.state import run_label, scan_runs
    from crew.workspace.git import enclosing_repo, repo_root

    if repo is None and enclosing_repo(Path.cwd()) is None:
        raise UserError(f"--all-finished cleans one repository's runs, and {Path.cwd()} is not "
                        "inside a git repository", field="--all-finished",
                        hint="run it inside the repository the runs worked on, pass --repo "
                        "PATH, or clean one run by id from anywhere: `crew runs` lists them")
    out = []
    for d, state in scan_runs(repo_root(repo or Path.cwd())):
        label = run_label(d, state)
        if label in _FINISHED:
            out.append((d, state, label))
    return out


def _state(d: Path) -> Any:
    from crew.run.state import load_state

    try:
        return load_state(d)
    except (UserError, ValueError):
        return None


def _plan(d: Path, state: Any) -> Any:
    from crew.workspace.cleanup import plan_clean
    from crew.workspace.git import repo_root

    root = Path(state.repo) if state is not None else repo_root(d.parents[2])
    branch = state.branch if state is not None else ""
    base = state.base if state is not None else None
    return plan_clean(root, d.name, d, branch, base)
