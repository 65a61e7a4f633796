"""A secret the model repeats appears in no file crew writes (state.json, plan.json,
report.md, events.jsonl) and in no commit: real runs through `start_run` on a real git repo
with the replay model through the Router, and the real local sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.run.launch import RunOptions, start_run
from shared_helpers import committed_repo, git

SECRET = "sk-proj-ModelRepeats0123456789abcdef"
MODEL_KEY = "mdlkey-Zq8w7e6r5t4y3u2i1o"


def _setup(tmp_path: Path, coder: list[dict[str, Any]]) -> Path:
    committed_repo(tmp_path / "repo")
    answers = [{"task": "plan", "role": "supervisor", "content": '{"tasks": []}'},
               *[{"task": "leak", "role": "coder", "turn": i + 1, **a}
                 for i, a in enumerate(coder)]]
    (tmp_path / "replay.yaml").write_text(yaml.safe_dump({"answers": answers}))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/s", "replay_script": "replay.yaml",
                                             "api_key": MODEL_KEY}}
        for a in ("smart", "fast")]}))
    feature = {"title": "Keys", "goal": "Use the service.", "repo": "repo",
               "models": "models.yaml", "tasks": [
                   {"id": "leak", "title": "Use it", "pattern": "single", "roles": ["coder"]}]}
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump(feature))
    return tmp_path / "feature.yaml"


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args}]}


def _assert_nowhere(tmp_path: Path, run_dir: Path) -> None:
    repo = tmp_path / "repo"
    written = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"state.json", "plan.json", "report.md", "events.jsonl"} <= {p.name for p in written}
    for p in written:
        text = p.read_text(errors="replace")
        assert SECRET not in text and MODEL_KEY not in text, p.name
    history = git(repo, "log", "-p", "--all", "--format=%H%n%B")
    assert SECRET not in history and MODEL_KEY not in history


def test_a_repeated_secret_is_redacted_everywhere(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    feature = _setup(tmp_path, [
        _call("write_file", path="app.py", content=f"KEY = '{SECRET}'\n"),  # refused
        _call("run_command", command=f"echo the key is {SECRET} and {MODEL_KEY}"),
        _call("write_file", path="app.py", content="VALUE = 2\n"),
        {"content": f"Done. I used {SECRET} and {MODEL_KEY}."},
    ])
    out = start_run(feature, RunOptions(sandbox="local", trace=False))
    assert out.exit_code == 0, out.state.stop_reason
    assert git(tmp_path / "repo", "show", f"{out.state.branch}:app.py") == "VALUE = 2"
    message = git(tmp_path / "repo", "log", "-1", "--format=%B", out.state.branch)
    assert "[REDACTED]" in message
    events = (out.run_dir / "events.jsonl").read_text()
    assert "refused to write app.py: the content holds a secret" in events
    _assert_nowhere(tmp_path, out.run_dir)
    assert out.state.host_changes == []
    assert "nothing changed but the run's own branches" in out.report
    assert "ran in the `local` sandbox — no filesystem isolation: memory 2048 MiB, 2 CPUs, " \
        "256 processes, timeout 600s, network off" in out.report


def test_a_secret_written_by_a_command_is_told_to_the_agent_who_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 24): a secret in a task's change ended the whole run (SecretInDiff);
    now the agent is told before its answer stands, removes it, and the run goes on."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    feature = _setup(tmp_path, [
        _call("run_command", command=f"printf 'K = \"%s\"\\n' {SECRET} > leak.py"),
        {"content": "Done."},
        _call("run_command", command="rm leak.py && echo 'K = None' > ok.py"),
        {"content": "Removed it."},
    ])
    out = start_run(feature, RunOptions(sandbox="local", trace=False))
    assert out.exit_code == 0, out.state.stop_reason
    assert out.state.tasks["leak"].status == "done"
    assert git(tmp_path / "repo", "show", f"{out.state.branch}:ok.py") == "K = None"
    assert "leak.py" not in git(tmp_path / "repo", "ls-tree", "-r", "--name-only",
                                out.state.branch)
    told = (out.run_dir / "events.jsonl").read_text()  # turns.jsonl: compacted at the end
    assert "Your change cannot be committed" in told
    assert "leak.py: the value of OPENAI_API_KEY" in told
    _assert_nowhere(tmp_path, out.run_dir)


def test_a_secret_the_agent_keeps_fails_its_task_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    feature = _setup(tmp_path, [
        _call("run_command", command=f"printf 'K = \"%s\"\\n' {SECRET} > leak.py"),
        {"content": "Done."}, {"content": "Still done."}, {"content": "Really done."},
    ])
    out = start_run(feature, RunOptions(sandbox="local", trace=False))
    assert out.exit_code == 1 and out.state.status == "failed", out.state.stop_reason
    task = out.state.tasks["leak"]
    assert task.status == "failed"
    assert "refused to commit" in task.summary
    assert "leak.py: the value of OPENAI_API_KEY" in task.summary
    _assert_nowhere(tmp_path, out.run_dir)
