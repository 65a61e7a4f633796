"""What the pages of `crew ui` show, read from a run's files: state.json and plan.json (tasks,
statuses, gates, degraded decisions), events.jsonl (every round, turn, message and tool call,
cost and tokens over time, the Langfuse trace) and git (each task's diff). Read-only."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import UserError
from crew.observability.events import read_events
from crew.observability.transcript import Node, build_tree, summarize, trace_url, walk
from crew.patterns.decisions import Degraded
from crew.run.index import read_index
from crew.run.state import (
    GateResult,
    RunState,
    is_locked,
    load_plan,
    load_state,
    run_label,
    runs_root,
    scan_runs,
)

DIFF_CHARS = 200_000
_diffs: dict[tuple[str, str], str] = {}  # (repo, commit) → diff: a commit never changes


@dataclass(frozen=True)
class RunRow:
    """One line of the runs page."""

    run_id: str
    run_dir: Path
    feature: str
    status: str
    cost_usd: float
    started: str
    repo: str


def list_runs(repo: Path | None) -> list[RunRow]:
    """The runs of `repo`, or (None) every run in crew's index, newest first."""
    if repo is not None:
        found = scan_runs(repo)
    else:
        found = []
        for entry in read_index():
            try:
                found.append((entry.run_dir, load_state(entry.run_dir)))
            except (UserError, ValueError):
                found.append((entry.run_dir, None))
    rows = []
    for d, s in found:
        when = s.created_at if s is not None else d.stat().st_mtime
        rows.append(RunRow(d.name, d, s.feature_title if s else "", run_label(d, s),
                           float(s.spent.get("cost_usd", 0.0)) if s else 0.0,
                           time.strftime("%Y-%m-%d %H:%M", time.localtime(when)),
                           s.repo if s else str(d.parents[2])))
    return rows


def find_run(run_id: str, repo: Path | None) -> Path | None:
    """The directory of run `run_id` among the listed runs (never a path from the request)."""
    if repo is not None:
        d = runs_root(repo) / run_id
        return d if run_id and "/" not in run_id and d.is_dir() and d.parent == runs_root(
            repo) else None
    return next((e.run_dir for e in read_index() if e.run_id == run_id), None)


@dataclass
class TaskView:
    """One task of the plan with everything the run page shows about it."""

    id: str
    title: str = ""
    pattern: str = ""
    roles: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    status: str = "pending"
    error: str | None = None
    commit: str | None = None
    files_changed: list[str] = field(default_factory=list)
    diff: str = ""
    degraded: list[Degraded] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)  # the task's observations, per session
    cost_usd: float = 0.0
    tokens: int = 0
    trace_url: str | None = None


@dataclass
class RunPage:
    """The run page: the DAG, the tasks, the gates, the totals and their curve."""

    run_id: str
    title: str
    status: str
    running: bool
    stop_reason: str | None
    tasks: list[TaskView]
    planning: list[Node]
    events: list[Node]  # point events of the run itself (gates, errors, plan repairs)
    gates: list[GateResult]
    degraded: list[Degraded]
    totals: dict[str, Any]
    series: list[tuple[float, float, int]]  # (seconds since start, cost so far, tokens so far)
    trace_url: str | None
    dag: dict[str, Any]


def _tokens(usage: Any) -> int:
    if not isinstance(usage, dict):
        return 0
    if isinstance(usage.get("total"), int):
        return int(usage["total"])
    return sum(int(v) for k in ("input", "output") if isinstance(v := usage.get(k), int | float))


def task_diff(repo: Path, commit: str, task_id: str) -> str:
    """What task `task_id` changed: the diff (stat and patch) from where its branch started
    to its `commit` — through its own commits and the merges of its subtasks, found by their
    Crew-Task / Crew-Merge trailers — cut at DIFF_CHARS."""
    from crew.workspace.git import run_git
    from crew.workspace.naming import MERGE_TRAILER, TASK_TRAILER

    key = (str(repo), commit)
    if key in _diffs:
        return _diffs[key]
    fmt = (f"--format=%H%x1f%P%x1f%(trailers:key={TASK_TRAILER},valueonly,separator=%x2c)"
           f"%x1f%(trailers:key={MERGE_TRAILER},valueonly,separator=%x2c)%x1e")
    log = run_git(repo, "log", "--first-parent", "-n", "500", fmt, commit, check=False)
    start = None
    for record in log.out.split("\x1e") if log.ok else []:
        fields = record.strip("\n").split("\x1f")
        if len(fields) != 4:
            continue
        names = [n.strip() for n in f"{fields[2]},{fields[3]}".split(",") if n.strip()]
        if not any(n == task_id or n.startswith(f"{task_id}-") for n in names):
            break
        parents = fields[1].split()
        start = parents[0] if parents else None
    if start is not None:
        res = run_git(repo, "diff", "--no-color", "--stat", "--patch", start, commit,
                      check=False)
        text = f"{start[:12]}..{commit[:12]}\n\n{res.out}"
    else:  # not a commit crew made (or the first of the repository): the commit itself
        res = run_git(repo, "show", "--no-color", "--stat", "--patch", "--format=commit %H%n%n%B",
                      commit, check=False)
        text = res.out
    if not res.ok:
        text = f"(git could not show {commit[:12]}: {res.err.strip()})"
    if len(text) > DIFF_CHARS:
        text = text[:DIFF_CHARS] + f"\n… ({len(text) - DIFF_CHARS} more characters)"
    _diffs[key] = text
    return text


