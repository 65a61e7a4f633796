"""The README's two commands are what CI and a new user run: keep them true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _two_commands() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## The two commands"):]
    rows = re.findall(r"^\| ([^|]+) \| `([^`]+)` \|$", table, re.M)
    return {what.split(" (")[0].strip(): cmd for what, cmd in rows}


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    cmd = _two_commands()["the test suite"]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert cmd in ci_lines
    assert "uv " not in cmd  # a fresh machine has no uv


def test_the_commands_name_files_that_exist_and_crew_commands_that_exist() -> None:
    from typer.main import get_command

    from crew.cli.app import app

    names = set(get_command(app).commands)  # type: ignore[attr-defined]
    for what, cmd in _two_commands().items():
        for req in re.findall(r"-r (\S+)", cmd):
            assert (ROOT / req).is_file(), (what, req)
        for sub in re.findall(r"(?:^|&& )crew (\w+)", cmd):
            assert sub in names, (what, sub)
    assert "demo" in names


def test_the_readme_library_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """A new user copies it: it must run offline and print what its comment says."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("To run one pattern from your own code"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip() == "done use csv"


def test_dir_lists_the_lazy_exports() -> None:
    import crew
    import crew.llm

    assert {"LLM", "Debate", "builtin_roles", "pattern_context"} <= set(dir(crew))
    assert "LLM" in dir(crew.llm)
