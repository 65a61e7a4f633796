"""Issue 31, whole runs in-process (`start_run` / `resume_run`, the replay model through the
Router, a real git repo, the local sandbox): a NUL byte or a lone surrogate in a final answer
becomes a commit instead of a crash; a crash in crew ends the run `error` with its traceback in
crash.txt, a report and a plain message, and `crew resume` finishes it; a task stopped because
another failed says so; a run killed while planning is listed resumable."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.cli.live_board import Board
from crew.errors import InfrastructureError
from crew.run.launch import RunOptions, resume_run, start_run
from crew.run.state import RunState, save_state
from shared_helpers import committed_repo, git


class _View:
    """A live view: a tracer sink that keeps the run's messages and folds its board."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.board = Board()

    def on_event(self, event: dict[str, Any]) -> None:
        self.board.apply(event)
        message = (event.get("payload") or {}).get("message")
        if event.get("type") == "event" and isinstance(message, str):
            self.messages.append(message)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _setup(tmp_path: Path, tasks: list[dict[str, Any]], answers: list[dict[str, Any]]) -> Path:
    committed_repo(tmp_path / "repo")
    answers = [{"task": "plan", "role": "supervisor", "content": '{"tasks": []}'}, *answers]
    (tmp_path / "replay.yaml").write_text(yaml.safe_dump({"answers": answers}))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/s", "replay_script": "replay.yaml"}}
        for a in ("smart", "fast")]}))
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Chaos", "goal": "Change the app.", "repo": "repo", "models": "models.yaml",
        "tasks": tasks}))
    return tmp_path / "feature.yaml"


def _write(task: str, turn: int, path: str = "app.py") -> dict[str, Any]:
    return {"task": task, "role": "coder", "turn": turn, "tool_calls": [
        {"name": "write_file", "arguments": {"path": path, "content": f"V = '{task}'\n"}}]}


def _single(task: str) -> dict[str, Any]:
    return {"id": task, "title": f"Do {task}", "pattern": "single", "roles": ["coder"]}


def _opts(**kw: Any) -> RunOptions:
    return RunOptions(sandbox="local", trace=False, **kw)


def test_a_nul_and_a_surrogate_in_the_final_answer_are_committed(tmp_path: Path) -> None:
    feature = _setup(tmp_path, [_single("t")], [
        _write("t", 1), {"task": "t", "role": "coder", "turn": 2,
                         "content": "Done.\x00\x00 commit me \ud800"}])
    out = start_run(feature, _opts())  # was: ValueError: embedded null byte, no report
    assert out.exit_code == 0, out.state.stop_reason
    message = git(tmp_path / "repo", "log", "-1", "--format=%B", out.state.branch)
    assert "Done.\\x00\\x00 commit me \ufffd" in message
    assert (out.run_dir / "report.md").is_file()
    for name in ("turns.jsonl", "events.jsonl", "state.json"):
        (out.run_dir / name).read_text(encoding="utf-8")


def test_a_crash_in_crew_ends_the_run_resumable_with_its_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feature = _setup(tmp_path, [_single("t")], [
        _write("t", 1), {"task": "t", "role": "coder", "turn": 2, "content": "Done."}])

    def bug(votes: Any) -> list[str]:
        raise ZeroDivisionError("a bug in crew")

    monkeypatch.setattr("crew.run.runner.review_lines", bug)  # crew's own code fails
    view = _View()
    out = start_run(feature, _opts(view=view))  # was: the exception escaped start_run
    assert out.exit_code == 1 and out.state.status == "error"
    crash = out.run_dir / "crash.txt"
    assert "Traceback" in crash.read_text() and "ZeroDivisionError: a bug in crew" in \
        crash.read_text()
    reason = out.state.stop_reason or ""
    assert reason.startswith("crew crashed (a bug in crew, not in your feature): "
                             "ZeroDivisionError: a bug in crew; traceback in ")
    assert str(crash) in reason
    assert any(m.startswith("crew crashed") and f"crew resume {out.run_id}" in m
               for m in view.messages), view.messages
    assert "crew crashed" in (out.run_dir / "report.md").read_text()
    assert out.state.tasks["t"].status == "interrupted"
    monkeypatch.undo()
    again = resume_run(out.run_id, _opts(repo=tmp_path / "repo"))
    assert again.exit_code == 0 and again.state.status == "passed", again.state.stop_reason


def test_a_task_stopped_by_another_failure_says_so(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    feature = _setup(tmp_path, [_single("a"), _single("b")], [])
    from crew.patterns.registry import PatternRegistry

    async def run(self: Any, template: Any, ctx: Any) -> Any:
        if ctx.task.id == "a":
            await asyncio.sleep(0.2)
            raise InfrastructureError("the sandbox broke")
        await asyncio.sleep(60)  # cancelled when a stops the run

    monkeypatch.setattr(PatternRegistry, "run", run)
    view = _View()
    out = start_run(feature, _opts(max_parallel=2, view=view))
    assert out.state.status == "error"
    assert {k: r.status for k, r in view.board.tasks.items()} == {"a": "error",
                                                                    "b": "interrupted"}
    b = out.state.tasks["b"]
    assert b.status == "interrupted"
    assert b.error == "stopped before it finished: task a stopped the run"
    ends = [json.loads(x) for x in (out.run_dir / "events.jsonl").read_text().splitlines()]
    end_b = next(e for e in ends if e["type"] == "task.end" and e["name"] == "b")
    assert "CancelledError" not in json.dumps(end_b)
    assert end_b["payload"]["level"] == "WARNING"
    assert "stopped before it finished: task a stopped the run" in out.report


def test_a_run_killed_while_planning_is_listed_resumable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crew.cli.run_cmd import runs

    repo = committed_repo(tmp_path / "repo")
    d = repo / ".crew" / "runs" / "20261207-000000-abcd"
    d.mkdir(parents=True)
    state = RunState(run_id=d.name, feature_path="f", feature_title="F", repo=str(repo),
                     branch="crew/f-x")
    assert state.status == "planning"  # the process died while the supervisor planned
    save_state(d, state)
    runs(repo=repo, json_mode=True)
    row = json.loads(capsys.readouterr().out)
    assert (row["status"], row["checkpoint"], row["resumable"]) == (
        "interrupted", "planning", True)  # was: "resumable": false
