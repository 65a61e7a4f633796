"""Structured asks (ballots, verdicts, judge decisions, a lead's plan and review) are recorded
in the TurnStore like turns: a run killed after they were answered but before the round's
checkpoint resumes without asking them again, to the same outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pattern_helpers import MakeCtx

from crew.patterns.base import BasePattern, PatternResult
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.run.journal import TURNS_FILE, TurnJournal, read_jsonl
from crew.testing import ScriptedLLM


class Killed(Exception):
    """Stands in for a kill -9 while the round's checkpoint was being written."""


def ballot(role: str, answer: str) -> dict[str, Any]:
    return {"role": role, "purpose": "ballot",
            "content": json.dumps({"answer": answer, "rationale": "r"})}


PLAN = json.dumps({"subtasks": [{"id": "a", "title": "Draft", "role": "doc_writer"}]})
# kind → (pattern, roles, params, script, the save the kill comes at)
CASES: dict[str, tuple[type[BasePattern], list[str], dict[str, Any], list[dict[str, Any]],
                       int]] = {
    "committee ballots": (Committee, ["coder", "tester", "reviewer"], {}, [
        ballot("coder", "Postgres"), ballot("tester", "SQLite"), ballot("reviewer", "postgres")],
        1),
    "review verdict": (ReviewLoop, ["coder", "reviewer"], {}, [
        {"role": "coder", "content": "Wrote it."},
        {"role": "reviewer", "purpose": "review", "content": "Reads well to me."},  # no marker
        {"role": "reviewer", "purpose": "verdict",
         "content": json.dumps({"approved": True, "summary": "good"})}], 1),
    "debate judge": (Debate, ["coder", "tester"], {"rounds": 1}, [
        {"role": "coder", "purpose": "debate", "content": "Tokens.\nPOSITION: tokens"},
        {"role": "tester", "purpose": "debate", "content": "Sessions.\nPOSITION: sessions"},
        {"role": "reviewer", "purpose": "judge",
         "content": json.dumps({"decision": "tokens", "rationale": "stateless"})}], 2),
    "debate judge, read from text": (Debate, ["coder", "tester"], {"rounds": 1}, [
        {"role": "coder", "purpose": "debate", "content": "Tokens.\nPOSITION: tokens"},
        {"role": "tester", "purpose": "debate", "content": "Sessions.\nPOSITION: sessions"},
        {"role": "reviewer", "purpose": "judge", "content": "Hmm.\nDECISION: tokens",
         "repeat": True}], 2),  # no JSON after the re-asks: a degraded decision, replayed
    "lead plan and review": (SupervisorWorker, ["supervisor", "doc_writer"], {}, [
        {"role": "supervisor", "purpose": "plan", "content": PLAN},
        {"role": "doc_writer", "purpose": "work:a", "content": "drafted"},
        {"role": "supervisor", "purpose": "review",
         "content": json.dumps({"approved": True, "summary": "fine"})}], 1),
}


def outcome(res: PatternResult) -> tuple[Any, ...]:
    return res.outcome, res.decision, res.summary, res.rounds, res.votes, res.degraded


@pytest.mark.parametrize("case", list(CASES))
async def test_a_resumed_round_does_not_ask_again(make_ctx: MakeCtx, tmp_path: Path,
                                                  case: str) -> None:
    cls, roles, params, script, kill_at = CASES[case]
    whole = await cls().run(make_ctx(ScriptedLLM(script), roles, params))

    saved: list[dict[str, Any]] = []

    def checkpoint(state: dict[str, Any]) -> None:
        if len(saved) + 1 == kill_at:
            raise Killed
        saved.append(state)

    path = tmp_path / TURNS_FILE
    first = ScriptedLLM(script)
    with pytest.raises(Killed):
        await cls().run(make_ctx(first, roles, params, turn_store=TurnJournal(path),
                                 checkpoint=checkpoint))
    asks = [r for r in read_jsonl(path) if r["kind"] == "ask"]
    assert asks, "the structured asks were recorded"

    idle = ScriptedLLM([])  # any model call fails: nothing is scripted
    again = await cls().run(make_ctx(idle, roles, params, turn_store=TurnJournal(path),
                                     state=saved[-1] if saved else None))
    assert idle.calls == []
    assert outcome(again) == outcome(whole)


async def test_a_ballot_answered_before_the_kill_is_not_asked_again(
        make_ctx: MakeCtx, tmp_path: Path) -> None:
    """Killed mid-round: two members had answered, the third had not."""
    roles = ["coder", "tester", "reviewer"]
    path = tmp_path / TURNS_FILE
    first = ScriptedLLM([ballot("coder", "Postgres"), ballot("tester", "SQLite")])
    with pytest.raises(Exception, match="reviewer"):  # the third member's call dies
        await Committee().run(make_ctx(first, roles, turn_store=TurnJournal(path)))
    assert sorted(c.context.role for c in first.calls) == ["coder", "tester"]  # answered

    second = ScriptedLLM([ballot("reviewer", "postgres")])
    res = await Committee().run(make_ctx(second, roles, turn_store=TurnJournal(path)))
    second.assert_complete()
    assert [(c.context.role, c.context.purpose) for c in second.calls] == [
        ("reviewer", "ballot")]
    assert res.decision == "Postgres" and [v["answer"] for v in res.votes] == [
        "Postgres", "SQLite", "postgres"]


async def test_a_saved_state_that_does_not_fit_the_kind_is_refused_naming_the_task(
        make_ctx: MakeCtx) -> None:
    from crew.errors import UserError

    idle = ScriptedLLM([])
    with pytest.raises(UserError, match="task 't1': its saved review_loop state"):
        await ReviewLoop().run(make_ctx(idle, ["coder", "reviewer"],
                                        state={"round": 1, "verdicts": []}))
    assert idle.calls == []
