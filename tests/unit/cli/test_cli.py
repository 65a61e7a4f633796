"""The CLI as a user types it: listing, showing, schema, init → validate, version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from crew import __version__
from crew.spec.library import builtin_library_dir
from shared_helpers import CliResult, crew_in_process

REPO = Path(__file__).parents[3]


def crew_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script as a user's shell runs it."""
    return subprocess.run([sys.executable, "-m", "crew", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})


def crew(*args: str, cwd: Path | None = None) -> CliResult:
    """The same command line in-process (crew.cli.app.main, what the console script calls)."""
    return crew_in_process(*args, cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def test_version() -> None:
    proc = crew_process("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"crew {__version__}"


def test_help_lists_commands() -> None:
    proc = crew_process("--help")
    assert proc.returncode == 0
    for cmd in ("validate", "roles", "patterns", "tasks", "crews", "schema", "init", "run", "plan",
                "resume", "runs", "show", "import"):
        assert cmd in proc.stdout


def test_validate_every_builtin_file() -> None:
    lib = builtin_library_dir()
    files = sorted(str(p) for d in ("roles", "patterns", "tasks", "crews")
                   for p in (lib / d).glob("*.yaml"))
    assert len(files) == 6 + 5 + 5 + 1
    proc = crew("validate", *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok ") == len(files)


def test_validate_every_example() -> None:
    features = sorted((REPO / "examples").glob("*/feature.yaml"))
    assert features, "examples/ holds at least one feature"
    others = [p for p in (REPO / "examples").rglob("*.yaml")
              if p.parent.name in ("roles", "patterns", "tasks", "crews") or p.name == "models.yaml"]
    proc = crew("validate", "--spec-only", *map(str, features + others))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("kind", ["role", "pattern", "task", "crew"])
def test_list_shows_builtins(kind: str) -> None:
    proc = crew(kind + "s")
    assert proc.returncode == 0, proc.stderr
    names = {"role": "security_analyst", "pattern": "supervisor_worker", "task": "write_tests",
             "crew": "software-team"}
    assert names[kind] in proc.stdout and "built-in" in proc.stdout


def test_show_one_and_suggest_unknown() -> None:
    proc = crew("roles", "reviewer")
    assert proc.returncode == 0 and "instructions:" in proc.stdout
    proc = crew("patterns", "debat")
    assert proc.returncode == 2 and "did you mean 'debate'" in proc.stderr


def test_local_entries_listed_first(tmp_path: Path) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "architect.yaml").write_text("title: A\ngoal: G\ninstructions: I\n")
    proc = crew("roles", "--dir", str(tmp_path))
    assert "architect" in proc.stdout and str(tmp_path) in proc.stdout


def test_schema_to_file_and_stdout(tmp_path: Path) -> None:
    out = tmp_path / "feature.schema.json"
    assert crew("schema", "feature", "-o", str(out)).returncode == 0
    schema = json.loads(out.read_text())
    assert schema["additionalProperties"] is False and "goal" in schema["required"]
    proc = crew("schema", "models")
    assert "model_list" in json.loads(proc.stdout)["properties"]
    assert crew("schema", "featur").returncode == 2


def test_schema_validates_example_features(tmp_path: Path) -> None:
    schema = json.loads(crew("schema", "feature").stdout)
    features = sorted((REPO / "examples").glob("*/feature.yaml"))
    assert features
    for f in features:
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"title": "x", "goal": "y", "budjet": {}}, schema)


@pytest.mark.parametrize("kind", ["role", "pattern", "task", "crew"])
def test_schema_validates_builtin_library(kind: str) -> None:
    schema = json.loads(crew("schema", kind).stdout)
    folder = builtin_library_dir() / {"role": "roles", "pattern": "patterns", "task": "tasks",
                                      "crew": "crews"}[kind]
    for f in folder.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)


def test_init_scaffolds_files_that_validate(tmp_path: Path) -> None:
    proc = crew("init", str(tmp_path / "proj"))
    assert proc.returncode == 0, proc.stderr
    proc = crew("validate", "--spec-only", "feature.yaml", "models.yaml",
                cwd=tmp_path / "proj")
    assert proc.returncode == 0, proc.stderr
    again = crew("init", str(tmp_path / "proj"))
    assert again.returncode == 2 and "--force" in again.stderr
    written = yaml.safe_load((tmp_path / "proj" / "feature.yaml").read_text())
    assert written["acceptance"] == [{"run": written["test_command"]}]


@pytest.mark.parametrize(("files", "expected"), [
    ({"go.mod": "module x\n"}, "go test ./..."),
    ({"pytest.ini": "[pytest]\n", ".venv/bin/python": ""}, ".venv/bin/python -m pytest -q"),
    ({"AGENTS.md": "Test command: `make check -j2`\n", "go.mod": ""}, "make check -j2"),
])
def test_init_writes_the_repositorys_test_command(tmp_path: Path, files: dict[str, str],
                                                  expected: str) -> None:
    """Regression (issue 24): `crew init` wrote `run: pytest -q` whatever the project."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    proc = crew("init", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    written = yaml.safe_load((tmp_path / "feature.yaml").read_text())
    assert written["test_command"] == expected
    assert written["acceptance"] == [{"run": expected}]


def test_a_crash_outside_a_run_says_so_and_keeps_its_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """Issue 31: a bug in crew is a one-line message naming the saved traceback, exit 1 —
    never a Python traceback on the terminal."""
    import crew.cli.typer_app as typer_app
    from crew.cli.app import main

    def app() -> None:
        raise KeyError("a bug in crew \x00")

    monkeypatch.setattr(typer_app, "app", app)
    monkeypatch.setattr(sys, "argv", ["crew", "runs"])
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: crew crashed (a bug in crew): KeyError: 'a bug in crew \\x00'")
    assert "Traceback" not in err
    saved = next(tmp_path.glob("crew-crash-*.txt"))
    assert str(saved) in err and "Traceback" in saved.read_text()
