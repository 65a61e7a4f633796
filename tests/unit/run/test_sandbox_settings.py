"""The `sandbox:` section of a crew and a feature and the flags: merged (feature over crew,
flags over both), validated with file:line errors, and refused before any run dir exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from crew.errors import UserError
from crew.run.launch import RunOptions, start_run
from crew.spec.models import SandboxSpec, merge_sandbox


def test_feature_wins_over_crew_and_flags_over_both() -> None:
    crew = SandboxSpec(memory_mb=4096, pids=512)
    feature = SandboxSpec(pids=128, network=True)
    merged = merge_sandbox("bwrap", crew, feature, {"cpus": 1.5, "memory_mb": None})
    assert merged == SandboxSpec(backend="bwrap", memory_mb=4096, cpus=1.5, pids=128,
                                 timeout_s=600, network=True)
    assert merge_sandbox("auto").model_dump() == {
        "backend": "auto", "memory_mb": 2048, "cpus": 2.0, "pids": 256, "timeout_s": 600,
        "network": False, "protected": None, "share": None, "mounts": [], "image": None,
        "setup_network": False}


@pytest.mark.parametrize("bad", [{"memory_mb": 0}, {"pids": 4}, {"cpus": -1},
                                 {"protected": ["../x"]}, {"swap": 1}, {"share": ["/abs"]},
                                 {"mounts": ["rel/path"]}])
def test_bad_values_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SandboxSpec.model_validate(bad)


def _project(tmp_path: Path, sandbox: object = None) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "i"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                       check=True)
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/s", "replay_script": "r.yaml"}}
        for a in ("smart", "fast")]}))
    (tmp_path / "r.yaml").write_text("answers: []\n")
    feature = {"title": "T", "goal": "G", "repo": "repo", "models": "models.yaml"}
    if sandbox is not None:
        feature["sandbox"] = sandbox
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump(feature, sort_keys=False))
    return tmp_path / "feature.yaml"


def _nothing_made(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert not (repo / ".crew").exists()
    refs = subprocess.run(["git", "for-each-ref"], cwd=repo, capture_output=True, text=True)
    assert "crew/" not in refs.stdout


def test_a_bad_section_names_file_line_and_field(tmp_path: Path) -> None:
    feature = _project(tmp_path, {"memory_mb": 16, "pids": 256})
    with pytest.raises(UserError) as err:
        start_run(feature, RunOptions(trace=False))
    text = str(err.value)
    assert "feature.yaml:" in text and "sandbox.memory_mb" in text
    _nothing_made(tmp_path)


@pytest.mark.parametrize(("flags", "sandbox", "expected"), [
    ({"pids": 2}, None, "--pids"),
    ({"timeout_s": 0}, None, "--timeout-s"),
    ({}, "dockr", "--sandbox"),
])
def test_bad_flags_stop_before_the_run_exists(tmp_path: Path, flags: dict[str, object],
                                              sandbox: str | None, expected: str) -> None:
    feature = _project(tmp_path)
    with pytest.raises(UserError, match=expected):
        start_run(feature, RunOptions(trace=False, sandbox=sandbox, sandbox_flags=flags))
    _nothing_made(tmp_path)
