"""single and review_loop end to end with ScriptedLLM, in a real git repo (Workspace)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from pattern_helpers import MakeCtx

from crew.context import RunContext
from crew.errors import BudgetKind, ProviderError
from crew.llm import Budget, Limits
from crew.patterns.base import Outcome
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.single import Single
from crew.testing import ScriptedLLM
from crew.tools.sandbox.local import LocalSandbox
from crew.workspace.worktrees import Workspace


def write(path: str, content: str) -> dict[str, Any]:
    return {"name": "write_file", "arguments": {"path": path, "content": content}}


def verdict(approved: bool, *changes: str) -> str:
    return json.dumps({"approved": approved, "summary": "ok" if approved else "fix it",
                       "changes": [{"file": "app.py", "line": 1, "problem": c, "fix": "do it"}
                                   for c in changes]})


def log(ws: Workspace) -> list[str]:
    out = subprocess.run(["git", "-C", str(ws.path), "log", "--format=%s|%an", ws.branch],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


async def test_single_commits_the_work(make_ctx: MakeCtx, workspace: Workspace) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "pattern": "single", "turn": 1,
         "tool_calls": [write("app.py", "VALUE = 2\n")]},
        {"role": "coder", "pattern": "single", "turn": 2, "content": "Set VALUE to 2."},
    ])
    saved: list[dict[str, Any]] = []
    ctx = make_ctx(llm, ["coder"], workspace=workspace, checkpoint=saved.append)
    res = await Single().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.summary == "Set VALUE to 2."
    assert res.artifacts.files_changed == ["app.py"] and res.artifacts.commit
    assert (workspace.path / "app.py").read_text() == "VALUE = 2\n"
    assert log(workspace)[0] == "crew: t1: Do the thing|coder (crew)"
    assert saved and saved[-1]["round"] == 1
    assert all(c.context.run_id == "r1" and c.context.task_id == "t1" for c in llm.calls)
    assert res.transcripts[0].role == "coder" and res.transcripts[0].turns == 2


async def test_single_guard_stop_is_an_outcome(make_ctx: MakeCtx, workspace: Workspace) -> None:
    same = {"role": "coder", "tool_calls": [{"name": "list_files", "arguments": {}}],
            "repeat": True}
    ctx = make_ctx(ScriptedLLM([same]), ["coder"], workspace=workspace)
    res = await Single().run(ctx)
    assert res.outcome is Outcome.GUARD and "coder" in res.summary
    assert res.artifacts.commit is None


async def test_review_loop_gate_then_changes_requested_then_approved(
        make_ctx: MakeCtx, workspace: Workspace) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "turn": 1, "tool_calls": [write("app.py", "VALUE = 3\n")]},
        {"role": "coder", "turn": 2, "content": "VALUE is 3."},
        {"role": "coder", "turn": 3, "tool_calls": [write("app.py", "VALUE = 2\n")]},
        {"role": "coder", "turn": 4, "content": "VALUE is 2 now."},
        {"role": "reviewer", "purpose": "review", "turn": 1,
         "content": "CHANGES REQUESTED\n" + verdict(False, "no test")},
        {"role": "coder", "turn": 5, "tool_calls": [write("test_app.py", "def test(): pass\n")]},
        {"role": "coder", "turn": 6, "content": "Added a test."},
        {"role": "reviewer", "purpose": "review", "turn": 2, "content": "APPROVED " + verdict(True)},
    ])
    states: list[dict[str, Any]] = []
    ctx = make_ctx(llm, ["coder", "reviewer"], {"max_rounds": 3, "gate": "grep -q 2 app.py"},
                   workspace=workspace, run_context=RunContext(sandbox=LocalSandbox(warn=False)),
                   checkpoint=states.append)
    res = await ReviewLoop().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.rounds == 3 and res.stopped_by == "approved"
    assert res.artifacts.files_changed == ["app.py", "test_app.py"]
    assert (workspace.path / "app.py").read_text() == "VALUE = 2\n"
    gates = [v["passed"] for v in res.votes if "gate" in v]
    verdicts = [v["approved"] for v in res.votes if "approved" in v]
    assert gates == [False, True, True] and verdicts == [False, True]  # no review after a red gate
    coder_calls = [c for c in llm.calls if c.context.role == "coder"]
    assert "The gate `grep -q 2 app.py` failed (exit 1)" in coder_calls[2].messages[-1]["content"]
    assert "- app.py:1: no test Fix: do it" in coder_calls[4].messages[-1]["content"]
    assert [s["round"] for s in states] == [1, 2, 3]
    assert log(workspace)[0] == "crew: t1: Do the thing|coder (crew)"


async def test_review_loop_max_rounds_is_failed(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "content": "My design.", "repeat": True},
        {"role": "reviewer", "content": verdict(False, "wrong"), "repeat": True},
    ])
    res = await ReviewLoop().run(make_ctx(llm, ["coder", "reviewer"], {"max_rounds": 2}))
    assert res.outcome is Outcome.FAILED and res.stopped_by == "max_rounds" and res.rounds == 2
    second_author = [c for c in llm.calls if c.context.role == "coder"][1]
    assert "- app.py:1: wrong Fix: do it" in second_author.messages[-1]["content"]


async def test_review_loop_reasks_an_unparseable_verdict(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "content": "Done."},
        {"role": "reviewer", "purpose": "review", "content": "Looks great to me!"},
        {"role": "reviewer", "purpose": "verdict", "content": verdict(True)},
    ])
    res = await ReviewLoop().run(make_ctx(llm, ["coder", "reviewer"]))
    assert res.outcome is Outcome.DONE and res.rounds == 1
    llm.assert_complete()


async def test_review_loop_budget_stop_is_an_outcome(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([{"content": "x" * 400, "repeat": True}],
                      budget=Budget(Limits(tokens=150)))
    res = await ReviewLoop().run(make_ctx(llm, ["coder", "reviewer"]))
    assert res.outcome is Outcome.BUDGET and "tokens" in res.summary
    assert res.budget_kind is BudgetKind.TOKENS


async def test_review_loop_resumes_after_its_last_completed_round(make_ctx: MakeCtx) -> None:
    answers = [{"role": "coder", "content": "Draft.", "repeat": True},
               {"role": "reviewer", "turn": 1, "content": verdict(False, "wrong")}]
    states: list[dict[str, Any]] = []
    first = ScriptedLLM([*answers, {"role": "reviewer", "turn": 2, "error": "server"}])
    ctx = make_ctx(first, ["coder", "reviewer"], checkpoint=states.append)
    with pytest.raises(ProviderError):  # the provider dies in round 2
        await ReviewLoop().run(ctx)
    assert [s["round"] for s in states] == [1]
    second = ScriptedLLM([{"role": "coder", "content": "Fixed."},
                          {"role": "reviewer", "turn": 2, "content": verdict(True)}])
    res = await ReviewLoop().run(make_ctx(second, ["coder", "reviewer"], state=states[-1]))
    second.assert_complete()
    assert res.outcome is Outcome.DONE and res.rounds == 2
    assert [v["approved"] for v in res.votes] == [False, True]
