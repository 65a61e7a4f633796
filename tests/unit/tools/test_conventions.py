"""A repo's conventions file: which one, how much of it, and never through a symlink out of
the repo, a protected path or with a secret in it."""

from __future__ import annotations

from pathlib import Path

from crew.observability.redact import register_secrets
from crew.tools.conventions import CONVENTIONS_CHARS, read_conventions, with_conventions


def test_agents_md_wins_then_claude_then_contributing(tmp_path: Path) -> None:
    assert read_conventions(tmp_path) is None
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "CONTRIBUTING.md").write_text("Use tox.\n")
    assert read_conventions(tmp_path) == "## Repository conventions (.github/CONTRIBUTING.md)\nUse tox."
    (tmp_path / "CONTRIBUTING.md").write_text("Run make test.\n")
    (tmp_path / "CLAUDE.md").write_text("See AGENTS.md\n")
    assert "(CLAUDE.md)\nSee AGENTS.md" in str(read_conventions(tmp_path))
    (tmp_path / "AGENTS.md").write_text("  \n")  # empty: skipped
    assert "(CLAUDE.md)" in str(read_conventions(tmp_path))
    (tmp_path / "AGENTS.md").write_text("pytest -q\n")
    assert read_conventions(tmp_path) == "## Repository conventions (AGENTS.md)\npytest -q"


def test_a_long_file_is_cut_with_a_pointer_to_the_rest(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").write_text("".join(f"rule {i}: be kind\n" for i in range(2000)))
    text = str(read_conventions(tmp_path))
    assert len(text) < CONVENTIONS_CHARS + 100 and text.endswith("read AGENTS.md for the rest]")
    assert "rule 10: be kind\n" in text and "rule 1999" not in text


def test_symlinks_out_protected_paths_and_secrets(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("host secrets\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "AGENTS.md").symlink_to(outside)
    assert read_conventions(repo) is None  # refused: it resolves outside the repo
    (repo / "AGENTS.md").unlink()
    (repo / "AGENTS.md").write_text("docs\n")
    assert read_conventions(repo, protected=("AGENTS.md",)) is None
    key = "sk-" + "conventionsecret1234567890"
    register_secrets([key])
    (repo / "AGENTS.md").write_text(f"export OPENAI_API_KEY={key}\n")
    text = str(read_conventions(repo))
    assert key not in text and "[REDACTED]" in text


def test_conventions_come_first() -> None:
    assert with_conventions("You are the Coder.", None) == "You are the Coder."
    assert with_conventions("You are the Coder.", "## C\nx\n") == "## C\nx\n\nYou are the Coder."
