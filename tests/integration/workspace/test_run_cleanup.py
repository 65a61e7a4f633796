"""What a run leaves behind: the end of a finished run tidies its worktrees and task branches
(the branch stays, deletable with `git branch -d` once merged); `crew clean` removes the rest
and says what; the per-user index finds a run from any directory. Real git repositories, a
real Workspace, the real `crew` CLI (typer's runner); no model is needed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.app import app
from crew.errors import UserError
from crew.run.index import index_path, read_index, record_run
from crew.run.state import RunState, find_run_dir, run_dir, run_label, run_lock, save_state
from crew.workspace.cleanup import finish_run
from crew.workspace.git import worktrees
from crew.workspace.worktrees import Workspace

Git = Callable[..., str]  # what conftest.git_in(repo) returns

RUN = "20260101-000000-abcd"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A cwd outside every repository."""
    d = tmp_path / "elsewhere"
    d.mkdir()
    old = Path.cwd()
    os.chdir(d)
    yield d
    os.chdir(old)


def finished_run(repo: Path, git: Git, status: str = "passed") -> tuple[Workspace, Path]:
    """A run with two task branches merged into its integration branch, as the runner leaves
    it: worktrees still present, state.json saved, the run in the index."""
    ws = Workspace.create(repo, RUN, "Add export")
    for task in ("impl", "docs"):
        wt = ws.task_worktree(task)
        (wt.path / f"{task}.txt").write_text(task, encoding="utf-8")
        ws.commit_task(task, f"do {task}", "coder")
        ws.merge_task(task, fast_forward=True)
    d = run_dir(repo, RUN)
    d.mkdir(parents=True)
    save_state(d, RunState(run_id=RUN, feature_path=str(repo / "feature.yaml"),
                           feature_title="Add export", repo=str(repo), branch=ws.branch,
                           base=ws.base, status=status))  # type: ignore[arg-type]
    assert record_run(RUN, repo, d, "Add export") is None
    return ws, d


def test_a_finished_run_keeps_only_its_branch(clean_repo: tuple[Path, Git]) -> None:
    repo, git = clean_repo
    ws, _ = finished_run(repo, git)
    assert len([p for p in worktrees(repo) if ".crew" in str(p)]) == 3
    lines = finish_run(repo, RUN, ws.branch)
    assert lines == ["removed 3 worktrees", "deleted 2 task branches"]
    assert [p for p in worktrees(repo) if ".crew" in str(p)] == []
    assert git("branch", "--list", "crew/*").split() == [ws.branch]
    git("merge", "-q", "--no-ff", "-m", "take it", ws.branch)
    git("branch", "-d", ws.branch)  # works: the branch is checked out nowhere


def test_a_dirty_worktree_is_kept_and_named(clean_repo: tuple[Path, Git]) -> None:
    repo, git = clean_repo
    ws, _ = finished_run(repo, git, "failed")
    (ws.task_path("docs") / "draft.txt").write_text("unsaved", encoding="utf-8")
    lines = finish_run(repo, RUN, ws.branch)
    assert lines[0] == "removed 2 worktrees"
    assert f"kept worktree {ws.task_path('docs').resolve()} (uncommitted changes)" in lines


def test_resume_and_show_find_the_run_from_any_directory(
        clean_repo: tuple[Path, Git], elsewhere: Path) -> None:
    repo, git = clean_repo
    _, d = finished_run(repo, git)
    assert index_path().is_relative_to(Path(os.environ["XDG_STATE_HOME"]))
    assert find_run_dir(RUN) == d.resolve()
    assert find_run_dir(RUN[:17]) == d.resolve()  # a unique prefix
    with pytest.raises(UserError) as e:
        find_run_dir("20991231-000000-ffff")
    assert "crew's index of runs" in str(e.value.problems[0].render())
    res = CliRunner().invoke(app, ["runs", "--json"])  # outside a repo: every indexed run
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.splitlines()[0])["run_id"] == RUN


