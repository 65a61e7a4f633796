"""Following a run's events.jsonl as it grows, and telling when (and how) the run ended."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from crew.run.follow import EventTail, follow, run_end
from crew.run.state import RunState, run_lock, save_state


def _state(d: Path, status: str) -> None:
    save_state(d, RunState(run_id=d.name, feature_path="f.yaml", feature_title="T",
                           repo=str(d), branch="crew/x", status=status))  # type: ignore[arg-type]


def test_tail_returns_complete_lines_once_and_waits_for_a_torn_one(tmp_path: Path) -> None:
    tail = EventTail(tmp_path)
    assert tail.read_new() == []  # no log yet
    log = tmp_path / "events.jsonl"
    log.write_text('{"type":"run.start","id":"a"}\n{"type":"task.st')
    assert [e["id"] for e in tail.read_new()] == ["a"]
    assert tail.read_new() == []
    with log.open("a") as f:
        f.write('art","id":"b"}\nnot json\n[1]\n')
    assert [e["id"] for e in tail.read_new()] == ["b"]  # the torn line, completed


def test_a_held_run_has_not_ended_and_a_released_one_ends_with_its_exit_code(
        tmp_path: Path) -> None:
    d = tmp_path / "run-1"
    with run_lock(d):
        _state(d, "running")
        assert run_end(d) is None
    assert run_end(d) is not None and run_end(d).exit_code == 4  # type: ignore[union-attr]
    for status, code in (("passed", 0), ("failed", 1), ("budget", 3), ("error", 1),
                         ("rejected", 5)):
        _state(d, status)
        end = run_end(d)
        assert end is not None and (end.status, end.exit_code) == (status, code)


def test_follow_hands_on_events_appended_while_the_run_holds_its_lock(tmp_path: Path) -> None:
    d = tmp_path / "run-2"
    held, release = threading.Event(), threading.Event()

    def run() -> None:
        with run_lock(d):
            _state(d, "running")
            held.set()
            release.wait(10)
            with (d / "events.jsonl").open("a") as f:
                f.write(json.dumps({"type": "agent.start", "id": "late"}) + "\n")
            _state(d, "passed")

    t = threading.Thread(target=run)
    t.start()
    held.wait(10)
    seen: list[str] = []
    polls = []

    def sleep(s: float) -> None:
        polls.append(s)
        release.set()
        t.join(0.01)

    end = follow(d, lambda e: seen.append(str(e["id"])), poll_s=0.01, sleep=sleep)
    t.join()
    assert seen == ["late"] and polls  # written after follow started waiting
    assert (end.status, end.exit_code) == ("passed", 0)
