"""Issue 24, any language's tests: the agents' `run_tests` runs the project's test command —
the feature's `test_command`, or one detected from the repository (package.json → `npm test`)
— and every role is told it; a real `crew run` (StubServer models, a real sandbox)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tool_project import make_project, run_crew, tool_messages

from crew.testing import StubReply, StubServer


def _commit(repo: Path, name: str, text: str) -> None:
    (repo / name).write_text(text)
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "-C", str(repo), *env, "add", name], check=True)
    subprocess.run(["git", "-C", str(repo), *env, "commit", "-qm", name], check=True)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["feature", "package.json"])
def test_run_tests_runs_the_projects_test_command(tmp_path: Path, how: str) -> None:
    from crew.tools.sandbox import backend_status

    backend = "bwrap" if backend_status("bwrap")[0] else "local"
    with StubServer() as stub:
        extra = {"test_command": "sh -c 'echo custom runner ran'"} if how == "feature" else {}
        feature = make_project(tmp_path, stub, tools=["run_tests"], extra=extra)
        if how == "package.json":
            _commit(tmp_path / "repo", "package.json", json.dumps(
                {"name": "demo", "version": "1.0.0", "scripts": {"test": "node ci.js"}}))
            _commit(tmp_path / "repo", "ci.js", "console.log('node tests ran: ' + 2 * 21)\n")
        stub.enqueue(StubReply.tool_call(("run_tests", {})), StubReply.text("ran them"),
                     model="worker")
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", backend)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        (result,) = tool_messages(stub, "worker")
        system = stub.requests_for("worker")[0].body["messages"][0]["content"]
        plan_system = stub.requests_for("lead")[0].body["messages"][0]["content"]
    expected = "sh -c 'echo custom runner ran'" if how == "feature" else "npm test"
    told = f"## Tests\n`{expected}` runs the project's tests (the run_tests tool runs it)."
    assert told in system and told in plan_system
    assert result.startswith("tests PASSED"), result
    assert ("custom runner ran" if how == "feature" else "node tests ran: 42") in result
