"""Real git repositories in tmp dirs, made with the git CLI, for the workspace tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Git = Callable[..., str]


def git_in(repo: Path) -> Git:
    def run(*args: str, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    return run


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No host git config leaks in; the user identity exists only in the test repos."""
    cfg = tmp_path / "gitconfig"
    cfg.write_text("[init]\n\tdefaultBranch = main\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME",
                "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)


def make_repo(path: Path) -> Git:
    path.mkdir(parents=True, exist_ok=True)
    git = git_in(path)
    git("init", "-q")
    git("config", "user.name", "Ursula User")
    git("config", "user.email", "ursula@example.com")
    (path / "app.py").write_text("x = 1\ny = 2\nz = 3\n", encoding="utf-8")
    (path / "util.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    (path / "README.md").write_text("# app\n", encoding="utf-8")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    return git


@pytest.fixture
def clean_repo(tmp_path: Path) -> tuple[Path, Git]:
    repo = tmp_path / "clean"
    return repo, make_repo(repo)


@pytest.fixture
def user_repo(tmp_path: Path) -> tuple[Path, Git]:
    """A repo on a feature branch with a staged change, an unstaged edit and an untracked file."""
    repo = tmp_path / "user"
    git = make_repo(repo)
    git("checkout", "-q", "-b", "wip")
    (repo / "util.py").write_text("def f():\n    return 42  # staged\n", encoding="utf-8")
    git("add", "util.py")
    (repo / "app.py").write_text("x = 1\ny = 2\nz = 3\n# unstaged edit\n", encoding="utf-8")
    (repo / "notes.txt").write_text("untracked\n", encoding="utf-8")
    return repo, git


@pytest.fixture
def git_cli() -> Callable[[Path], Git]:
    return git_in


@pytest.fixture(name="snapshot")
def snapshot_fixture() -> Callable[[Path], dict[str, object]]:
    return snapshot


def snapshot(repo: Path) -> dict[str, object]:
    """Everything of the user's that crew must never touch."""
    git = git_in(repo)
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and not {".git", ".crew"} & set(p.relative_to(repo).parts)
    }
    return {
        "branch": git("symbolic-ref", "HEAD"),
        "head": git("rev-parse", "HEAD"),
        "status": git("status", "--porcelain", "--untracked-files=all"),
        "cached": git("diff", "--cached"),
        "unstaged": git("diff"),
        "files": files,
        "stash": git("stash", "list"),
    }
