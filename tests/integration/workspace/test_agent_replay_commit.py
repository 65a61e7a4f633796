"""Issue 4 end to end: an agent driven by the replay model (through the real LiteLLM Router)
reads a file, runs the tests in a real sandbox, edits the file, sees them pass; the commit
lands on the crew branch and the user's branch, index and working tree are untouched."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from crew.agent import Agent, StopReason
from crew.context import RunContext
from crew.llm import LLM
from crew.llm.types import CallContext
from crew.spec.library import Library
from crew.tools.sandbox import SandboxBackend, SandboxLimits, backend_status, select_sandbox
from crew.workspace.worktrees import Workspace

Git = Callable[..., str]

CALC = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _backend(name: str) -> tuple[SandboxBackend, str]:
    import os

    ok, reason = backend_status(name)
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the {name} sandbox is unavailable in CI: {reason}")
        pytest.skip(f"the {name} sandbox is unavailable: {reason}")
    limits = SandboxLimits(memory_mb=512, cpus=1.0, pids=128, tmp_mb=64, output_chars=20_000)
    if name == "docker":  # the image carries python3 and pytest
        return select_sandbox("docker", limits=limits), "python3 -m pytest -q -p no:cacheprovider"
    if name == "bwrap":  # this interpreter, mounted read-only; crew's own plugin stays out
        binds = [Path(sys.prefix), Path(sys.base_prefix)]
        cmd = (f"env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q "
               "-p no:cacheprovider")
        return select_sandbox("bwrap", limits=limits, extra_ro_binds=binds), cmd
    from crew.tools.sandbox.local import LocalSandbox

    cmd = f"{sys.executable} -m pytest -q -p no:cacheprovider -p no:crew"
    return LocalSandbox(limits, warn=False), cmd


def _script(path: Path) -> None:
    def turn(n: int, **answer: object) -> dict[str, object]:
        return {"role": "coder", "task": "fix-add", "turn": n, **answer}

    call = lambda name, **args: {"name": name, "arguments": args}  # noqa: E731
    answers = [
        turn(1, content="Reading the code first.", tool_calls=[call("read_file", path="calc.py")]),
        turn(2, tool_calls=[call("run_tests")]),
        turn(3, tool_calls=[call("edit_file", path="calc.py", old_text="a - b", new_text="a + b")]),
        turn(4, tool_calls=[call("run_tests")]),
        turn(5, content="Fixed add(): it subtracted. The test passes now."),
    ]
    path.write_text(yaml.safe_dump({"answers": answers}, sort_keys=False))


@pytest.mark.parametrize("backend_name", [
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("bwrap", marks=pytest.mark.bwrap),
    "local",
])
@pytest.mark.slow
async def test_replay_agent_fixes_code_in_sandbox_and_commits(
    backend_name: str, user_repo: tuple[Path, Git], tmp_path: Path,
    snapshot: Callable[[Path], dict[str, object]],
) -> None:
    sandbox, test_command = _backend(backend_name)
    repo, git = user_repo
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TEST)
    git("add", "calc.py", "test_calc.py")
    git("commit", "-q", "-m", "calc", "--", "calc.py", "test_calc.py")  # the staged util.py stays
    before = snapshot(repo)

    _script(tmp_path / "script.yaml")
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": "smart", "litellm_params": {"model": "replay/demo",
                                                    "replay_script": "script.yaml"}}]}))
    llm = LLM.from_file(tmp_path / "models.yaml")
    ws = Workspace.create(repo, "r1", "Fix add")
    coder = Library([]).load("role", "coder").spec
    agent = Agent(coder, llm, workspace=ws.path,
                  run_context=RunContext(sandbox=sandbox, test_command=test_command))

    result = await agent.run("Make add() add.",
                             context=CallContext(run_id="r1", task_id="fix-add", role="coder"))

    assert result.stop_reason is StopReason.FINAL, result.detail
    assert result.text == "Fixed add(): it subtracted. The test passes now."
    names = [o.call.name for o in result.tool_calls]
    assert names == ["read_file", "run_tests", "edit_file", "run_tests"]
    read, first_run, _, second_run = result.tool_calls
    assert "return a - b" in read.output
    assert first_run.data is not None and second_run.data is not None
    assert first_run.data["counts"]["failed"] == 1 and first_run.data["tests_pass"] is False
    assert second_run.data["counts"]["passed"] == 1 and second_run.data["tests_pass"] is True
    assert all(not unserved for unserved in llm.replay_unserved().values())
    assert [e.role for e in llm.ledger.entries] == ["coder"] * 5

    sha = ws.commit_task("fix-add", "Fix add", "coder")
    assert sha is not None
    assert git("show", f"{ws.branch}:calc.py") == "def add(a, b):\n    return a + b\n"
    message = git("log", "-1", "--format=%an%n%B", ws.branch)
    assert message.startswith("coder") and "Crew-Run: r1" in message
    assert git("rev-list", "--count", f"{str(before['head']).strip()}..{ws.branch}").strip() == "1"
    assert snapshot(repo) == before  # the user's branch, index and working tree
