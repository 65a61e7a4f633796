"""Issue 24, checked before start: a gate or a test command whose program the sandbox does not
have is exit 2 from `crew run` and `crew validate`, naming the program, the PATH it was looked
for in and the fix — with no model request, no run directory and no branch. A gate that exits
126/127 during a run stops it resumable, without a fix round."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from tool_project import make_project, run_crew

from crew.testing import StubReply, StubServer


def _branches(repo: Path) -> list[str]:
    return subprocess.run(["git", "-C", str(repo), "branch", "--format=%(refname:short)"],
                          capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", pytest.param("bwrap", marks=pytest.mark.bwrap),
                                     pytest.param("docker", marks=pytest.mark.docker)])
def test_a_gate_program_that_does_not_exist_is_exit_2_before_anything(
        tmp_path: Path, backend: str) -> None:
    from crew.tools.sandbox import backend_status

    if not backend_status(backend)[0]:
        pytest.skip(f"{backend} is unavailable")
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=[], extra={
            "acceptance": ["no-such-checker-xyz --strict"],
            "test_command": "python3 -m no_such_runner_xyz"})
        for cmd in (["run", str(feature), "--no-trace", "--sandbox", backend],
                    ["validate", str(feature), "--sandbox", backend]):
            if cmd[0] == "validate":  # validate takes the backend from the YAML
                spec = yaml.safe_load(feature.read_text())
                spec["sandbox"] = {"backend": backend}
                feature.write_text(yaml.safe_dump(spec, sort_keys=False))
                cmd = cmd[:2]
            res = run_crew(*cmd)
            out = res.stdout + res.stderr
            assert res.returncode == 2, out[-3000:]
            assert "Traceback" not in out
            assert (f"feature.yaml:13:3: acceptance[0].run: `no-such-checker-xyz --strict`: "
                    f"program 'no-such-checker-xyz' was not found inside the {backend} "
                    "sandbox (looked for in PATH=") in out
            assert "install 'no-such-checker-xyz' where the sandbox sees it" in out
            assert (f"test_command: `python3 -m no_such_runner_xyz`: Python module "
                    f"'no_such_runner_xyz' is not importable by 'python3' inside the {backend} "
                    "sandbox") in out
        assert stub.requests == []  # no model request
    repo = tmp_path / "repo"
    assert not (repo / ".crew" / "runs").exists()
    assert _branches(repo) == ["main"]


@pytest.mark.slow
def test_a_gate_exiting_127_during_the_run_stops_it_resumable_without_a_fix_round(
        tmp_path: Path) -> None:
    with StubServer() as stub:
        # the program exists when checked (sh), the command it runs does not
        feature = make_project(tmp_path, stub, tools=[], extra={
            "acceptance": ["sh -c 'vanished-tool-xyz --run'"]})
        stub.enqueue(StubReply.text("done"), model="worker")
        res = run_crew("run", str(feature), "--no-trace")
        out = res.stdout + res.stderr
        assert res.returncode == 1, out[-3000:]
        assert len(stub.requests) == 2  # the plan and the task: no fix round
    runs = list((tmp_path / "repo" / ".crew" / "runs").iterdir())
    state = json.loads((runs[0] / "state.json").read_text())
    assert state["status"] == "error" and state["fix_rounds"] == 0
    assert "GateCommandNotRunnable: gate `sh -c 'vanished-tool-xyz --run'` exited 127" \
        in state["stop_reason"]
    assert "fix-gates-1" not in state["tasks"]
    assert f"crew resume {runs[0].name}" in out


@pytest.mark.slow
def test_setup_programs_are_checked_and_setup_does_not_run_at_validation(
        tmp_path: Path) -> None:
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=[], extra={
            "setup": ["touch setup-ran && no-such-installer-xyz sync"],
            "acceptance": [".venv/bin/python -m pytest -q"]})  # made by setup: not checked
        res = run_crew("validate", str(feature))
        out = res.stdout + res.stderr
        assert res.returncode == 2, out[-3000:]
        assert ("setup[0]: `touch setup-ran && no-such-installer-xyz sync`: program "
                "'no-such-installer-xyz' was not found inside the local sandbox") in out
        assert ".venv/bin/python" not in out
        assert stub.requests == []
    assert not (tmp_path / "repo" / "setup-ran").exists()


@pytest.mark.slow
def test_each_field_naming_the_same_missing_program_is_its_own_problem(tmp_path: Path) -> None:
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=[], extra={
            "test_command": "no-such-runner-xyz -q",
            "acceptance": ["no-such-runner-xyz -q", "no-such-runner-xyz -q"]})
        res = run_crew("validate", str(feature))
    out = res.stdout + res.stderr
    assert res.returncode == 2, out[-3000:]
    lines = [ln.removeprefix("error: ").split(": ")[:2] for ln in out.splitlines()
             if "program 'no-such-runner-xyz' was not found" in ln]  # file:line:col, field
    assert [field for _, field in lines] == [
        "acceptance[0].run", "acceptance[1].run", "test_command"], out[-3000:]
    assert len({where for where, _ in lines}) == 3  # each at its own line
