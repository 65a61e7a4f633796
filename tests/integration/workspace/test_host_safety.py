"""crew's own git on the host runs nothing an agent (or the repo) put in hooks or config, the
staged diff of a commit is scanned for secrets, and after a run every change to the user's
refs, hooks and config that crew did not make is found. Real repositories, real git."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from crew.observability.redact import REDACTED
from crew.workspace import hostcheck
from crew.workspace.secrets import SecretInDiff
from crew.workspace.worktrees import Workspace

Git = Callable[..., str]


def make_repo(path: Path) -> Git:
    """A repository with one commit (the workspace conftest isolates the user's git config)."""
    path.mkdir(parents=True)

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True,
                              check=True).stdout

    git("init", "-q", "-b", "main")
    git("config", "user.name", "Ursula User")
    git("config", "user.email", "ursula@example.com")
    (path / "app.py").write_text("x = 1\ny = 2\nz = 3\n")
    (path / "util.py").write_text("def f():\n    return 1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    return git


HOOKS = ("pre-commit", "commit-msg", "post-commit", "post-checkout", "post-merge",
         "pre-merge-commit", "reference-transaction", "prepare-commit-msg")


def _arm(repo: Path, git: Git, markers: Path) -> None:
    """What an agent under `local` could do: hooks, fsmonitor, filter/textconv/merge drivers,
    an external diff — each would leave a marker file if it ever ran."""
    markers.mkdir()
    for hook in HOOKS:
        h = repo / ".git" / "hooks" / hook
        h.write_text(f"#!/bin/sh\ntouch {markers}/{hook}\n")
        h.chmod(h.stat().st_mode | stat.S_IXUSR)
    for key, value in {
        "core.fsmonitor": f"touch {markers}/fsmonitor; true",
        "filter.evil.clean": f"touch {markers}/clean; cat",
        "filter.evil.smudge": f"touch {markers}/smudge; cat",
        "filter.evil.required": "true",
        "diff.evil.textconv": f"touch {markers}/textconv; cat",
        "merge.evil.driver": f"touch {markers}/merge-driver; false",
        "diff.external": f"touch {markers}/external-diff; true",
    }.items():
        git("config", key, value)
    (repo / ".gitattributes").write_text("* filter=evil diff=evil merge=evil\n")
    git("-c", "core.hooksPath=/dev/null", "-c", "filter.evil.clean=", "-c",
        "filter.evil.required=false", "add", ".gitattributes")
    git("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "commit", "-qm", "attrs")
    for m in markers.iterdir():  # the arming itself used the user's git
        m.unlink()


def test_crews_git_runs_no_hook_fsmonitor_or_driver(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git = make_repo(repo)
    markers = tmp_path / "markers"
    _arm(repo, git, markers)
    ws = Workspace.create(repo, "20261201-000000-hook", "hooks")
    wt = ws.task_worktree("a")
    (wt.path / "app.py").write_text("x = 2\ny = 2\nz = 3\n")
    assert ws.commit_task("a", "A", "coder", "body") is not None
    assert isinstance(ws.merge_task("a"), str)
    (ws.path / "util.py").write_text("def f():\n    return 2\n")
    ws.commit_task("b", "B", "coder")
    ws.cleanup(force=True)
    assert sorted(p.name for p in markers.iterdir()) == []


def test_a_commit_with_a_secret_is_refused_and_messages_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-proj-Secret0123456789abcdefXYZ"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    repo = tmp_path / "repo"
    git = make_repo(repo)
    ws = Workspace.create(repo, "20261201-000000-scrt", "secrets")
    (ws.path / "config.py").write_text(f"KEY = '{secret}'\n")
    with pytest.raises(SecretInDiff, match=r"config.py: the value of OPENAI_API_KEY") as err:
        ws.commit_task("leak", "Leak", "coder")
    assert secret not in str(err.value)
    assert git("diff", "--cached", "--name-only").strip() == ""  # nothing left staged
    (ws.path / "config.py").write_text("import os\nKEY = os.environ['OPENAI_API_KEY']\n")
    sha = ws.commit_task("leak", "Leak", "coder", f"used the key {secret} as told")
    assert sha is not None
    message = git("log", "-1", "--format=%B", sha)
    assert secret not in message and REDACTED in message
    assert secret not in git("log", "-p", "--all")


def test_host_changes_crew_did_not_make_are_found(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git = make_repo(repo)
    git("config", "remote.origin.url", "https://user:hunter2-password@example.com/x.git")
    before = hostcheck.snapshot(repo)
    ws = Workspace.create(repo, "20261201-000000-host", "host check")
    (ws.path / "app.py").write_text("x = 9\n")
    ws.commit_task("t", "T", "coder")
    assert hostcheck.changes(before, hostcheck.snapshot(repo), ws.branch, ws.run_dir) == []
    # what an unconfined agent could do to the user's repository
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\ncurl evil\n")
    git("config", "core.fsmonitor", "touch /tmp/x")
    git("config", "remote.origin.url", "https://example.com/other.git")
    git("update-ref", "refs/heads/main", ws.head())
    git("tag", "sneaky")
    found = hostcheck.changes(before, hostcheck.snapshot(repo), ws.branch, ws.run_dir)
    text = "\n".join(found)
    assert f"{hook} (hook): added" in text
    assert ".git/config: core.fsmonitor (config): added" in text
    assert ".git/config: remote \"origin\".url (config): changed" in text
    assert "refs/heads/main (ref): moved" in text and "refs/tags/sneaky (ref): added" in text
    assert ws.branch not in text and "hunter2" not in text and "example.com" not in text
