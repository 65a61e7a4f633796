"""The built-in file, search and git tools against real files and a real git repo."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crew.llm.types import ToolCall
from crew.tools import OutcomeStatus, ToolContext, ToolOutcome, ToolRegistry


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "app.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (root / "README.md").write_text("# demo\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "util.py").write_text("X = 1  # TODO tidy\n")
    (root / ".env").write_text("OPENAI_API_KEY=sk-planted-secret\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "junk.pyc").write_bytes(b"\0\1")
    subprocess.run([*git, "add", "app.py", "README.md", "pkg"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return root


async def run(ws: Path, name: str, **args: Any) -> ToolOutcome:
    reg = ToolRegistry.builtin()
    return await reg.invoke(ToolCall("c", name, json.dumps(args)), ToolContext(ws))


async def test_read_file_with_line_ranges(ws: Path) -> None:
    full = await run(ws, "read_file", path="app.py")
    assert full.output.splitlines()[0] == "1\tdef add(a, b):"
    part = await run(ws, "read_file", path="app.py", start_line=5, end_line=6)
    assert part.output == "5\tdef sub(a, b):\n6\t    return a - b\n[lines 5-6 of 6]"
    beyond = await run(ws, "read_file", path="app.py", start_line=50)
    assert beyond.is_error and "has only 6 lines" in beyond.output
    missing = await run(ws, "read_file", path="nope.py")
    assert missing.is_error and "does not exist" in missing.output


async def test_read_file_long_files_are_cut_at_a_line(ws: Path) -> None:
    (ws / "big.txt").write_text("".join(f"line {i}\n" for i in range(5000)))
    reg = ToolRegistry.builtin()
    out = await reg.invoke(
        ToolCall("c", "read_file", '{"path": "big.txt"}'), ToolContext(ws, output_chars=2000)
    )
    assert "[... truncated at line" in out.output and "read from start_line=" in out.output
    assert len(out.output) <= 2100


async def test_write_and_edit(ws: Path) -> None:
    out = await run(ws, "write_file", path="new/mod.py", content="A = 1\nB = 2\nA = 1\n")
    assert out.status is OutcomeStatus.OK and "created new/mod.py" in out.output
    assert (ws / "new" / "mod.py").read_text() == "A = 1\nB = 2\nA = 1\n"
    ambiguous = await run(ws, "edit_file", path="new/mod.py", old_text="A = 1", new_text="A = 3")
    assert ambiguous.is_error and "matches 2 places" in ambiguous.output
    missing = await run(ws, "edit_file", path="new/mod.py", old_text="C = 1", new_text="C = 2")
    assert missing.is_error and "was not found" in missing.output
    indent = await run(ws, "edit_file", path="app.py", old_text="return a + b", new_text="x")
    assert indent.status is OutcomeStatus.OK  # exact substring, indentation not required
    ok = await run(ws, "edit_file", path="new/mod.py", old_text="B = 2", new_text="B = 5")
    assert ok.status is OutcomeStatus.OK
    every = await run(ws, "edit_file", path="new/mod.py", old_text="A = 1", new_text="A = 0",
                      replace_all=True)
    assert "replaced 2 occurrence(s)" in every.output
    assert (ws / "new" / "mod.py").read_text() == "A = 0\nB = 5\nA = 0\n"


async def test_edit_hint_points_at_a_whitespace_mismatch(ws: Path) -> None:
    out = await run(ws, "edit_file", path="app.py", old_text="def add(a, b):\n  return a + b",
                    new_text="x")
    assert out.is_error and "appears at line 1" in out.output


async def test_list_files_hides_protected_and_junk(ws: Path) -> None:
    out = await run(ws, "list_files")
    lines = out.output.splitlines()
    assert "app.py" in lines and "pkg/" in lines and "pkg/util.py" in lines
    assert not any(x.startswith((".git", ".env", "__pycache__")) for x in lines)
    flat = await run(ws, "list_files", recursive=False)
    assert "pkg/util.py" not in flat.output.splitlines()
    capped = await run(ws, "list_files", max_entries=2)
    assert "more entries" in capped.output


@pytest.mark.parametrize("ripgrep", [False, True])
async def test_search_code(ws: Path, ripgrep: bool, monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    if ripgrep and not shutil.which("rg"):
        pytest.skip("ripgrep is not installed")
    if not ripgrep:  # a machine without ripgrep: the Python search
        monkeypatch.setenv("PATH", str(tmp_path / "no-rg"))
    out = await run(ws, "search_code", pattern=r"def \w+\(a")
    assert sorted(out.output.splitlines()) == ["app.py:1:def add(a, b):", "app.py:5:def sub(a, b):"]
    secret = await run(ws, "search_code", pattern="sk-planted")
    assert secret.output == "no matches for 'sk-planted'"  # .env is protected
    todo = await run(ws, "search_code", pattern="todo", ignore_case=True, glob="*.py")
    assert todo.output == "pkg/util.py:1:X = 1  # TODO tidy"
    capped = await run(ws, "search_code", pattern="a", max_results=1)
    assert "more than 1 matches" in capped.output
    bad = await run(ws, "search_code", pattern="(unclosed")
    assert bad.is_error and "invalid regular expression" in bad.output


async def test_git_status_and_diff(ws: Path) -> None:
    # the untracked .env is protected: named, never shown
    assert (await run(ws, "git_diff")).output == "(no changes)\n(protected, not shown: .env)"
    (ws / "app.py").write_text((ws / "app.py").read_text().replace("a + b", "b + a"))
    (ws / "notes.txt").write_text("x\n")
    status = await run(ws, "git_status")
    assert status.output.splitlines()[0].startswith("## main")
    assert " M app.py" in status.output and "?? notes.txt" in status.output
    diff = await run(ws, "git_diff")
    assert "-    return a + b" in diff.output and "+    return b + a" in diff.output
    assert "+++ b/notes.txt" in diff.output and "sk-planted" not in diff.output
    only = await run(ws, "git_diff", path="README.md")
    assert only.output == "(no changes)"
    stat = await run(ws, "git_diff", stat=True)
    assert "app.py" in stat.output and "notes.txt" in stat.output
    assert "2 files changed" in stat.output
    refused = await run(ws, "git_diff", path="../x")
    assert refused.is_error and "outside the workspace" in refused.output
    bad = await run(ws, "git_diff", base="--output=/tmp/pwned")
    assert bad.is_error and not Path("/tmp/pwned").exists()


async def test_git_diff_shows_the_whole_change_since_the_task_base(ws: Path) -> None:
    """Regression (issue 24): a reviewer's git_diff said "(no changes)" when the coder had
    created files (untracked) or when the work was committed already."""
    base = subprocess.run(["git", "-C", str(ws), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (ws / "committed.py").write_text("DONE = 1\n")
    git = ["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "committed.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "part one"], check=True)
    (ws / "created.py").write_text("NEW = 2\n")
    reg = ToolRegistry.builtin()
    ctx = ToolContext(ws, diff_base=base)
    out = await reg.invoke(ToolCall("c", "git_diff", "{}"), ctx)
    assert "+++ b/created.py" in out.output and "+NEW = 2" in out.output
    assert "+++ b/committed.py" in out.output and "+DONE = 1" in out.output
    index = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True,
                           check=True).stdout
    assert "?? created.py" in index  # the real index is untouched
    staged = await reg.invoke(ToolCall("c", "git_diff", '{"staged": true}'), ctx)
    assert staged.output == "(no changes)"


async def test_git_tools_outside_a_repo(tmp_path: Path) -> None:
    out = await run(tmp_path, "git_status")
    assert out.is_error and "not a git repository" in out.output
