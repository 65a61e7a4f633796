"""The run's journals: torn lines, deltas, the coalescing state writer, version-1 checkpoints."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.patterns.state import AskRecord
from crew.run.journal import (
    TURNS_FILE,
    JsonlLog,
    StateWriter,
    TurnJournal,
    read_jsonl,
)
from crew.run.state import STATE_FILE, RunState, load_state, save_state, write_atomic


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line(tmp_path: Path
                                                                            ) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"b": 2}\n{"c": 3, "d": [1, 2')  # killed mid-write
    assert list(read_jsonl(path)) == [{"a": 1}, {"b": 2}]
    log = JsonlLog(path)
    log.append({"e": 5})
    log.close()
    assert list(read_jsonl(path)) == [{"a": 1}, {"b": 2}, {"e": 5}]
    assert list(read_jsonl(tmp_path / "missing.jsonl")) == []


def test_turns_are_recorded_as_deltas_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / TURNS_FILE
    j = TurnJournal(path)
    sys_m = {"role": "system", "content": "s"}
    user = {"role": "user", "content": "task"}
    a1 = {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}
    t1 = {"role": "tool", "tool_call_id": "1", "content": "x" * 500}
    j.record("k", 1, [sys_m, user, a1, t1], None)
    a2 = {"role": "assistant", "content": "done"}
    j.record("k", 2, [sys_m, user, a1, t1, a2], "final", "final answer")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [len(x["messages"]) for x in lines] == [4, 1]  # only what is new
    elided = {**t1, "content": "[old output elided]"}
    a3 = {"role": "assistant", "content": "again"}
    j.record("k2", 1, [sys_m], None)
    j.record("k2", 2, [elided, a3], None)  # an earlier message changed: from there on
    j.save_pattern("t1", {"round": 1, "answers": ["a"]})
    j.log.close()

    again = TurnJournal(path)
    assert again.conversation("k") == ([sys_m, user, a1, t1, a2], 2, "final", "final answer")
    assert again.conversation("k2") == ([elided, a3], 2, None, "")
    assert again.conversation("nope") is None
    assert again.pattern_state("t1") == {"round": 1, "answers": ["a"]}
    again.finish(["k"])
    assert again.conversation("k") is not None  # keys are "<task>/...": "k" is no task prefix


def test_finishing_a_task_compacts_its_records_out_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / TURNS_FILE
    j = TurnJournal(path)
    msg = {"role": "assistant", "content": "x" * 200}
    for task in ("a", "ab", "b"):  # "a" is a prefix of "ab": only "a/..." keys are a's
        j.record(f"{task}/{task}/coder//1/0", 1, [msg], "final", "final answer")
        j.record_answer(f"{task}/{task}/lead/plan/1/0", AskRecord(answer={"ok": task}))
        j.save_pattern(task, {"round": 1})
    path.write_text(path.read_text() + "not json\n")  # a line torn by an old kill goes too
    size = path.stat().st_size
    j.finish(["a"])
    assert path.stat().st_size < size * 2 / 3
    assert {r.get("task") or r["key"].split("/")[0] for r in read_jsonl(path)} == {"ab", "b"}
    assert j.conversation("a/a/coder//1/0") is None and j.pattern_state("a") is None
    j.record("b/b/coder//2/0", 1, [msg], None)  # appends go to the new file
    j.log.close()

    again = TurnJournal(path)  # what resume reads: the unfinished tasks, whole
    assert again.answer("ab/ab/lead/plan/1/0") == AskRecord(answer={"ok": "ab"})
    assert again.answer("a/a/lead/plan/1/0") is None
    assert again.conversation("b/b/coder//1/0") == ([msg], 1, "final", "final answer")
    assert again.conversation("b/b/coder//2/0") == ([msg], 1, None, "")
    assert again.pattern_state("b") == {"round": 1}


def test_compaction_keeps_what_is_appended_while_it_runs(tmp_path: Path) -> None:
    path = tmp_path / TURNS_FILE
    j = TurnJournal(path)
    for i in range(2000):
        j.record(f"{'ab'[i % 2]}/x/coder//{i}/0", 1, [{"role": "user", "content": "y" * 50}],
                 None)
    stop = threading.Event()
    added: list[str] = []

    def append() -> None:
        while not stop.is_set():
            key = f"b/x/coder//late/{len(added)}"
            j.record(key, 1, [{"role": "user", "content": "z"}], None)
            added.append(key)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        for _ in range(5):
            j.finish(["a"])
    finally:
        stop.set()
        writer.join()
    j.log.close()
    keys = [r["key"] for r in read_jsonl(path)]
    assert not any(k.startswith("a/") for k in keys)
    assert len(keys) == 1000 + len(added) and set(added) <= set(keys)


def test_the_state_writer_coalesces_and_flushes(tmp_path: Path) -> None:
    written: list[str] = []
    gate = threading.Event()

    def slow_write(text: str) -> None:
        gate.wait(5)
        written.append(text)

    w = StateWriter(slow_write)
    for i in range(50):  # the first write is held: the rest collapse into the latest
        w.request(str(i))
    gate.set()
    w.flush()
    assert written[-1] == "49" and len(written) <= 3
    w.close()
    with pytest.raises(RuntimeError):
        w.request("late")


def test_a_write_error_surfaces_at_flush(tmp_path: Path) -> None:
    def fail(text: str) -> None:
        raise OSError("disk full")

    w = StateWriter(fail)
    w.request("x")
    with pytest.raises(OSError, match="disk full"):
        w.flush()
    w.close()


def test_the_writer_never_runs_ahead_of_the_journals(tmp_path: Path) -> None:
    order: list[str] = []
    w = StateWriter(lambda text: order.append("state"), lambda: order.append("sync"))
    w.request("a")
    w.flush()
    time.sleep(0.01)
    w.close()
    assert order[:2] == ["sync", "state"]


def test_a_checkpoint_of_another_version_is_refused(tmp_path: Path) -> None:
    old = {"version": 1, "run_id": "r", "feature_path": "f", "feature_title": "F", "repo": "/r"}
    write_atomic(tmp_path / STATE_FILE, json.dumps(old))
    with pytest.raises(UserError, match="checkpoint version 1 is not supported"):
        load_state(tmp_path)


def test_state_json_stays_small(tmp_path: Path) -> None:
    s = RunState(run_id="r", feature_path="f", feature_title="F", repo="/r")
    s.task("t1").summary = "done"
    with pytest.raises(ValueError):  # pattern state and ledger live in the journals only
        s.task("t1").pattern_state = {"author": []}  # type: ignore[attr-defined]
    save_state(tmp_path, s)
    assert (tmp_path / STATE_FILE).stat().st_size < 2_000
