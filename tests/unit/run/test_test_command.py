"""The project's test command (issue 24): the feature's or the crew's key, AGENTS.md's line,
detection from the repository's files, and how the roles are told it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crew.run.programs import Needed, programs_of
from crew.run.testcmd import (
    DEFAULT_TEST_COMMAND,
    choose_test_command,
    detect_test_command,
    with_test_command,
)
from crew.spec.resolve import resolve_feature


@pytest.mark.parametrize(("files", "expected"), [
    ({"pytest.ini": "[pytest]\n"}, ("python3 -m pytest -q", "pytest.ini")),
    ({"pyproject.toml": "[project]\nname='x'\n[tool.pytest.ini_options]\naddopts='-q'\n"},
     ("python3 -m pytest -q", "pyproject.toml")),
    ({"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\ntestpaths = t\n"},
     ("python3 -m pytest -q", "setup.cfg")),
    ({"tox.ini": "[tox]\n[pytest]\n"}, ("python3 -m pytest -q", "tox.ini")),
    ({"conftest.py": ""}, ("python3 -m pytest -q", "conftest.py")),
    ({"tests/test_app.py": "def test(): pass\n"}, ("python3 -m pytest -q", "tests/")),
    ({"package.json": '{"scripts": {"test": "vitest run"}}'}, ("npm test", "package.json")),
    ({"go.mod": "module x\n"}, ("go test ./...", "go.mod")),
    ({"Cargo.toml": "[package]\nname='x'\n"}, ("cargo test", "Cargo.toml")),
    ({"Makefile": "all:\n\ttrue\ntest: all\n\t./run-tests\n"}, ("make test", "Makefile")),
    ({"package.json": '{"scripts": {"build": "tsc"}}', "Makefile": "TEST := x\n"}, None),
    ({"pyproject.toml": "[project]\nname='x'\n", "tests/data.txt": "x"}, None),
])
def test_detected_from_the_repository_files(tmp_path: Path, files: dict[str, str],
                                            expected: tuple[str, str] | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert detect_test_command(tmp_path, env={}) == expected


def test_pytest_runs_through_the_active_interpreter(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")
    assert detect_test_command(tmp_path, env={})[0] == ".venv/bin/python -m pytest -q"  # type: ignore[index]
    venv = tmp_path / "my env"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    found = detect_test_command(tmp_path, env={"VIRTUAL_ENV": str(venv)})
    assert found == (f"'{venv}/bin/python' -m pytest -q", "pytest.ini")


def _feature(tmp_path: Path, feature_cmd: str | None, crew_cmd: str | None) -> Path:
    (tmp_path / "crews").mkdir()
    crew = {"supervisor": "supervisor", "members": ["coder"], "patterns": ["single"],
            **({"test_command": crew_cmd} if crew_cmd else {})}
    (tmp_path / "crews" / "team.yaml").write_text(yaml.safe_dump(crew))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/x"}} for a in ("smart", "fast")]}))
    feature = {"title": "t", "goal": "g", "crew": "team", "models": "models.yaml",
               **({"test_command": feature_cmd} if feature_cmd else {})}
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump(feature))
    return tmp_path / "feature.yaml"


def test_feature_wins_over_crew_over_agents_md_over_detection(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "go.mod").write_text("module x\n")
    resolved = resolve_feature(_feature(tmp_path, "make check", "tox -q"))
    assert choose_test_command(resolved, repo, env={}).command == "make check"
    resolved.feature.spec.test_command = None
    assert choose_test_command(resolved, repo, env={}).command == "tox -q"
    resolved.crew.spec.test_command = None
    assert choose_test_command(resolved, repo, env={}).source == "go.mod"
    (repo / "AGENTS.md").write_text("# Conventions\n\n- **Test command:** `just test -q`\n")
    chosen = choose_test_command(resolved, repo, env={})
    assert (chosen.command, chosen.source) == ("just test -q", "AGENTS.md")
    (repo / "AGENTS.md").unlink()
    (repo / "go.mod").unlink()
    assert choose_test_command(resolved, repo, env={}).command == DEFAULT_TEST_COMMAND


def test_the_roles_are_told_the_test_command() -> None:
    assert with_test_command(None, "npm test").endswith("`npm test` runs the project's tests "
                                                        "(the run_tests tool runs it).")
    both = with_test_command("## Repository conventions (AGENTS.md)\nBe nice.", "go test ./...")
    assert both.startswith("## Repository conventions") and "`go test ./...`" in both


@pytest.mark.parametrize(("command", "expected"), [
    ("pytest -q", [Needed("pytest")]),
    ("cd pkg && ./run.sh", []),
    ("FOO=1 env -i python3 -m pytest -q 2>&1 | tee log", [Needed("python3", "pytest"),
                                                          Needed("tee")]),
    ("if [ -f x ]; then cargo test; fi", [Needed("cargo")]),
    ("$HOME/bin/tool", []),
    ("echo 'a && b' > out.txt", []),
    (".venv/bin/python -m pytest", [Needed(".venv/bin/python", "pytest")]),
    ("unbalanced 'quote", []),
    # loop variables, case words and patterns are not programs (eval-real's minimist gate)
    ('rc=0; for f in test/*.js; do case " test/proto.js " in *" $f "*) continue;; esac; '
     'node "$f" || rc=1; done; exit $rc', [Needed("node")]),
    ("case $X in a) make a;; b|c) cargo test;; esac; npm test",
     [Needed("make"), Needed("cargo"), Needed("npm")]),
])
def test_programs_of_a_command(command: str, expected: list[Needed]) -> None:
    assert programs_of(command) == expected
