"""git works inside every backend on a real crew worktree, read-only: status, ls-files and
rev-parse answer; commit, hooks and config writes are refused and the repository is unchanged."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from sandbox_support import ALL, require_backend

from crew.workspace.worktrees import Workspace


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def worktree(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "u@example.com")
    _git(repo, "config", "user.name", "u")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "mod.py").write_text("X = 1\n")
    (repo / "README.md").write_text("hi\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    ws = Workspace.create(repo, "20261201-000000-abcd", "git inside")
    subprocess.run(["chmod", "-R", "a+rwX", str(tmp_path)], check=True)  # docker's uid
    return repo, ws.path


def _fingerprint(repo: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((repo / ".git").rglob("*")):
        if p.is_file() and p.name != "index":
            h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", ALL)
async def test_git_reads_work_and_writes_are_refused(
    name: str, worktree: tuple[Path, Path]
) -> None:
    repo, wt = worktree
    sb = require_backend(name)
    head = _git(repo, "rev-parse", "HEAD").strip()
    before = _fingerprint(repo)
    (wt / "new.txt").write_text("untracked\n")
    res = await sb.run("git status --porcelain && git ls-files && git rev-parse HEAD "
                       "&& git log --oneline -1", workspace=wt, timeout=60)
    assert res.ok, res.stderr
    assert "?? new.txt" in res.stdout
    assert "pkg/mod.py" in res.stdout and "README.md" in res.stdout
    assert head in res.stdout and "init" in res.stdout
    res = await sb.run(
        "git -c user.name=a -c user.email=a@b commit -qam x --allow-empty; echo commit=$?; "
        "echo 'echo pwned' > \"$(git rev-parse --git-common-dir)/hooks/pre-commit\"; "
        "echo hook=$?; git config core.fsmonitor 'touch /tmp/pwned'; echo config=$?",
        workspace=wt, timeout=60)
    assert "commit=0" not in res.stdout and "hook=0" not in res.stdout
    assert "config=0" not in res.stdout
    assert _git(repo, "rev-parse", "HEAD").strip() == head
    assert _fingerprint(repo) == before  # refs, hooks, config, objects: all unchanged


@pytest.mark.parametrize("name", ALL)
async def test_a_masked_tracked_file_is_not_shown_as_modified(name: str, tmp_path: Path) -> None:
    """Regression (issue 24): a tracked `.env` masked inside the sandbox showed as ` M .env` in
    `git status` there (an agent would "restore" it, or a reviewer ask why)."""
    from crew.tools.protect import commit_guard
    from crew.tools.sandbox.masks import protected_patterns

    sb = require_backend(name)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "app").mkdir()
    (repo / "app" / ".env").write_text("TOKEN=tracked-secret-value\n")
    (repo / "main.py").write_text("X = 1\n")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=u@e.com", "-c", "user.name=u", "commit", "-qm", "init")
    ws = Workspace.create(repo, "20261201-000000-abce", "masked")
    ws.masked = commit_guard(protected_patterns(None))
    wt = ws.task_worktree("t1").path
    subprocess.run(["chmod", "-R", "a+rwX", str(tmp_path)], check=True)  # docker's uid
    res = await sb.run("git status --porcelain; echo END; cat app/.env 2>/dev/null",
                       workspace=wt, timeout=60)
    assert res.stdout.split("END")[0].strip() == "", res.stdout + res.stderr
    assert "tracked-secret-value" not in res.stdout
    (wt / "main.py").write_text("X = 2\n")
    assert ws.commit_task("t1", "change", "coder") is not None
    assert _git(wt, "show", "--name-only", "--format=", "HEAD").split() == ["main.py"]
