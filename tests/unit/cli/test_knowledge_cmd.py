"""`crew knowledge show|edit|clear`: on a real git repository, the editor a real process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.app import app
from crew.errors import UserError
from crew.run.knowledge_notes import parse
from shared_helpers import committed_repo

NOTES = "# Repository knowledge (crew)\n\n## Commands\n- `make test` runs the tests [run r1]\n"


def test_show_edit_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = committed_repo(tmp_path / "repo")
    cli = CliRunner()
    res = cli.invoke(app, ["knowledge", "show", "--repo", str(repo)])
    assert res.exit_code == 0 and "no notes yet" in res.stdout

    # edit: the template first, then the user's editor (a real process) adds an entry
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nwith open(sys.argv[1], 'a') as f:\n"
                      "    f.write('\\n## Pitfalls\\n- Run make deps before make lint\\n')\n")
    monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    res = cli.invoke(app, ["knowledge", "edit", "--repo", str(repo / "app.py")])
    assert res.exit_code == 0, res.output
    path = repo / ".crew" / "knowledge.md"
    assert f"{path}: 1 entry" in res.stdout
    assert [e.text for _, e in parse(path.read_text()).entries()] == [
        "Run make deps before make lint"]

    res = cli.invoke(app, ["knowledge", "show", "--repo", str(repo)])
    assert res.exit_code == 0 and "- Run make deps before make lint" in res.stdout

    res = cli.invoke(app, ["knowledge", "clear", "--repo", str(repo)])  # no terminal, no --yes
    assert isinstance(res.exception, UserError) and path.exists()
    res = cli.invoke(app, ["knowledge", "clear", "--repo", str(repo), "--yes"])
    assert res.exit_code == 0 and f"removed {path} (1 entry)" in res.stdout
    assert not path.exists()


def test_committed_notes_and_a_path_outside_a_repository(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo", {"CREW.md": NOTES})
    cli = CliRunner()
    res = cli.invoke(app, ["knowledge", "show", "--repo", str(repo), "--committed"])
    assert res.exit_code == 0 and "`make test` runs the tests" in res.stdout
    res = cli.invoke(app, ["knowledge", "show", "--repo", str(repo)])
    assert "no notes yet" in res.stdout  # .crew/knowledge.md, not CREW.md
    outside = tmp_path / "plain"
    outside.mkdir()
    res = cli.invoke(app, ["knowledge", "show", "--repo", str(outside)])
    assert isinstance(res.exception, UserError)
    assert "--repo:" in str(res.exception) and "not a git repository" in str(res.exception)
