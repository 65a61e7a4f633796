"""supervisor_worker with ScriptedLLM: a plan, two concurrent workers in their own worktrees
whose edits both land on the crew branch, a send-back round, and bad plans re-asked."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from pattern_helpers import MakeCtx

from crew.patterns.base import Outcome
from crew.patterns.supervisor_worker import Subtask, SupervisorWorker, waves
from crew.testing import ScriptedLLM
from crew.workspace.worktrees import Workspace


def write(path: str, content: str) -> dict[str, Any]:
    return {"name": "write_file", "arguments": {"path": path, "content": content}}


PLAN = json.dumps({"subtasks": [
    {"id": "code", "title": "Write the code", "description": "csv.py", "role": "coder"},
    {"id": "tests", "title": "Write the tests", "description": "test_csv.py", "role": "tester"}]})


def worker(role: str, sub: str, path: str, text: str) -> list[dict[str, Any]]:
    return [{"role": role, "purpose": f"work:{sub}", "turn": 1, "tool_calls": [write(path, text)]},
            {"role": role, "purpose": f"work:{sub}", "turn": 2, "content": f"wrote {path}"}]


async def test_two_concurrent_workers_both_land_on_the_crew_branch(
        make_ctx: MakeCtx, workspace: Workspace) -> None:
    llm = ScriptedLLM([
        {"role": "supervisor", "purpose": "plan", "content": PLAN},
        *worker("coder", "code", "csv.py", "def export(): ...\n"),
        *worker("tester", "tests", "test_csv.py", "def test_export(): ...\n"),
        {"role": "supervisor", "purpose": "review", "turn": 1,
         "content": json.dumps({"approved": True, "summary": "both parts done"})},
    ])
    ctx = make_ctx(llm, ["supervisor", "coder", "tester"], workspace=workspace)
    res = await SupervisorWorker().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.rounds == 1 and res.summary == "both parts done"
    assert res.artifacts.files_changed == ["csv.py", "test_csv.py"]
    assert (workspace.path / "csv.py").exists() and (workspace.path / "test_csv.py").exists()
    tree = subprocess.run(["git", "-C", str(workspace.root), "ls-tree", "--name-only",
                           workspace.branch], capture_output=True, text=True, check=True).stdout
    assert {"app.py", "csv.py", "test_csv.py"} <= set(tree.split())
    # each worker had its own branch, merged back into the crew branch
    merges = subprocess.run(["git", "-C", str(workspace.root), "log", "--merges",
                             "--format=%s", workspace.branch],
                            capture_output=True, text=True, check=True).stdout.split("\n")
    assert sorted(m for m in merges if m) == ["crew: merge t1-s1", "crew: merge t1-s2"]
    assert all(c.context.task_id == "t1" and c.context.pattern == "supervisor_worker"
               for c in llm.calls)


async def test_lead_sends_work_back_then_max_rounds_fails(make_ctx: MakeCtx) -> None:
    plan = json.dumps({"subtasks": [{"id": "a", "title": "Draft", "role": "doc_writer"}]})
    llm = ScriptedLLM([
        {"role": "supervisor", "purpose": "plan", "content": plan},
        {"role": "doc_writer", "content": "draft 1"},
        {"role": "supervisor", "purpose": "review", "turn": 1, "content": json.dumps(
            {"approved": False, "summary": "too short",
             "redo": [{"id": "a", "feedback": "add examples"}]})},
        {"role": "doc_writer", "content": "draft 2"},
        {"role": "supervisor", "purpose": "review", "turn": 2, "content": json.dumps(
            {"approved": False, "summary": "still short", "redo": [{"id": "a", "feedback": "x"}]})},
    ])
    saved: list[dict[str, Any]] = []
    ctx = make_ctx(llm, ["supervisor", "doc_writer"], {"max_rounds": 2}, checkpoint=saved.append)
    res = await SupervisorWorker().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.FAILED and res.stopped_by == "max_rounds" and res.rounds == 2
    second = [c for c in llm.calls if c.context.role == "doc_writer"][1]
    assert "The lead sent this back: add examples" in second.messages[-1]["content"]
    assert [s["round"] for s in saved] == [1, 2]


async def test_plan_with_an_unknown_worker_role_is_reasked(make_ctx: MakeCtx) -> None:
    bad = json.dumps({"subtasks": [{"id": "a", "title": "x", "role": "designer"}]})
    good = json.dumps({"subtasks": [{"id": "a", "title": "x", "role": "coder"}]})
    llm = ScriptedLLM([
        {"role": "supervisor", "purpose": "plan", "content": bad},
        {"role": "supervisor", "purpose": "plan", "content": good},
        {"role": "coder", "content": "ok"},
        {"role": "supervisor", "purpose": "review", "content": json.dumps({"approved": True})},
    ])
    res = await SupervisorWorker().run(make_ctx(llm, ["supervisor", "coder"]))
    assert res.outcome is Outcome.DONE
    assert "subtasks.0.role: Input should be 'coder'" in llm.calls[1].messages[-1]["content"]


def _sub(sid: str, *deps: str) -> Subtask:
    return Subtask(id=sid, title=sid, role="coder", depends_on=list(deps))


def test_waves_order_dependencies() -> None:
    subs = [_sub("b", "a"), _sub("a"), _sub("c", "zzz")]
    assert [[s.id for s in w] for w in waves(subs)] == [["a", "c"], ["b"]]
    cyc = [_sub("x", "y"), _sub("y", "x")]
    assert [[s.id for s in w] for w in waves(cyc)] == [["x", "y"]]
