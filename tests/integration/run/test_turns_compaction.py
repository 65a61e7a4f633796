"""turns.jsonl is compacted when a task ends: a finished task's turns, answers and pattern
states leave the file (resume never reads them; `crew show`, `crew ui` and the report read
state.json and events.jsonl), while an unfinished task's stay, so `crew resume` continues it
from its last turn. Whole runs in-process with the replay model through the Router."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.run.journal import TURNS_FILE, read_jsonl
from crew.run.launch import RunOptions, resume_run, start_run
from shared_helpers import committed_repo


def _answers(b_done: bool) -> list[dict[str, Any]]:
    def write(task: str) -> dict[str, Any]:
        return {"task": task, "role": "coder", "turn": 1, "tool_calls": [
            {"name": "write_file", "arguments": {"path": f"{task}.py", "content": "V = 1\n"}}]}

    return [{"task": "plan", "role": "supervisor", "content": '{"tasks": []}'},
            write("a"), {"task": "a", "role": "coder", "turn": 2, "content": "Wrote a.py."},
            write("b"),
            *([{"task": "b", "role": "coder", "turn": 2, "content": "Wrote b.py."}]
              if b_done else [])]


def _setup(tmp_path: Path) -> Path:
    committed_repo(tmp_path / "repo")
    (tmp_path / "replay.yaml").write_text(yaml.safe_dump({"answers": _answers(False)}))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/s", "replay_script": "replay.yaml"}}
        for a in ("smart", "fast")]}))
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Two files", "goal": "Write a.py, then b.py.", "repo": "repo",
        "models": "models.yaml", "tasks": [
            {"id": "a", "title": "Write a.py", "pattern": "single", "roles": ["coder"]},
            {"id": "b", "title": "Write b.py", "pattern": "single", "roles": ["coder"],
             "depends_on": ["a"]}]}))
    return tmp_path / "feature.yaml"


def _tasks_in(run_dir: Path) -> set[str]:
    return {str(r.get("task") or r["key"].split("/")[0]) for r in read_jsonl(run_dir / TURNS_FILE)}


def test_a_finished_tasks_turns_are_compacted_and_show_report_resume_still_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crew.cli.show_cmd import show
    from crew.ui.data import run_page

    feature = _setup(tmp_path)
    repo = tmp_path / "repo"
    opts = RunOptions(sandbox="local", trace=False)
    out = start_run(feature, opts)  # b's second turn is not scripted: the run stops there
    assert out.state.status == "error", out.state.stop_reason
    assert out.state.tasks["a"].status == "done" and out.state.tasks["b"].status == "error"
    assert _tasks_in(out.run_dir) == {"b"}  # a's records went when a ended; b's stay
    assert "| `a` | Write a.py | single | coder | done | 1 |" in out.report

    show(out.run_id, repo, None)  # the transcript comes from events.jsonl
    shown = capsys.readouterr().out
    assert "Wrote a.py." in shown
    page = run_page(out.run_dir)
    assert {t.id for t in page.tasks} == {"a", "b"}

    (tmp_path / "replay.yaml").write_text(yaml.safe_dump({"answers": _answers(True)}))
    calls = len(list(read_jsonl(out.run_dir / "ledger.jsonl")))
    again = resume_run(out.run_id, RunOptions(repo=repo, sandbox="local", trace=False))
    assert again.exit_code == 0 and again.state.status == "passed", again.state.stop_reason
    new = [(e["task_id"], e["turn"]) for e in read_jsonl(out.run_dir / "ledger.jsonl")][calls:]
    assert new == [("b", 2)]  # b went on from its recorded turn; a never ran again
    assert (out.run_dir / TURNS_FILE).read_text() == ""  # every task ended: nothing kept
    assert "| `b` | Write b.py | single | coder | done | 1 |" in again.report
