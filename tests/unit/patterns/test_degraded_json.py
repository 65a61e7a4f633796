"""Degraded decisions from an answer that is JSON but fails its schema (a field of the wrong
type): the fallback takes the fields it can from the JSON, never the raw JSON text as the
decision (crew.patterns.decisions.read_fields)."""

from __future__ import annotations

import json
from typing import Any

from pattern_helpers import MakeCtx

from crew.patterns.base import Outcome
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.decisions import DecisionKind, DegradedReason
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.testing import ScriptedLLM


def kinds(res: Any) -> list[tuple[DecisionKind, DegradedReason]]:
    return [(d.decision, d.reason) for d in res.degraded]


async def test_judge_json_with_a_wrong_field_gives_its_decision_field(
        make_ctx: MakeCtx) -> None:
    # "winner": 0 where the schema wants a string: every ask fails validation
    verdict = '{"decision": "use csv module", "rationale": "quoting", "winner": 0}'
    llm = ScriptedLLM([
        {"purpose": "debate", "content": "Split it.\nPOSITION: str.split", "role": "coder"},
        {"purpose": "debate", "content": "Quotes.\nPOSITION: csv module", "role": "tester"},
        {"role": "reviewer", "purpose": "judge", "content": verdict, "repeat": True},
    ])
    res = await Debate().run(make_ctx(llm, ["coder", "tester"], {"rounds": 1}))
    assert res.outcome is Outcome.DONE
    assert res.decision == "use csv module"
    assert res.summary == "quoting"
    assert kinds(res) == [(DecisionKind.JUDGE, DegradedReason.READ_FROM_TEXT)]
    assert "winner" in res.degraded[0].error  # why the structured answer failed
    [judged] = [v for v in res.votes if v.get("role") == "reviewer"]
    assert judged["decision"] == "use csv module" and judged["winner"] == "0"


async def test_judge_json_without_a_decision_is_no_decision(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"purpose": "debate", "content": "A.\nPOSITION: a", "role": "coder"},
        {"purpose": "debate", "content": "B.\nPOSITION: b", "role": "tester"},
        {"role": "reviewer", "purpose": "judge", "repeat": True,
         "content": json.dumps({"decision": None, "rationale": "both fine"})},
    ])
    res = await Debate().run(make_ctx(llm, ["coder", "tester"], {"rounds": 1}))
    assert res.outcome is Outcome.NO_CONSENSUS and res.decision is None
    assert kinds(res) == [(DecisionKind.JUDGE, DegradedReason.NO_DECISION)]


def ballot(answer: Any, rationale: str = "r") -> str:
    return json.dumps({"answer": answer, "rationale": rationale})


async def test_chair_json_with_a_wrong_field_gives_its_decision_field(
        make_ctx: MakeCtx) -> None:
    chair = json.dumps({"decision": "Postgres, SQLite for tests", "rationale": "it scales",
                        "chosen": "the first"})  # chosen: an int, or null
    llm = ScriptedLLM([
        {"role": "coder", "purpose": "ballot", "content": ballot("Postgres")},
        {"role": "tester", "purpose": "ballot", "content": ballot("SQLite")},
        {"role": "reviewer", "purpose": "chair", "content": chair, "repeat": True},
    ])
    res = await Committee().run(make_ctx(llm, ["coder", "tester"], {
        "aggregation": "chair", "chair": "reviewer", "apply": False}))
    assert res.outcome is Outcome.DONE and res.decision == "Postgres, SQLite for tests"
    assert kinds(res) == [(DecisionKind.CHAIR, DegradedReason.READ_FROM_TEXT)]


