"""`import crew` is the library's front door: small, lazy, and every advertised name works."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import crew

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "todo-csv"


def test_every_public_name_resolves() -> None:
    for name in crew.__all__:
        assert getattr(crew, name) is not None, name
    assert crew.Debate.kind == "debate" and crew.ReviewLoop.kind == "review_loop"
    assert issubclass(crew.BudgetExceeded, crew.CrewRuntimeError)
    with pytest.raises(AttributeError):
        _ = crew.NoSuchThing  # type: ignore[attr-defined]


def test_import_crew_loads_nothing_heavy() -> None:
    code = textwrap.dedent("""
        import sys, crew
        heavy = [m for m in ("pydantic", "yaml", "litellm", "langfuse", "docker", "git", "rich",
                             "typer", "crew.spec", "crew.llm") if m in sys.modules]
        assert not heavy, heavy
        crew.Outcome  # first use imports the module
        assert "crew.patterns.base" in sys.modules and "litellm" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_feature_resolves_the_demo_and_reports_bad_input(tmp_path: Path) -> None:
    feature = crew.load_feature(EXAMPLE / "feature.yaml")
    assert feature.feature.spec.title and "coder" in feature.roles
    bad = tmp_path / "feature.yaml"
    bad.write_text("title: x\ngoal: y\ncrew: software-team\nbudjet: {usd: 1}\n")
    with pytest.raises(crew.UserError) as e:
        crew.load_feature(bad)
    problem = e.value.problems[0]
    assert problem.file == str(bad) and problem.line == 4 and "budget" in (problem.hint or "")


def test_run_refuses_bad_input_before_creating_anything(tmp_path: Path) -> None:
    bad = tmp_path / "feature.yaml"
    bad.write_text("title: x\ngoal: y\ncrew: no-such-crew\n")
    with pytest.raises(crew.UserError, match="no-such-crew"):
        crew.run_feature(bad, repo=tmp_path)
    assert not (tmp_path / ".crew").exists()
