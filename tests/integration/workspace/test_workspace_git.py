"""The git workspace on real repositories: commits per task, isolation of the user's tree,
refusal of unsafe repos, concurrent task merges with real conflicts, resume and cleanup."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.workspace.worktrees import MergeConflict, Workspace, WorkspaceError, feature_slug

Git = Callable[..., str]
Snap = Callable[[Path], dict[str, object]]
FEATURE = "Add CSV export to the todo CLI!"


def trailers(git: Git, ref: str) -> dict[str, str]:
    out = git("log", "-1", "--format=%(trailers:only,unfold)", ref)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def subjects(git: Git, rng: str) -> list[str]:
    return git("log", "--format=%s", rng).splitlines()


# ---------------------------------------------------------------- commits and isolation


def test_commit_per_task_with_trailers_and_role_author_leaves_user_tree_alone(
    user_repo: tuple[Path, Git], snapshot: Snap
) -> None:
    repo, git = user_repo
    before = snapshot(repo)
    base = git("rev-parse", "HEAD").strip()

    ws = Workspace.create(repo, "r1", FEATURE)
    assert ws.branch == "crew/add-csv-export-to-the-todo-cli-r1"
    assert ws.path.is_dir() and ws.path.is_relative_to(repo / ".crew")
    # The worktree starts from the committed HEAD, not the user's uncommitted edits.
    assert (ws.path / "util.py").read_text() == "def f():\n    return 1\n"

    (ws.path / "export.py").write_text("def export():\n    return 'csv'\n")
    (ws.path / "app.py").write_text("x = 10\ny = 2\nz = 3\n")
    first = ws.commit_task("export", "Write the exporter", "coder")
    (ws.path / "test_export.py").write_text("def test_export():\n    assert True\n")
    second = ws.commit_task("tests", "Test the exporter", "tester", body="Covers the happy path.")
    assert first and second and first != second

    assert git("rev-parse", ws.branch).strip() == second
    assert subjects(git, f"{base}..{ws.branch}") == [
        "crew: tests: Test the exporter",
        "crew: export: Write the exporter",
    ]
    assert git("log", "-1", "--format=%an <%ae>|%cn <%ce>", first).strip() == (
        "coder (crew) <coder@crew.invalid>|coder (crew) <coder@crew.invalid>"
    )
    assert git("log", "-1", "--format=%an", second).strip() == "tester (crew)"
    assert trailers(git, first) == {"Crew-Run": "r1", "Crew-Task": "export"}
    assert trailers(git, second) == {"Crew-Run": "r1", "Crew-Task": "tests"}
    assert "Covers the happy path." in git("log", "-1", "--format=%b", second)
    assert git("show", "--name-only", "--format=", first).split() == ["app.py", "export.py"]

    assert snapshot(repo) == before  # branch, HEAD, index, working tree, untracked, stash
    assert git("rev-parse", "HEAD").strip() == base


def test_a_task_that_changed_nothing_makes_no_commit(clean_repo: tuple[Path, Git]) -> None:
    repo, git = clean_repo
    ws = Workspace.create(repo, "r1", "noop")
    head = ws.head()
    # Caches left by running the tests are not a change and are never committed.
    (ws.path / "__pycache__").mkdir()
    (ws.path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00junk")
    (ws.path / ".pytest_cache").mkdir()
    (ws.path / ".pytest_cache" / "README.md").write_text("cache\n")
    assert ws.commit_task("look", "Only read files", "reviewer") is None
    assert ws.head() == head == git("rev-parse", "HEAD").strip()


def test_crew_dir_is_excluded_once_and_never_committed(
    user_repo: tuple[Path, Git], snapshot: Snap
) -> None:
    repo, git = user_repo
    before = snapshot(repo)
    ws = Workspace.create(repo, "r1", "feature one")
    Workspace.create(repo, "r2", "feature two")
    exclude = (repo / ".git" / "info" / "exclude").read_text()
    assert exclude.splitlines().count("/.crew/") == 1

    (ws.path / ".crew" / "runs").mkdir(parents=True)
    (ws.path / ".crew" / "runs" / "state.json").write_text("{}")
    (repo / ".crew" / "runs").mkdir()
    (repo / ".crew" / "runs" / "events.jsonl").write_text("{}\n")
    (ws.path / "feature.py").write_text("pass\n")
    sha = ws.commit_task("feature", "Add feature", "coder")
    assert sha is not None
    tracked = git("ls-tree", "-r", "--name-only", ws.branch).split()
    assert "feature.py" in tracked
    assert not [p for p in tracked if p.startswith(".crew")]
    assert snapshot(repo) == before  # .crew/ does not show up in the user's status


def test_base_can_be_another_branch(clean_repo: tuple[Path, Git]) -> None:
    repo, git = clean_repo
    git("branch", "release")
    git("commit", "-q", "--allow-empty", "-m", "later on main")
    ws = Workspace.create(repo, "r1", "fix", base="release")
    assert ws.head() == git("rev-parse", "release").strip()
    with pytest.raises(UserError, match="not a commit") as err:
        Workspace.create(repo, "r2", "fix", base="no-such-branch")
    assert "git branch -a" in str(err.value)


# ---------------------------------------------------------------- refusing unsafe repositories


def _conflicting_branches(repo: Path, git: Git) -> None:
    git("checkout", "-q", "-b", "other")
    (repo / "app.py").write_text("x = 'other'\n")
    git("commit", "-q", "-am", "other")
    git("checkout", "-q", "main")
    (repo / "app.py").write_text("x = 'main'\n")
    git("commit", "-q", "-am", "main")


def test_repo_mid_merge_is_refused(clean_repo: tuple[Path, Git]) -> None:
    repo, git = clean_repo
    _conflicting_branches(repo, git)
    git("merge", "other", check=False)
    assert (repo / ".git" / "MERGE_HEAD").exists()
    with pytest.raises(UserError, match="middle of a merge") as err:
        Workspace.create(repo, "r1", "feature")
    assert "git merge --abort" in str(err.value)
    assert not git("branch", "--list", "crew/*").strip()


def test_repo_mid_rebase_is_refused(clean_repo: tuple[Path, Git]) -> None:
    repo, git = clean_repo
    _conflicting_branches(repo, git)
    git("rebase", "other", check=False)
    with pytest.raises(UserError, match="middle of a rebase") as err:
        Workspace.create(repo, "r1", "feature")
    assert "git rebase --abort" in str(err.value)


def test_not_a_repo_missing_path_and_empty_repo_are_user_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UserError, match="not a git repository") as err:
        Workspace.create(plain, "r1", "feature")
    assert "git init" in str(err.value)
    with pytest.raises(UserError, match="does not exist"):
        Workspace.create(tmp_path / "missing", "r1", "feature")
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    with pytest.raises(UserError, match="no commits yet"):
        Workspace.create(tmp_path / "empty", "r1", "feature")


def test_invalid_run_id_is_a_user_error(clean_repo: tuple[Path, Git]) -> None:
    repo, _ = clean_repo
    for bad in ("", "a b", "../x", "a--b", "x" * 65):
        with pytest.raises(UserError, match="not a valid run id"):
            Workspace.create(repo, bad, "feature")


# ---------------------------------------------------------------- concurrent tasks


def _work(ws: Workspace, task_id: str, files: dict[str, str], role: str = "coder") -> str:
    wt = ws.task_worktree(task_id)
    assert ws.worktree_for(task_id) == wt.path
    for name, text in files.items():
        (wt.path / name).write_text(text)
    sha = ws.commit_task(task_id, f"Task {task_id}", role)
    assert sha is not None
    return sha


def test_concurrent_tasks_on_different_files_merge_cleanly(
    user_repo: tuple[Path, Git], snapshot: Snap
) -> None:
    repo, git = user_repo
    before = snapshot(repo)
    ws = Workspace.create(repo, "r1", FEATURE)
    jobs = {"models": {"models.py": "class Todo: ...\n"}, "cli": {"cli.py": "def main(): ...\n"}}
    with ThreadPoolExecutor(max_workers=2) as pool:
        shas = dict(zip(jobs, pool.map(lambda t: _work(ws, t, jobs[t]), jobs), strict=True))

    assert git("rev-parse", ws.task_branch("cli")).strip() == shas["cli"]
    assert ws.find_task_commit("cli") == shas["cli"]  # found on the task branch, pre-merge
    assert not ws.is_merged("cli")
    for task in ("models", "cli"):  # dependency order, as the scheduler gives it
        head = ws.merge_task(task)
        assert isinstance(head, str) and head == ws.head()
        assert trailers(git, head) == {"Crew-Run": "r1", "Crew-Merge": task}
        assert ws.is_merged(task)
    assert (ws.path / "models.py").exists() and (ws.path / "cli.py").exists()
    assert ws.merge_task("cli") == ws.head()  # merging again is a no-op
    assert ws.find_task_commit("models") == shas["models"]
    assert git("-C", str(ws.path), "status", "--porcelain") == ""
    assert snapshot(repo) == before


def test_real_conflict_is_reported_cleanly_then_resolved(
    clean_repo: tuple[Path, Git], snapshot: Snap, git_cli: Callable[[Path], Git]
) -> None:
    repo, git = clean_repo
    before = snapshot(repo)
    ws = Workspace.create(repo, "r1", "conflict")
    _work(ws, "left", {"app.py": "x = 'left'\ny = 2\nz = 3\n"})
    right_sha = _work(ws, "right", {"app.py": "x = 'right'\ny = 2\nz = 3\n", "new.py": "n = 1\n"})

    after_left = ws.merge_task("left")
    assert isinstance(after_left, str)
    conflict = ws.merge_task("right")
    assert isinstance(conflict, MergeConflict)
    assert conflict.task_id == "right" and conflict.paths == ("app.py",)
    assert conflict.ours == after_left and conflict.theirs == right_sha
    text = conflict.contents["app.py"]
    assert "<<<<<<<" in text and ">>>>>>>" in text
    assert "x = 'left'" in text and "x = 'right'" in text
    assert "x = 'right'" in conflict.diff
    assert "app.py" in conflict.render()

    wt_git = git_cli(ws.path)
    assert wt_git("status", "--porcelain") == ""  # merge aborted: integration is clean
    assert ws.head() == after_left
    assert not ws.is_merged("right")

    with pytest.raises(WorkspaceError, match="conflict markers"):
        ws.resolve(conflict, {"app.py": text})
    with pytest.raises(WorkspaceError, match="no resolution"):
        ws.resolve(conflict, {})
    assert wt_git("status", "--porcelain") == "" and ws.head() == after_left

    resolved = "x = 'left and right'\ny = 2\nz = 3\n"
    head = ws.resolve(conflict, {"app.py": resolved}, role="coder")
    assert head == ws.head() != after_left
    parents = git("log", "-1", "--format=%P", head).split()
    assert parents == [after_left, right_sha]
    assert git("show", f"{head}:app.py") == resolved
    assert git("show", f"{head}:new.py") == "n = 1\n"  # the task's clean changes came along
    assert git("log", "-1", "--format=%an|%s", head).strip() == (
        "coder (crew)|crew: merge right (conflicts resolved by coder)"
    )
    assert trailers(git, head) == {"Crew-Run": "r1", "Crew-Merge": "right"}
    assert ws.is_merged("right") and wt_git("status", "--porcelain") == ""
    assert snapshot(repo) == before


def test_resolve_refuses_when_integration_moved(clean_repo: tuple[Path, Git]) -> None:
    repo, _ = clean_repo
    ws = Workspace.create(repo, "r1", "moved")
    _work(ws, "a", {"app.py": "x = 'a'\n"})
    _work(ws, "b", {"app.py": "x = 'b'\n"})
    _work(ws, "c", {"other.py": "c = 1\n"})
    assert isinstance(ws.merge_task("a"), str)
    conflict = ws.merge_task("b")
    assert isinstance(conflict, MergeConflict)
    assert isinstance(ws.merge_task("c"), str)
    with pytest.raises(WorkspaceError, match="moved"):
        ws.resolve(conflict, {"app.py": "x = 'ab'\n"})
    again = ws.merge_task("b")
    assert isinstance(again, MergeConflict)
    assert isinstance(ws.resolve(again, {"app.py": "x = 'ab'\n"}), str)
    assert (ws.path / "app.py").read_text() == "x = 'ab'\n" and (ws.path / "other.py").exists()


# ---------------------------------------------------------------- resume and cleanup


def test_reopen_finds_the_workspace_and_never_duplicates_a_task_commit(
    clean_repo: tuple[Path, Git],
) -> None:
    repo, git = clean_repo
    ws = Workspace.create(repo, "r1", FEATURE)
    (ws.path / "a.txt").write_text("a\n")
    sha = ws.commit_task("write-a", "Write a", "coder")
    with pytest.raises(UserError, match="already has a workspace"):
        Workspace.create(repo, "r1", FEATURE)

    again = Workspace.open(repo, "r1")
    assert (again.branch, again.path, again.base) == (ws.branch, ws.path, ws.base)
    assert again.find_task_commit("write-a") == sha
    assert again.find_task_commit("write-b") is None
    (again.path / "a.txt").write_text("changed after the commit\n")
    assert again.commit_task("write-a", "Write a", "coder") == sha  # no second commit
    assert git("log", "--format=%H", "--grep=Crew-Task: write-a", again.branch).split() == [sha]

    same = Workspace.open_or_create(repo, "r1", FEATURE)
    assert same.branch == ws.branch and same.head() == sha
    other_run = Workspace.open_or_create(repo, "r2", FEATURE)
    assert other_run.branch == f"crew/{feature_slug(FEATURE)}-r2"
    assert other_run.find_task_commit("write-a") is None  # another run's trailer does not count
    with pytest.raises(UserError, match="no workspace for run"):
        Workspace.open(repo, "r9")

    # Without workspace.json the branch is found by the run id, or from the feature title.
    (ws.run_dir / "workspace.json").unlink()
    found = Workspace.open(repo, "r1")
    assert found.branch == ws.branch and found.find_task_commit("write-a") == sha
    (ws.run_dir / "workspace.json").unlink()
    assert Workspace.open(repo, "r1", FEATURE).branch == ws.branch


def test_cleanup_removes_worktrees_keeps_the_branch_and_reopen_restores_it(
    clean_repo: tuple[Path, Git],
) -> None:
    repo, git = clean_repo
    ws = Workspace.create(repo, "r1", "cleanup")
    sha_a = _work(ws, "a", {"a.py": "a = 1\n"})
    _work(ws, "b", {"b.py": "b = 1\n"})
    assert isinstance(ws.merge_task("a"), str)
    wt_b = ws.task_path("b")
    (wt_b / "dirty.txt").write_text("uncommitted\n")
    (ws.task_path("a") / "__pycache__").mkdir()  # caches alone do not keep a worktree
    (ws.task_path("a") / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")

    kept = ws.cleanup()
    assert kept == [wt_b]  # uncommitted work is not thrown away
    assert not ws.path.exists() and not ws.task_path("a").exists()
    assert git("branch", "--list", ws.task_branch("a")).strip() == ""  # merged: deleted
    assert git("branch", "--list", ws.task_branch("b")).strip() != ""  # unmerged: kept
    assert ws.cleanup(force=True) == [] and not wt_b.exists()
    listed = git("worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1
    assert git("rev-parse", ws.branch).strip() == ws.head()

    reopened = Workspace.open(repo, "r1")
    assert reopened.path.is_dir() and (reopened.path / "a.py").read_text() == "a = 1\n"
    assert reopened.find_task_commit("a") == sha_a
    assert git("status", "--porcelain") == ""


def test_import_does_not_load_gitpython() -> None:
    code = "import sys, crew.workspace.worktrees; print('git' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
