"""`crew run` killed with SIGKILL at several points, then `crew resume`: the run completes, no
finished task runs twice, no commit is lost or made twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import crew, crew_env, only_run, state_of, task_commits, task_starts

from crew.run.journal import read_jsonl

Event = dict[str, Any]


def _after_plan(e: Event, seen: list[Event]) -> bool:
    return bool(e["type"] == "task.end" and e["name"] == "plan")


def _mid_export(e: Event, seen: list[Event]) -> bool:  # the coder has written todo.py
    return (e["type"] == "tool.end" and e["name"] == "write_file"
            and sum(1 for x in seen if x["type"] == "task.start") >= 3)


def _docs_started(e: Event, seen: list[Event]) -> bool:
    return bool(e["type"] == "task.start" and e["name"] == "docs")


def _before_gate(e: Event, seen: list[Event]) -> bool:
    return bool(e["type"] == "task.end" and e["name"] == "docs")


def _mid_worker(e: Event, seen: list[Event]) -> bool:  # a worker's turn 1 is recorded
    return (e["type"] == "tool.end" and e["name"] == "run_tests"
            and sum(1 for x in seen if x["type"] == "task.start") >= 3)


KILL_POINTS: dict[str, Callable[[Event, list[Event]], bool]] = {
    "after-plan": _after_plan, "mid-export": _mid_export, "mid-worker": _mid_worker,
    "docs-started": _docs_started, "before-gate": _before_gate,
}

CallKey = tuple[str, str, str, int]


def _recorded_turns(run_dir: Path) -> set[CallKey]:
    """(task, role, purpose, turn) of every agent turn recorded in turns.jsonl."""
    out: set[CallKey] = set()
    for rec in read_jsonl(run_dir / "turns.jsonl"):
        if rec.get("kind") == "turn":
            _, task, role, purpose, _rnd, _seq = rec["key"].split("/")
            out.add((task, role, purpose, rec["turn"]))
    return out


def _calls(run_dir: Path) -> list[CallKey]:
    return [(e["task_id"], e["role"], e["purpose"], e["turn"])
            for e in read_jsonl(run_dir / "ledger.jsonl")]


def _run_and_kill(feature: Path, when: Callable[[Event, list[Event]], bool]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "crew", "run", str(feature), "--json",
                             "--no-trace"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=crew_env(), start_new_session=True)
    seen: list[Event] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            e = json.loads(line)
            seen.append(e)
            if when(e, seen):
                proc.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail("the run ended before the kill point")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume_completes(demo: Path, point: str) -> None:
    repo = demo.parent / "project"
    _run_and_kill(demo, KILL_POINTS[point])
    run_dir = only_run(repo)
    before = state_of(run_dir)
    done_before = {t for t, s in before["tasks"].items() if s["status"] == "done"}
    commits_before = task_commits(repo, before["branch"])
    turns_before, calls_before = _recorded_turns(run_dir), _calls(run_dir)
    unfinished = {k for k in turns_before if k[0] not in done_before}
    if point == "mid-worker":  # the kill came inside an agent's conversation
        assert any(k[0] == "export-csv" and k[3] == 1 for k in unfinished), turns_before

    res = crew("resume", run_dir.name, "--repo", str(repo), "--no-trace")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    after = state_of(run_dir)
    assert after["status"] == "passed"
    assert after["sessions"] == 2
    starts = task_starts(run_dir)
    for task in done_before:  # finished before the kill: never started again
        assert starts[task] == 1, (task, starts)
    commits = task_commits(repo, after["branch"])
    assert sorted(commits) == sorted(set(commits)), commits  # none twice
    assert set(commits_before) <= set(commits)  # none lost
    assert set(commits) == {"export-csv-s1", "export-csv-s2", "docs"}
    # turn-level resume: no turn recorded before the kill was asked of the model again
    again = [c for c in _calls(run_dir)[len(calls_before):] if c in turns_before]
    assert not again, again


def test_ctrl_c_stops_cleanly_with_exit_4_then_resumes(demo: Path) -> None:
    repo = demo.parent / "project"
    proc = subprocess.Popen([sys.executable, "-m", "crew", "run", str(demo), "--json",
                             "--no-trace"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=crew_env())
    assert proc.stdout is not None
    for line in proc.stdout:
        e = json.loads(line)
        if e["type"] == "tool.end" and e["name"] == "write_file":  # mid export-csv
            proc.send_signal(signal.SIGINT)
            break
    rest = [json.loads(x) for x in proc.stdout]
    assert proc.wait(timeout=60) == 4
    assert rest[-1]["type"] == "crew.result" and rest[-1]["status"] == "interrupted"
    run_dir = only_run(repo)
    state = state_of(run_dir)
    assert state["status"] == "interrupted"
    assert "export-csv" in [t for t, s in state["tasks"].items() if s["status"] == "interrupted"]
    assert "crew resume" in (run_dir / "report.md").read_text()
    res = crew("resume", run_dir.name, "--repo", str(repo), "--no-trace")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert state_of(run_dir)["status"] == "passed"