async def test_ballot_json_with_a_wrong_field_gives_its_answer_field(
        make_ctx: MakeCtx) -> None:
    # "Yes" is not one of the options' exact spelling, and the rationale names the other
    llm = ScriptedLLM([
        {"role": "coder", "content": ballot("Yes", "no blockers left"), "repeat": True},
        {"role": "tester", "content": ballot("YES", "no failing tests"), "repeat": True},
        {"role": "reviewer", "content": ballot("No", "yes, it works, but untested"),
         "repeat": True},
    ])
    res = await Committee().run(make_ctx(llm, ["coder", "tester", "reviewer"],
                                         {"options": ["yes", "no"], "apply": False}))
    assert res.outcome is Outcome.DONE and res.decision == "yes"
    assert kinds(res) == [(DecisionKind.BALLOT, DegradedReason.READ_FROM_TEXT)] * 3
    answers = {v["role"]: (v["answer"], v["rationale"]) for v in res.votes if "answer" in v}
    assert answers["reviewer"] == ("no", "yes, it works, but untested")
    # a free-form ballot: a number where text was wanted is still the member's answer
    llm = ScriptedLLM([{"content": ballot(42, "six times seven"), "repeat": True}])
    res = await Committee().run(make_ctx(llm, ["coder", "tester"], {"apply": False}))
    assert res.outcome is Outcome.DONE and res.decision == "42"


async def test_ranking_json_with_a_string_order_is_read(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "purpose": "ballot", "content": ballot("A")},
        {"role": "tester", "purpose": "ballot", "content": ballot("B")},
        {"role": "coder", "purpose": "vote", "repeat": True,
         "content": json.dumps({"order": "2, 1", "reason": "B has tests"})},
        {"role": "tester", "purpose": "vote", "repeat": True,
         "content": json.dumps({"order": ["proposal 2", "proposal 1"]})},
    ])
    res = await Committee().run(make_ctx(llm, ["coder", "tester"], {
        "aggregation": "ranking", "quorum": 2, "apply": False}))
    assert res.outcome is Outcome.DONE and res.decision == "B"
    assert kinds(res) == [(DecisionKind.VOTE, DegradedReason.READ_FROM_TEXT)] * 2


async def test_review_json_with_a_broken_field_gives_its_summary_and_changes(
        make_ctx: MakeCtx) -> None:
    # "line": "3-5" is not an int: that item is dropped, the valid one is the feedback
    verdict = json.dumps({"approved": "CHANGES REQUESTED", "summary": "empty input crashes",
                          "changes": [{"file": "stats.py", "line": 3, "problem": "mean([])",
                                       "fix": "return 0.0"},
                                      {"file": "stats.py", "line": "3-5", "problem": "x"}]})
    llm = ScriptedLLM([
        {"role": "coder", "content": "Done.", "repeat": True},
        {"role": "reviewer", "content": verdict, "repeat": True},
    ])
    res = await ReviewLoop().run(make_ctx(llm, ["coder", "reviewer"], {"max_rounds": 2}))
    assert res.outcome is Outcome.FAILED and res.decision == "empty input crashes"
    assert kinds(res) == [(DecisionKind.VERDICT, DegradedReason.READ_FROM_TEXT)] * 2
    second_author = [c for c in llm.calls if c.context.role == "coder"][1]
    feedback = second_author.messages[-1]["content"]
    assert "- stats.py:3: mean([]) Fix: return 0.0" in feedback and '"approved"' not in feedback


async def test_lead_review_json_with_a_broken_field_gives_its_summary(
        make_ctx: MakeCtx) -> None:
    plan = json.dumps({"subtasks": [{"id": "a", "title": "Draft", "role": "doc_writer"}]})
    review = json.dumps({"approved": True, "summary": "good docs", "redo": "none"})
    llm = ScriptedLLM([
        {"role": "supervisor", "purpose": "plan", "content": plan},
        {"role": "doc_writer", "content": "Wrote it."},
        {"role": "supervisor", "purpose": "review", "content": review, "repeat": True},
    ])
    res = await SupervisorWorker().run(make_ctx(llm, ["supervisor", "doc_writer"]))
    assert res.outcome is Outcome.DONE and res.decision == "good docs"
    assert kinds(res) == [(DecisionKind.LEAD_REVIEW, DegradedReason.READ_FROM_TEXT)]
