"""The shipped fake and production take the same budget path: a pattern with a token budget
stops at the same call on ScriptedLLM as on the replay model through the real LiteLLM Router
(crew.llm.accounting: one reservation, ledger and after-check for every transport)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from router_helpers import ROLE_NAMES, ctx_for, say

from crew.llm import Budget, Limits
from crew.patterns.base import Outcome
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.testing import ScriptedLLM
from shared_helpers import replay_llm

MAX_OUTPUT = 400  # each call's worst-case output: model_info on replay, max_output on scripted


def _usage(prompt: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": 10}


def _answers(prompt_tokens: list[int]) -> list[dict[str, Any]]:
    plan = {"subtasks": [{"id": "doc", "title": "doc", "role": "doc_writer"}]}
    again = {"approved": False, "summary": "not yet",
             "redo": [{"id": "doc", "feedback": "add examples"}]}
    steps = [say("supervisor", plan, purpose="plan"), say("doc_writer", "draft 1"),
             say("supervisor", again, purpose="review"), say("doc_writer", "draft 2"),
             say("supervisor", {"approved": True, "summary": "done"}, purpose="review")]
    return [s | {"usage": _usage(p)} for s, p in zip(steps, prompt_tokens, strict=True)]


def _llm(kind: str, tmp_path: Path, answers: list[dict[str, Any]], budget: Budget) -> Any:
    if kind == "scripted":
        return ScriptedLLM(json.loads(json.dumps(answers)), budget=budget, max_output=MAX_OUTPUT)
    return replay_llm(tmp_path, answers, tuple(ROLE_NAMES), budget,
                      {"max_output_tokens": MAX_OUTPUT})


async def _stop(kind: str, tmp_path: Path, prompts: list[int], limit: int
                ) -> tuple[Outcome, list[tuple[str | None, int]]]:
    llm = _llm(kind, tmp_path, _answers(prompts), Budget(Limits(tokens=limit)))
    res = await SupervisorWorker().run(ctx_for(llm, ["supervisor", "doc_writer"],
                                               {"max_rounds": 3}))
    return res.outcome, [(e.role, e.tokens) for e in llm.ledger.entries]


@pytest.mark.parametrize("prompts", [
    [550, 550, 550, 550, 550],  # the 4th call's worst case would cross: refused before sending
    [100, 100, 100, 5000, 100],  # the 4th call crosses once paid: nothing is asked after it
])
async def test_a_budget_stops_at_the_same_call_on_scripted_and_the_router(
        tmp_path: Path, prompts: list[int]) -> None:
    scripted = await _stop("scripted", tmp_path / "s", prompts, 2000)
    (tmp_path / "r").mkdir()
    routed = await _stop("replay", tmp_path / "r", prompts, 2000)
    assert scripted == routed
    outcome, ledger = scripted
    assert outcome is Outcome.BUDGET
    assert len(ledger) == (3 if prompts[3] == 550 else 4)
