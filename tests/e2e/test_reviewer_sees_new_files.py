"""Issue 24, reviewers see the whole change: after the author creates a file (untracked until
the task commits), the reviewer's prompt lists it and its `git_diff` shows it — a real
`crew run` whose models the StubServer scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tool_project import make_project, run_crew, tool_messages

from crew.testing import StubReply, StubServer


@pytest.mark.slow
def test_the_reviewer_git_diff_names_a_file_the_author_created(tmp_path: Path) -> None:
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["write_file"])
        spec = feature.parent
        (spec / "roles" / "checker.yaml").write_text(yaml.safe_dump({
            "title": "Checker", "goal": "Review.", "instructions": "Be brief.",
            "model": "checker", "tools": ["git_diff"], "max_turns": 4}))
        (spec / "crews" / "mini.yaml").write_text(yaml.safe_dump({
            "supervisor": "lead", "members": ["worker", "checker"],
            "patterns": ["single", "review_loop"],
            "defaults": {"pattern": "single", "max_parallel": 1, "sandbox": "local"}}))
        models = yaml.safe_load((spec / "models.yaml").read_text())
        models["model_list"].append({**models["model_list"][1], "model_name": "checker",
                                     "litellm_params": {**models["model_list"][1][
                                         "litellm_params"], "model": "openai/checker"}})
        (spec / "models.yaml").write_text(yaml.safe_dump(models))
        data = yaml.safe_load(feature.read_text())
        data["tasks"][0].update(pattern="review_loop", roles=["worker", "checker"])
        feature.write_text(yaml.safe_dump(data, sort_keys=False))
        stub.enqueue(StubReply.tool_call(("write_file", {"path": "src/feature.py",
                                                         "content": "ANSWER = 42\n"})),
                     StubReply.text("Created src/feature.py."), model="worker")
        stub.enqueue(StubReply.tool_call(("git_diff", {})),
                     StubReply.text('{"approved": true, "summary": "looks right"}'),
                     model="checker")
        res = run_crew("run", str(feature), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        first = stub.requests_for("checker")[0].body["messages"]
        (diff,) = tool_messages(stub, "checker")
    prompt = next(m["content"] for m in first if m["role"] == "user")
    assert "Changed files: src/feature.py. Read the whole change" in prompt
    assert "+++ b/src/feature.py" in diff and "+ANSWER = 42" in diff
