"""Failures before or outside the model's work are named precisely, with a documented exit
code, and leave no branch, worktree or run behind (issue 26, item 5). Whole `crew` processes
on real git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import crew_env, git

from crew.testing.otlp_receiver import closed_port
from shared_helpers import CliResult, crew_in_process

pytestmark = pytest.mark.slow


def crew(*args: str, cwd: Path, input: str | None = None) -> CliResult:
    """`crew ARGS` in-process (crew.cli.app.main), stdin `input` on a pipe else /dev/null."""
    env = {**crew_env(), "XDG_STATE_HOME": str(cwd / ".state"), "COLUMNS": "200"}
    return crew_in_process(*args, cwd=cwd, env=env, input=input)


def nothing_left(repo: Path) -> None:
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]
    assert not (repo / ".crew" / "runs").exists() or not any((repo / ".crew" / "runs").iterdir())
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_an_unreachable_model_server_is_exit_6_naming_alias_url_and_fix(demo: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    (demo.parent / "down.yaml").write_text(
        "model_list:\n"
        f"  - model_name: smart\n    litellm_params: {{model: openai/x, api_base: '{url}', "
        "api_key: k, input_cost_per_token: 0, output_cost_per_token: 0}\n"
        f"  - model_name: fast\n    litellm_params: {{model: openai/y, api_base: '{url}', "
        "api_key: k, input_cost_per_token: 0, output_cost_per_token: 0}\n")
    res = crew("run", str(demo), "--models", "down.yaml", "--no-trace", cwd=demo.parent)
    assert res.returncode == 6, res.stdout + res.stderr
    for alias in ("smart", "fast"):
        assert f"alias {alias!r}: the model server at {url} is unreachable" in res.stderr
    assert "down.yaml:3:" in res.stderr and "start the server" in res.stderr
    assert "Traceback" not in res.stderr
    nothing_left(demo.parent / "project")


def test_approve_plan_without_a_terminal_is_exit_2_and_starts_nothing(demo: Path) -> None:
    res = crew("run", str(demo), "--no-trace", "--approve-plan", cwd=demo.parent)  # /dev/null
    assert res.returncode == 2, res.stdout + res.stderr
    assert "--approve-plan" in res.stderr and "no terminal" in res.stderr
    assert "Aborted" not in res.stdout + res.stderr
    nothing_left(demo.parent / "project")


@pytest.mark.parametrize("answers", ["", "maybe\n"], ids=["empty", "closed-mid-prompt"])
def test_approve_plan_whose_input_ends_is_exit_2_and_leaves_nothing(demo: Path,
                                                                     answers: str) -> None:
    """A pipe that ends before the plan is answered (`printf '' | crew run --approve-plan`, or
    an answer it does not take and then the end): no decision was made, so it is bad input like
    a closed stdin, not a rejected run left behind (issue 26)."""
    res = crew("run", str(demo), "--no-trace", "--approve-plan", cwd=demo.parent,
               input=answers)
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
    assert "--approve-plan" in res.stderr and "input ended" in res.stderr
    assert "Aborted" not in res.stdout + res.stderr and "Traceback" not in res.stderr
    assert "plan rejected" not in res.stdout + res.stderr
    nothing_left(demo.parent / "project")
    assert not (demo.parent / "project" / ".crew" / "worktrees").exists() or not any(
        (demo.parent / "project" / ".crew" / "worktrees").iterdir())
    index = demo.parent / ".state" / "crew" / "runs.jsonl"  # `crew runs` lists no ghost
    assert not index.exists() or not index.read_text().strip()


def test_the_demo_runs_without_docker_or_bubblewrap_and_says_so(tmp_path: Path) -> None:
    """README's first command on a machine with neither: the demo's own commands run with
    the local sandbox, said plainly; the run passes. A rerun in the same folder after a
    failure runs it again instead of refusing the folder."""
    bin_dir = tmp_path / "bin"  # PATH as on such a machine: no bwrap, no docker
    bin_dir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        for exe in Path(d).glob("*") if Path(d).is_dir() else []:
            if exe.name not in ("bwrap", "docker") and not (bin_dir / exe.name).exists():
                (bin_dir / exe.name).symlink_to(exe)
    env = {**crew_env(), "PATH": str(bin_dir), "DOCKER_HOST": "unix:///nonexistent/docker.sock",
           "XDG_STATE_HOME": str(tmp_path / "state")}
    dest = tmp_path / "crew-demo"
    # a new process: crew looks for bwrap and Docker once per process
    res = subprocess.run([sys.executable, "-m", "crew", "demo", str(dest), "--no-trace"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "neither Docker nor bubblewrap" in out and "--sandbox local" in out
    assert "sandbox: local" in out


def test_resume_with_its_model_server_down_is_exit_6_and_leaves_the_run_as_it_was(
        demo: Path) -> None:
    repo = demo.parent / "project"
    res = crew("run", str(demo), "--no-trace", "--plan-only", cwd=demo.parent)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (run_dir,) = (repo / ".crew" / "runs").iterdir()
    before = (run_dir / "state.json").read_text()
    url = f"http://127.0.0.1:{closed_port()}/v1"
    (demo.parent / "models.yaml").write_text(
        "model_list:\n"
        f"  - model_name: smart\n    litellm_params: {{model: openai/x, api_base: '{url}', "
        "api_key: k, input_cost_per_token: 0, output_cost_per_token: 0}\n"
        f"  - model_name: fast\n    litellm_params: {{model: openai/y, api_base: '{url}', "
        "api_key: k, input_cost_per_token: 0, output_cost_per_token: 0}\n")
    res = crew("resume", run_dir.name, "--repo", str(repo), "--no-trace", cwd=demo.parent)
    assert res.returncode == 6, res.stdout[-2000:] + res.stderr[-2000:]
    assert f"the model server at {url} is unreachable" in res.stderr
    assert (run_dir / "state.json").read_text() == before