def test_clean_removes_what_it_says_and_the_merged_branch(
        clean_repo: tuple[Path, Git], elsewhere: Path) -> None:
    repo, git = clean_repo
    ws, d = finished_run(repo, git)
    git("merge", "-q", "--no-ff", "-m", "take it", ws.branch)
    res = CliRunner().invoke(app, ["clean", RUN])
    assert res.exit_code == 0, res.output
    out = res.output
    for tb in (f"{ws.branch}--impl", f"{ws.branch}--docs"):
        assert f"deleted task branch {tb}" in out
    assert out.count("removed worktree ") == 3
    assert f"deleted branch {ws.branch} (merged into your HEAD)" in out
    assert f"removed run directory {d}" in out
    assert not d.exists() and not (repo / ".crew" / "worktrees" / RUN).exists()
    assert git("branch", "--list", "crew/*").strip() == ""
    assert [p for p in worktrees(repo) if ".crew" in str(p)] == []
    assert read_index() == []


def test_clean_keeps_an_unmerged_branch_and_asks_before_losing_work(
        clean_repo: tuple[Path, Git], elsewhere: Path) -> None:
    repo, git = clean_repo
    ws, d = finished_run(repo, git, "failed")
    (ws.task_path("docs") / "draft.txt").write_text("unsaved", encoding="utf-8")
    res = CliRunner().invoke(app, ["clean", RUN], input="")
    assert isinstance(res.exception, UserError) and d.exists()  # nothing removed: no yes
    said = res.exception.render()  # which run and why, not only "would lose work"
    assert f"{RUN} (uncommitted changes" in said and "--yes" in said, said
    assert "uncommitted changes will be lost" in res.output
    res = CliRunner().invoke(app, ["clean", RUN, "--yes"])
    assert res.exit_code == 0, res.output
    assert f"kept branch {ws.branch}: not merged into your HEAD" in res.output
    assert git("branch", "--list", "crew/*").split() == [ws.branch]
    assert not d.exists()


def test_clean_never_touches_a_run_in_progress(
        clean_repo: tuple[Path, Git], elsewhere: Path) -> None:
    repo, git = clean_repo
    _, d = finished_run(repo, git, "running")
    with run_lock(d):
        assert run_label(d, None) == "running"
        res = CliRunner().invoke(app, ["clean", RUN, "--yes"])
        assert isinstance(res.exception, UserError)  # main() makes it exit 2
        assert "is in progress" in res.exception.problems[0].render() and d.exists()
    assert run_label(d, None) == "failed to start"


def test_runs_names_plan_only_failed_to_start_and_interrupted(
        clean_repo: tuple[Path, Git]) -> None:
    repo, _ = clean_repo
    make = lambda rid, **kw: RunState(run_id=rid, feature_path="f.yaml",  # noqa: E731
                                      feature_title="F", repo=str(repo), **kw)
    for rid, state, plan in (("r-plan", make("r-plan", branch="crew/f-r-plan"), True),
                             ("r-ghost", make("r-ghost"), False),
                             ("r-killed", make("r-killed", branch="b", status="running"), False),
                             ("r-nostate", None, False)):
        d = run_dir(repo, rid)
        d.mkdir(parents=True)
        (d / "lock").write_text("")
        if state is not None:
            save_state(d, state)
        if plan:
            (d / "plan.json").write_text('{"tasks": []}')
    res = CliRunner().invoke(app, ["runs", "--repo", str(repo), "--json"])
    got = {r["run_id"]: r["status"] for r in map(json.loads, res.output.splitlines())}
    assert got == {"r-plan": "plan-only", "r-ghost": "failed to start",
                   "r-killed": "interrupted", "r-nostate": "failed to start"}
    res = CliRunner().invoke(app, ["clean", "--all-finished", "--repo", str(repo)])
    assert res.exit_code == 0, res.output
    assert not run_dir(repo, "r-ghost").exists() and not run_dir(repo, "r-nostate").exists()
    assert run_dir(repo, "r-plan").exists() and run_dir(repo, "r-killed").exists()
