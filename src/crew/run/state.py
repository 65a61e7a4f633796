"""A run's checkpoint: `state.json` and `plan.json` under `<repo>/.crew/runs/<run-id>/`.

state.json holds only small things (statuses, results, commits, budget, gates, totals); the
ledger and the conversations are append-only journals beside it (crew.run.journal). It is
written atomically (temp file, fsync, rename, fsync the directory), so a crash at any instant
leaves the last complete state. A lock file held with `flock` keeps two processes off a run id.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crew.errors import BudgetKind, UserError
from crew.patterns.decisions import Degraded
from crew.patterns.state import Outcome
from crew.textsafe import replace_surrogates, safe_data

STATE_FILE = "state.json"
PLAN_FILE = "plan.json"
REPORT_FILE = "report.md"
LOCK_FILE = "lock"
STATE_VERSION = 2



class TaskStatus(StrEnum):
    """A task's status in state.json (written as its value)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    BUDGET = "budget"
    GUARD = "guard"
    NO_CONSENSUS = "no_consensus"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"
    # stopped by an infrastructure failure (a sandbox that cannot start, a crashed tool, a
    # plugin's UserError); not finished, so `crew resume` runs it again
    ERROR = "error"

    @classmethod
    def of(cls, outcome: Outcome) -> TaskStatus:
        """The status a pattern's outcome gives its task."""
        return cls(outcome.value)


class RunStatus(StrEnum):
    """A run's status in state.json (written as its value)."""

    PLANNING = "planning"
    RUNNING = "running"
    GATES = "gates"
    PASSED = "passed"
    FAILED = "failed"
    BUDGET = "budget"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    REJECTED = "rejected"

    @property
    def exit_code(self) -> int:
        """`crew run`'s exit code for a run that ended with this status (DESIGN.md §7)."""
        return _EXIT.get(self, 1)


_EXIT = {RunStatus.PASSED: 0, RunStatus.FAILED: 1, RunStatus.BUDGET: 3,
         RunStatus.INTERRUPTED: 4, RunStatus.PLANNING: 0, RunStatus.ERROR: 1,
         RunStatus.REJECTED: 5}


FINISHED_RUN: frozenset[RunStatus] = frozenset({RunStatus.PASSED, RunStatus.FAILED,
                                                RunStatus.REJECTED})
FINISHED_TASK: frozenset[TaskStatus] = frozenset({
    TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.GUARD, TaskStatus.NO_CONSENSUS,
    TaskStatus.SKIPPED})
# not finished, and may start (again): new, or stopped by a kill or the budget
RESTARTABLE_TASK: frozenset[TaskStatus] = frozenset({
    TaskStatus.PENDING, TaskStatus.INTERRUPTED, TaskStatus.BUDGET})


class PlannedTask(BaseModel):
    """One task of the plan (pinned by the user or planned by the supervisor)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    description: str = ""
    template: str | None = None
    pattern: str
    roles: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    acceptance: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    engine: str | None = None
    pinned: bool = False
    kind: str = "task"  # "task" | "merge_fix" (a conflict resolution) | "gate_fix"
    conflict_of: str | None = None  # merge_fix: the task whose branch conflicted
    conflict_paths: list[str] = Field(default_factory=list)


class TaskState(BaseModel):
    """Progress of one task: status, result, cost and the pattern's own checkpoint."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus = TaskStatus.PENDING
    outcome: Outcome | None = None
    summary: str = ""
    commit: str | None = None
    files_changed: list[str] = Field(default_factory=list)
    merged: bool = False
    rounds: int = 0
    reviews: list[str] = Field(default_factory=list)  # changes reviewers requested, per round
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    degraded: list[Degraded] = Field(default_factory=list)  # decisions taken by a fallback


class GateResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    command: str
    exit_code: int
    passed: bool
    output: str = ""  # the tail of stdout+stderr
    duration_s: float = 0.0
    attempt: int = 1  # 1 = after the tasks, 2.. = after each fix round


class KnowledgeOutcome(BaseModel):
    """What the end of a run added to the repository's knowledge notes (crew.run.knowledge)."""

    model_config = ConfigDict(extra="forbid")

    file: str  # .crew/knowledge.md or CREW.md
    added: list[str] = Field(default_factory=list)  # "Section: entry"
    refused: int = 0  # entries refused: a secret, chatter, too long
    note: str = ""  # why nothing was added, when nothing was


