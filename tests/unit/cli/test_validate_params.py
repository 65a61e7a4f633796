"""`crew validate` and `crew run` refuse bad pattern params and engine/kind mismatches: exit 2
with file:line, before any run directory, branch, worktree or model call exists."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shared_helpers import CliResult, crew_in_process

MODELS = """\
model_list:
  - model_name: smart
    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', api_key: k}
  - model_name: fast
    litellm_params: {model: openai/y, api_base: 'http://127.0.0.1:9/v1', api_key: k}
"""
FEATURE = """\
title: Pick a format
goal: Decide the export format.
models: models.yaml
tasks:
  - id: decide
    title: Decide
    pattern: debate
    roles: [coder, reviewer]
    params:
      rouns: 3
  - id: code
    title: Code
    pattern: debate
    roles: [coder, reviewer]
    engine: crewia
    params: {rounds: 50}
"""


def crew(*args: str, cwd: Path) -> CliResult:
    return crew_in_process(*args, cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def project(tmp_path: Path) -> Path:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "feature.yaml").write_text(FEATURE)
    (tmp_path / "README.md").write_text("demo\n")
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"],
                ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"]):
        subprocess.run(["git", *cmd], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


EXPECTED = [
    "feature.yaml:10:7: tasks[0].params.rouns: unknown field 'rouns' (did you mean 'rounds'?)",
    "feature.yaml:15:13: tasks[1].engine:",
    "unknown engine 'crewia' (did you mean 'crewai'?)",
    "feature.yaml:16:22: tasks[1].params.rounds: Input should be less than or equal to 10",
]


def test_validate_rejects_bad_params_and_engine(tmp_path: Path) -> None:
    proc = crew("validate", "feature.yaml", cwd=project(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "ok " not in proc.stdout
    for text in EXPECTED:
        assert text in proc.stderr, proc.stderr
    # the three spec problems, and (issue 26: every stage at once) the stub's closed port
    assert proc.stderr.count("error: ") == 5
    assert proc.stderr.count("the model server at http://127.0.0.1:9/v1 is unreachable") == 2


def test_run_refuses_before_anything_exists(tmp_path: Path) -> None:
    root = project(tmp_path)
    proc = crew("run", "feature.yaml", "--no-trace", "--sandbox", "local", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for text in EXPECTED:
        assert text in proc.stderr, proc.stderr
    assert not (root / ".crew").exists()  # no run directory, no worktree
    branches = subprocess.run(["git", "branch", "--format=%(refname:short)"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.split()
    assert branches == ["main"]


def test_validate_warns_when_an_engine_package_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crew.cli.app import app
    from crew.patterns.checks import RegistryKinds
    from crew.patterns.engines import EngineRegistry, EngineSpec

    engines = EngineRegistry(entry_points=False)
    engines.register(EngineSpec("autogen", kinds=("debate",), requires="no_such_module_here",
                                package="autogen-agentchat", extra="autogen"))
    monkeypatch.setattr("crew.patterns.checks.pattern_kinds",
                        lambda **_kw: RegistryKinds(engines=engines))
    (tmp_path / "models.yaml").write_text(MODELS)
    f = tmp_path / "feature.yaml"
    f.write_text(FEATURE.split("tasks:")[0] + "tasks:\n  - id: d\n    title: D\n"
                 "    pattern: debate\n    roles: [coder, reviewer]\n    engine: autogen\n")
    with pytest.raises(SystemExit) as e:
        app(["validate", "--spec-only", str(f)])
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert f"warning: {f}:9:13: tasks[0].engine:" in err and "crew[autogen]" in err
