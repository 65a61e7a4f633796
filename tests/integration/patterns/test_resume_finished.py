"""A run killed after a pattern's deciding round was checkpointed but before the pattern
returned: resuming from that checkpoint finishes the pattern without asking any model again
and without a second commit."""

from __future__ import annotations

from typing import Any

import pytest
from router_helpers import MakeLLM, ctx_for, say, write

from crew.patterns.base import Outcome, PatternResult
from crew.patterns.debate import Debate
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.single import Single
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.workspace.worktrees import Workspace

APPROVE = {"approved": True, "summary": "fine", "changes": []}
SUB_PLAN = {"subtasks": [{"id": "code", "title": "code", "role": "coder"}]}
CASES: dict[str, tuple[Any, list[str], list[dict[str, Any]]]] = {
    "single": (Single, ["coder"], [write("coder", "app.py", "VALUE = 2\n"), say("coder", "2")]),
    "review_loop": (ReviewLoop, ["coder", "reviewer"], [
        write("coder", "app.py", "VALUE = 2\n"), say("coder", "2"), say("reviewer", APPROVE)]),
    "debate": (Debate, ["coder", "tester"], [say("coder", "POSITION: A"),
                                             say("tester", "POSITION: B"),
                                             say("reviewer", {"decision": "A", "rationale": "r"},
                                                 purpose="judge")]),
    "supervisor_worker": (SupervisorWorker, ["supervisor", "coder"], [
        say("supervisor", SUB_PLAN, purpose="plan"), write("coder", "app.py", "VALUE = 2\n"),
        say("coder", "done"), say("supervisor", {"approved": True, "summary": "ok"},
                                  purpose="review")]),
}


@pytest.mark.parametrize("backend", ["replay"], indirect=True)
@pytest.mark.parametrize("kind", list(CASES))
async def test_resume_after_the_deciding_round_asks_nothing(
        make_llm: MakeLLM, workspace: Workspace, kind: str) -> None:
    cls, roles, answers = CASES[kind]
    params = {"rounds": 1} if kind == "debate" else {}
    saved: list[dict[str, Any]] = []
    first: PatternResult = await cls().run(ctx_for(make_llm(answers), roles, params,
                                                   workspace=workspace,
                                                   checkpoint=saved.append))
    assert first.outcome is Outcome.DONE
    commits = workspace.head()

    idle = make_llm([])  # any model call would fail: nothing is scripted
    again: PatternResult = await cls().run(ctx_for(idle, roles, params, workspace=workspace,
                                                   state=saved[-1]))
    assert again.outcome is Outcome.DONE and again.decision == first.decision
    assert idle.ledger.entries == []
    assert workspace.head() == commits  # no second commit
    assert again.artifacts.commit == first.artifacts.commit