class RunState(BaseModel):
    """Everything `crew resume` needs, and what `crew runs` and the report read."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    run_id: str
    feature_path: str
    feature_title: str
    repo: str
    branch: str = ""
    base: str | None = None
    models_path: str | None = None
    sandbox: str = "auto"
    sandbox_used: str = ""
    max_parallel: int = 3
    trace: bool = True
    budget_usd: float | None = None  # a --budget-usd override (kept for resume)
    budget_tokens: int | None = None  # a --budget-tokens override
    budget_minutes: float | None = None  # a --budget-minutes override
    limits: dict[str, float | None] = Field(default_factory=dict)  # the run's usd/tokens/minutes
    status: RunStatus = RunStatus.PLANNING
    stop_reason: str | None = None
    budget_kind: BudgetKind | None = None  # the limit that stopped the run (status budget)
    budget_scope: str | None = None  # whose: "run", "task:<id>" or "role:<name>"
    budget_limit: float | None = None  # that limit's value
    budget_needed: float = 0.0  # spent + held + the refused call's worst case
    # `crew resume --task-budget/--role-budget`: {"task:<id>": {"usd": 0.5}}, kept for resumes
    budget_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)
    tasks: dict[str, TaskState] = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)  # task ids in plan order
    gates: list[GateResult] = Field(default_factory=list)
    fix_rounds: int = 0
    spent: dict[str, float] = Field(default_factory=dict)  # the ledger's run totals
    budget: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    wall_s: float = 0.0  # wall time over every session of the run
    sessions: int = 0
    trace_url: str | None = None
    sandbox_settings: dict[str, Any] = Field(default_factory=dict)  # merged `sandbox:`
    sandbox_limits: str = ""  # the limits commands ran under, as the report shows them
    host_changes: list[str] | None = None  # after the run: changes crew did not make
    degraded: list[Degraded] = Field(default_factory=list)  # the run plan's, if degraded
    plan_notes: list[str] = Field(default_factory=list)  # what re-asks and repair changed
    cleanup: list[str] = Field(default_factory=list)  # what the end of the run removed or kept
    knowledge: KnowledgeOutcome | None = None  # what the run added to the repository's notes

    def task(self, task_id: str) -> TaskState:
        return self.tasks.setdefault(task_id, TaskState())


def runs_root(repo: Path) -> Path:
    return repo / ".crew" / "runs"


def run_dir(repo: Path, run_id: str) -> Path:
    return runs_root(repo) / run_id


def find_run_dir(run_id: str, repo: Path | None = None, *, marker: str = STATE_FILE) -> Path:
    """The directory of run `run_id`, or of the one run whose id starts with it, among the
    runs holding `marker`: in `repo` when given, else in the git repository around the cwd
    and in the per-user index of runs (crew.run.index), so a printed `crew resume RUN_ID`
    works from any directory. An unknown or ambiguous id is a UserError listing the runs."""
    from crew.run.index import index_path, read_index

    if repo is not None:
        if runs_root(repo).is_dir():
            roots = [runs_root(repo)]
        else:
            from crew.workspace.git import repo_root

            roots = [runs_root(repo_root(repo))]
        where = str(roots[0])
    else:
        roots = []
        with contextlib.suppress(UserError):  # outside a repository: the index alone
            from crew.workspace.git import repo_root

            roots.append(runs_root(repo_root(Path.cwd())))
        where = (f"{roots[0]} or " if roots else "") + f"crew's index of runs ({index_path()})"
    found: dict[Path, float] = {}
    for root in roots:
        for d in root.iterdir() if root.is_dir() else []:
            if (d / marker).is_file():
                found[d] = (d / marker).stat().st_mtime
    if repo is None:
        for e in read_index():
            if (e.run_dir / marker).is_file():
                found.setdefault(e.run_dir, e.created_at)
    dirs = sorted(found, key=lambda d: found[d], reverse=True)
    exact = [d for d in dirs if d.name == run_id]
    if exact:
        return exact[0]
    prefixed = [d for d in dirs if run_id and d.name.startswith(run_id)]
    if len(prefixed) == 1:
        return prefixed[0]
    known = list(dict.fromkeys(d.name for d in dirs))
    if not known:
        raise UserError(f"no run {run_id!r}: {where} holds no runs", field="RUN_ID",
                        hint="start one with `crew run feature.yaml`, or pass --repo PATH "
                             "for another repository")
    from crew.spec.suggest import did_you_mean

    matching = list(dict.fromkeys(d.name for d in prefixed))
    listed = matching or known  # an ambiguous prefix lists what it matches, not every run
    shown = ", ".join(listed[:20]) + (f" … ({len(listed)} in all)" if len(listed) > 20 else "")
    what = (f"{run_id!r} matches {len(matching)} runs" if matching
            else f"no run {run_id!r} in {where}{did_you_mean(run_id, known)}")
    hint = "the ones it matches, newest first" if matching else "runs, newest first"
    raise UserError(what, field="RUN_ID", hint=f"{hint}: {shown}")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so a crash leaves either the old or the new content.
    Known secrets and key shapes are redacted first: no file crew writes holds one."""
    from crew.observability.redact import scrub

    text = scrub(replace_surrogates(text))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # persist the rename itself
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def state_text(state: RunState) -> str:
    state.updated_at = time.time()
    try:
        return state.model_dump_json(indent=1)
    except ValueError:  # a text UTF-8 cannot encode (a lone surrogate): made safe, then written
        return json.dumps(safe_data(state.model_dump(mode="python")), indent=1,
                          ensure_ascii=False, default=str)


