"""Which roles fix a failing gate, under which pattern and how often, are crew settings
(`defaults.fix`): a crew without a `coder` fixes its gate with the roles it names, through a real
run (`start_run`, a real git repo, the replay model through the Router, the local sandbox)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import yaml

from crew.run.launch import RunOptions, start_run
from crew.spec.resolve import resolve_feature
from shared_helpers import committed_repo, git

ROLE = """\
name: {name}
title: {name}
goal: Do the work.
instructions: Do it well.
model: smart
tools: [read_file, write_file, list_files, git_diff]
max_turns: 6
"""


def _project(tmp_path: Path, fix: dict[str, Any], answers: list[dict[str, Any]]) -> Path:
    committed_repo(tmp_path / "repo")
    (tmp_path / "roles").mkdir()
    for name in ("dev", "qa"):
        (tmp_path / "roles" / f"{name}.yaml").write_text(ROLE.format(name=name))
    (tmp_path / "crews").mkdir()
    (tmp_path / "crews" / "renamed.yaml").write_text(yaml.safe_dump({
        "supervisor": "supervisor", "members": ["dev", "qa"],
        "patterns": ["single", "review_loop"], "defaults": {"pattern": "single", "fix": fix}}))
    (tmp_path / "replay.yaml").write_text(yaml.safe_dump({"answers": [
        {"task": "plan", "role": "supervisor", "content": '{"tasks": []}'}, *answers]}))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/s", "replay_script": "replay.yaml"}}
        for a in ("smart", "fast")]}))
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Flag", "goal": "Create fixed.txt.", "repo": "repo", "crew": "crews/renamed.yaml",
        "models": "models.yaml", "acceptance": [{"run": "test -f fixed.txt"}],
        "tasks": [{"id": "start", "title": "Start", "pattern": "single", "roles": ["dev"]}]}))
    return tmp_path / "feature.yaml"


def _write(task: str, role: str, turn: int, path: str) -> dict[str, Any]:
    return {"task": task, "role": role, "turn": turn, "tool_calls": [
        {"name": "write_file", "arguments": {"path": path, "content": "ok\n"}}]}


def test_a_crew_without_a_coder_fixes_its_gate_with_the_roles_it_names(tmp_path: Path) -> None:
    feature = _project(tmp_path, {"roles": ["dev", "qa"], "pattern": "review_loop"}, [
        {"task": "start", "role": "dev", "content": "Nothing to do yet."},
        _write("fix-gates-1", "dev", 1, "fixed.txt"),
        {"task": "fix-gates-1", "role": "dev", "turn": 2, "content": "Created fixed.txt."},
        {"task": "fix-gates-1", "role": "qa", "purpose": "review",
         "content": json.dumps({"approved": True, "summary": "fixed.txt exists", "changes": []})},
    ])
    out = start_run(feature, RunOptions(sandbox="local", trace=False))
    assert out.exit_code == 0, out.state.stop_reason
    fix = json.loads((out.run_dir / "plan.json").read_text())
    fix_task = next(t for t in fix["tasks"] if t["id"] == "fix-gates-1")
    assert fix_task["roles"] == ["dev", "qa"] and fix_task["pattern"] == "review_loop"
    assert git(tmp_path / "repo", "show", f"{out.state.branch}:fixed.txt") == "ok"
    assert [g.passed for g in out.state.gates] == [False, True]


def test_max_rounds_zero_fails_the_gate_without_a_fix_task(tmp_path: Path) -> None:
    feature = _project(tmp_path, {"max_rounds": 0}, [
        {"task": "start", "role": "dev", "content": "Nothing to do."}])
    out = start_run(feature, RunOptions(sandbox="local", trace=False))
    assert out.exit_code == 1 and out.state.fix_rounds == 0
    assert not any(t.startswith("fix-gates") for t in out.state.tasks)


def test_fix_settings_name_the_crews_own_roles_and_patterns(tmp_path: Path) -> None:
    from crew.errors import UserError

    feature = _project(tmp_path, {"roles": ["coder"], "pattern": "reveiw_loop"}, [])
    try:
        resolve_feature(feature)
    except UserError as e:
        text = "\n".join(p.render() for p in e.problems)
    else:
        raise AssertionError("accepted fix roles outside the crew")
    assert "defaults.fix.roles[0]: role 'coder' is not a crew member" in text
    assert "defaults.fix.pattern: pattern 'reveiw_loop' is not in patterns" in text
    assert "did you mean 'review_loop'?" in textwrap.dedent(text)
