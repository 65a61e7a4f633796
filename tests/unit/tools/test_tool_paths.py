"""Workspace confinement: escapes, symlinks and protected paths are refused with clear reasons."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crew.tools.base import ToolError
from crew.tools.paths import PathPolicy


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / ".git").mkdir()
    (root / ".env").write_text("API_KEY=sk-secret\n")
    return root


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../../etc/passwd", "outside the workspace"),
        ("src/../../x", "outside the workspace"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("~/.ssh/id_rsa", "'~' is not expanded"),
        (".git/config", "protected (.git)"),
        (".env", "protected (.env)"),
        ("sub/.env", "protected (.env)"),
        (".crew/runs/x/state.json", "protected (.crew)"),
        ("", "empty path"),
    ],
)
def test_refused_paths(ws: Path, path: str, why: str) -> None:
    with pytest.raises(ToolError) as e:
        PathPolicy(ws).resolve(path)
    assert why in str(e.value)


def test_symlink_out_of_the_workspace_is_refused(ws: Path) -> None:
    (ws / "etc").symlink_to("/etc")
    (ws / "passwd").symlink_to("/etc/passwd")
    policy = PathPolicy(ws)
    for p in ("etc/passwd", "passwd", "etc"):
        with pytest.raises(ToolError, match="through a symlink"):
            policy.resolve(p)


def test_symlink_to_a_protected_path_is_refused(ws: Path) -> None:
    (ws / "cfg").symlink_to(ws / ".git")
    with pytest.raises(ToolError, match=r"protected \(\.git\)"):
        PathPolicy(ws).resolve("cfg/config")


def test_allowed_paths_resolve_inside(ws: Path) -> None:
    policy = PathPolicy(ws)
    assert policy.resolve("src/app.py") == ws.resolve() / "src" / "app.py"
    assert policy.resolve("src/../src/app.py") == ws.resolve() / "src" / "app.py"
    assert policy.resolve("new/dir/file.txt") == ws.resolve() / "new" / "dir" / "file.txt"
    (ws / "link.py").symlink_to(ws / "src" / "app.py")
    assert policy.resolve("link.py") == ws.resolve() / "src" / "app.py"
    assert policy.relative(policy.resolve("src/app.py")) == "src/app.py"


def test_protected_patterns_are_configurable(ws: Path) -> None:
    policy = PathPolicy(ws, protected=("secrets/*.key", "*.pem"))
    policy.resolve(".env")  # no longer protected
    with pytest.raises(ToolError, match="protected"):
        policy.resolve("secrets/prod.key")
    with pytest.raises(ToolError, match="protected"):
        policy.resolve("deep/cert.pem")
    policy.resolve("other/prod.key")


def test_sandbox_masks_list_protected_top_level_entries(ws: Path) -> None:
    (ws / ".crew").mkdir()
    read_only, hidden = PathPolicy(ws).sandbox_masks()
    assert read_only == [".crew", ".git"]
    assert hidden == [".env"]
    os.remove(ws / ".env")
    (ws / ".git").rmdir()
    (ws / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git file stays read-only
    assert PathPolicy(ws).sandbox_masks() == ([".crew", ".git"], [])