def save_state(directory: Path, state: RunState) -> None:
    write_atomic(directory / STATE_FILE, state_text(state))


def load_state(directory: Path) -> RunState:
    path = directory / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"run {directory.name!r} has no checkpoint", file=str(path),
                        hint="it never got past start-up; start a new run with `crew run`"
                        ) from None
    except (OSError, ValueError) as e:
        raise UserError(f"the checkpoint is unreadable: {e}", file=str(path)) from None
    if data.get("version") != STATE_VERSION:
        raise UserError(f"checkpoint version {data.get('version')!r} is not supported",
                        file=str(path), hint=f"this crew reads version {STATE_VERSION}")
    return RunState.model_validate(data)


def save_plan(directory: Path, tasks: list[PlannedTask]) -> None:
    body = {"tasks": [t.model_dump(exclude_defaults=False) for t in tasks]}
    write_atomic(directory / PLAN_FILE, json.dumps(body, indent=1, ensure_ascii=False))


def load_plan(directory: Path) -> list[PlannedTask] | None:
    path = directory / PLAN_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return [PlannedTask.model_validate(t) for t in data.get("tasks", [])]


def list_runs(repo: Path) -> list[RunState]:
    """Every run of the repo with a readable checkpoint, newest first."""
    out: list[RunState] = []
    root = runs_root(repo)
    if not root.is_dir():
        return out
    for d in root.iterdir():
        try:
            out.append(load_state(d))
        except (UserError, ValueError):
            continue
    return sorted(out, key=lambda s: s.created_at, reverse=True)


def scan_runs(repo: Path) -> list[tuple[Path, RunState | None]]:
    """Every run directory of the repo with its checkpoint (None: none readable — the run
    failed to start), newest first."""
    root = runs_root(repo)
    out: list[tuple[float, Path, RunState | None]] = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if not d.is_dir():
            continue
        try:
            state: RunState | None = load_state(d)
        except (UserError, ValueError):
            state = None
        when = state.created_at if state is not None else d.stat().st_mtime
        out.append((when, d, state))
    return [(d, s) for _, d, s in sorted(out, key=lambda x: x[0], reverse=True)]


def run_label(directory: Path, state: RunState | None) -> str:
    """What `crew runs` calls a run: its status, or what became of it — `running` (a process
    holds it), `plan-only` (a saved plan waiting for `crew resume`), `failed to start` (no
    checkpoint, or stopped before it had a branch), `interrupted` (its process died)."""
    if is_locked(directory):
        return "running"
    if state is None:
        return "failed to start"
    if state.status == RunStatus.PLANNING:
        if (directory / PLAN_FILE).is_file():
            return "plan-only"
        return "interrupted" if state.branch else "failed to start"
    if state.status in (RunStatus.RUNNING, RunStatus.GATES):
        return "interrupted"
    return state.status


# the `run_label`s of runs `crew resume` continues (`crew runs --json`'s "resumable"): killed
# in any phase (planning included), stopped on a budget or an error, or a saved plan
RESUMABLE_LABELS = frozenset({"budget", "interrupted", "plan-only", "error"})


def is_locked(directory: Path) -> bool:
    """Whether a process holds the run's lock now (the run is in progress)."""
    import fcntl

    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Hold the run's lock; UserError when another process holds it."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise UserError(f"run {directory.name!r} is already running (pid {holder})",
                            hint="wait for it to finish, or stop that process first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock
