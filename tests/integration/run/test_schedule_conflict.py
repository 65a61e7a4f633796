"""Scheduling through `start_run` in a real git repo with the replay model: two independent
tasks run at once in their own worktrees; both edit the same line, so the second merge
conflicts and becomes a coder task that resolves it; the dependent task waits for that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crew.cli.live_board import Board
from crew.run.launch import RunOptions, start_run
from shared_helpers import committed_repo, git


def _write(task: str, role: str, content: str) -> list[dict[str, Any]]:
    return [{"task": task, "role": role, "turn": 1, "tool_calls": [
                {"name": "write_file", "arguments": {"path": "app.py", "content": content}}]},
            {"task": task, "role": role, "turn": 2, "content": f"{task} done"}]


def _setup(tmp_path: Path) -> Path:
    committed_repo(tmp_path / "repo")
    answers = [{"task": "plan", "role": "supervisor", "content": '{"tasks": []}'},
               *_write("left", "coder", "VALUE = 2\n"),
               *_write("right", "tester", "VALUE = 3\n"),
               # whichever of the two merges second conflicts; its resolution keeps both
               *_write("left-merge", "coder", "VALUE = 2  # and 3\n"),
               *_write("right-merge", "coder", "VALUE = 2  # and 3\n"),
               *_write("after", "doc_writer", "VALUE = 2  # and 3, documented\n")]
    (tmp_path / "replay.yaml").write_text(yaml.safe_dump({"answers": answers}))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/s", "replay_script": "replay.yaml"}}
        for a in ("smart", "fast")]}))
    feature = {"title": "Two at once", "goal": "Change VALUE twice.", "repo": "repo",
               "models": "models.yaml", "tasks": [
                   {"id": "left", "title": "Left", "pattern": "single", "roles": ["coder"]},
                   {"id": "right", "title": "Right", "pattern": "single", "roles": ["tester"]},
                   {"id": "after", "title": "After", "pattern": "single",
                    "roles": ["doc_writer"], "depends_on": ["left", "right"]}]}
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump(feature))
    return tmp_path / "feature.yaml"


class _BoardView:
    """A live view's board, fed as `crew run` feeds it: by the run's tracer alone."""

    def __init__(self) -> None:
        self.board = Board()

    def on_event(self, event: dict[str, Any]) -> None:
        self.board.apply(event)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_parallel_tasks_conflict_and_a_coder_resolves_it(tmp_path: Path) -> None:
    feature = _setup(tmp_path)
    main_before = git(tmp_path / "repo", "rev-parse", "main")
    view = _BoardView()
    out = start_run(feature, RunOptions(sandbox="local", trace=False, max_parallel=2,
                                        view=view))
    assert out.exit_code == 0, out.state.stop_reason
    st = out.state
    # the view saw every task, the merge_fix one added mid-run too, end as the run ended it
    assert {k: r.status for k, r in view.board.tasks.items()} == {
        k: t.status for k, t in st.tasks.items()}
    fixes = [t for t in st.order if t.endswith("-merge")]
    assert len(fixes) == 1  # exactly one of the two merges conflicted
    assert st.tasks[fixes[0]].status == "done" and st.tasks[fixes[0]].merged
    assert all(st.tasks[t].status == "done" and st.tasks[t].merged
               for t in ("left", "right", "after"))
    # both ran at the same time: each started before the other finished
    left, right = st.tasks["left"], st.tasks["right"]
    assert left.started_at and right.started_at and left.finished_at and right.finished_at
    assert left.started_at < right.finished_at and right.started_at < left.finished_at
    # the dependent task saw the resolution, and the branch holds every task's commit
    assert git(tmp_path / "repo", "show", f"{st.branch}:app.py") == (
        "VALUE = 2  # and 3, documented")
    trailers = git(tmp_path / "repo", "log", "--format=%(trailers:key=Crew-Task,valueonly)",
                    st.branch, "^main").split()
    assert {"left", "right", "after", fixes[0]} <= set(trailers)
    assert git(tmp_path / "repo", "rev-parse", "main") == main_before  # the user's branch
    assert (tmp_path / "repo" / "app.py").read_text() == "VALUE = 1\n"  # and working tree