def run_page(run_dir: Path) -> RunPage:
    """Everything the run page shows, as the run's files say it now."""
    state: RunState | None
    try:
        state = load_state(run_dir)
    except (UserError, ValueError):
        state = None
    try:
        events = read_events(run_dir)
    except UserError:
        events = []
    running = is_locked(run_dir)
    roots = build_tree(events)
    all_nodes = walk(roots)
    url = (state.trace_url if state else None) or trace_url(events)
    by_task: dict[str, list[Node]] = {}
    planning: list[Node] = []
    for n in all_nodes:
        if n.kind != "task":
            continue
        if n.name in ("plan", "knowledge") and n.start.get("pattern") == n.name:
            planning.append(n)  # the run's own steps, shown with planning
        else:
            by_task.setdefault(str(n.start.get("task_id") or n.name), []).append(n)
    tasks = _tasks(run_dir, state, by_task, running, url)
    return RunPage(
        run_id=run_dir.name, title=state.feature_title if state else run_dir.name,
        status="running" if running else run_label(run_dir, state), running=running,
        stop_reason=state.stop_reason if state else None, tasks=tasks, planning=planning,
        events=[n for r in roots for n in ([r] if r.kind == "event" else r.children)
                if n.kind == "event" and not (n.name == "gate" and state and state.gates)],
        gates=list(state.gates) if state else [], degraded=list(state.degraded) if state else [],
        totals=summarize(events), series=_series(all_nodes), trace_url=url, dag=_dag(tasks))


def _tasks(run_dir: Path, state: RunState | None, by_task: dict[str, list[Node]],
           running: bool, url: str | None) -> list[TaskView]:
    plan = None
    with contextlib.suppress(UserError, ValueError, OSError):
        plan = load_plan(run_dir)
    views: dict[str, TaskView] = {}
    for t in plan or []:
        views[t.id] = TaskView(t.id, t.title, t.pattern, list(t.roles), list(t.depends_on))
    for tid in [*(state.order if state else []), *by_task]:
        views.setdefault(tid, TaskView(tid))
    repo = Path(state.repo) if state else None
    for tid, view in views.items():
        nodes = by_task.get(tid, [])
        view.nodes = nodes
        if nodes and not view.pattern:
            s = nodes[0].start
            view.pattern, view.roles = str(s.get("pattern") or ""), list(s.get("roles") or [])
        ts = state.tasks.get(tid) if state else None
        if ts is not None:
            view.status, view.error, view.commit = ts.status, ts.error, ts.commit
            view.files_changed, view.degraded = list(ts.files_changed), list(ts.degraded)
        if running and nodes and nodes[-1].end is None:
            view.status = "running"
        gens = [g for n in nodes for g in walk(n.children) if g.kind == "generation" and g.end]
        view.cost_usd = sum(float((g.end or {}).get("cost_usd") or 0) for g in gens)
        view.tokens = sum(_tokens((g.end or {}).get("usage")) for g in gens)
        view.trace_url = url if nodes else None
        if view.commit and repo is not None:
            view.diff = task_diff(repo, view.commit, tid)
    return list(views.values())


def _series(nodes: list[Node]) -> list[tuple[float, float, int]]:
    gens = sorted((n for n in nodes if n.kind == "generation" and n.end_ts is not None),
                  key=lambda n: float(n.end_ts or 0))
    start = min((n.ts for n in nodes if n.ts), default=0.0)
    cost, tokens, out = 0.0, 0, [(0.0, 0.0, 0)]
    for g in gens:
        cost += float((g.end or {}).get("cost_usd") or 0)
        tokens += _tokens((g.end or {}).get("usage"))
        out.append((round(float(g.end_ts or 0) - start, 3), cost, tokens))
    return out


def _dag(tasks: list[TaskView]) -> dict[str, Any]:
    """Boxes (one column per depth: a task sits right of everything it depends on) and the
    edges between them, in SVG units."""
    depth: dict[str, int] = {}
    ids = {t.id for t in tasks}
    deps = {t.id: [d for d in t.depends_on if d in ids] for t in tasks}

    def level(tid: str, seen: frozenset[str] = frozenset()) -> int:
        if tid not in depth:
            depth[tid] = 0 if tid in seen else 1 + max(
                (level(d, seen | {tid}) for d in deps[tid]), default=-1)
        return depth[tid]

    rows: dict[int, int] = {}
    boxes: dict[str, dict[str, Any]] = {}
    w, h, gap_x, gap_y = 170, 34, 50, 14
    for t in tasks:
        col = level(t.id)
        row = rows.get(col, 0)
        rows[col] = row + 1
        boxes[t.id] = {"id": t.id, "status": t.status, "x": 10 + col * (w + gap_x),
                       "y": 10 + row * (h + gap_y), "w": w, "h": h}
    edges = [{"x1": boxes[d]["x"] + w, "y1": boxes[d]["y"] + h // 2, "x2": boxes[t]["x"],
              "y2": boxes[t]["y"] + h // 2} for t, ds in deps.items() for d in ds]
    width = 20 + (max(depth.values(), default=0) + 1) * (w + gap_x)
    height = 20 + max(rows.values(), default=1) * (h + gap_y)
    return {"boxes": list(boxes.values()), "edges": edges, "width": width, "height": height}


def chart_points(series: list[tuple[float, float, int]], which: int, width: int = 360,
                 height: int = 90) -> str:
    """An SVG polyline's points for column `which` (1: cost, 2: tokens) of the series."""
    max_t = max((p[0] for p in series), default=0.0) or 1.0
    max_v = max((float(p[which]) for p in series), default=0.0) or 1.0
    return " ".join(f"{p[0] / max_t * width:.1f},{height - float(p[which]) / max_v * height:.1f}"
                    for p in series)
