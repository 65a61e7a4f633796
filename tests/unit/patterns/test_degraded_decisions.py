"""Degraded decisions (crew.patterns.decisions): a structured answer that cannot be read
becomes its plain-text marker or the documented fallback, recorded on the result and traced
— never an exception that ends the run. ScriptedLLM answers prose where JSON was asked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pattern_helpers import MakeCtx

from crew.context import RunContext
from crew.observability import Tracer
from crew.patterns.base import Outcome
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.decisions import (
    DecisionKind,
    DegradedReason,
    read_approval,
    read_number,
    read_option,
    read_ranking,
)
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.testing import ListSink, ScriptedLLM

PROSE = "I have looked at this carefully and have some thoughts about it."


def kinds(res: Any) -> list[tuple[DecisionKind, DegradedReason]]:
    return [(d.decision, d.reason) for d in res.degraded]



def test_plain_text_readers() -> None:
    assert read_approval("**APPROVED** — nothing blocking.") is True
    assert read_approval("Verdict: CHANGES REQUESTED\n- app.py:3 off by one") is False
    assert read_approval("I approved of most of it") is None  # a marker, not a word
    assert read_approval("APPROVED\n...\nCHANGES REQUESTED") is None  # both: unreadable
    assert read_option("I'd say Yes, ship it.", ["yes", "no"]) == "yes"
    assert read_option("yes and no", ["yes", "no"]) is None
    assert read_number("Proposal 2 is the best.", 3) == 2
    assert read_number("2", 3) == 2 and read_number("proposal 7", 3) is None
    assert read_number("Proposal 1 lacks tests; proposal 2 has them.", 3) is None
    assert read_ranking("My ranking:\n2 > 1 > 3", 3) == [2, 1, 3]
    assert read_ranking("I like 2 best", 3) is None


async def test_unreadable_verdict_is_changes_requested_with_the_text_until_max_rounds(
        make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "content": "Done.", "repeat": True},
        {"role": "reviewer", "content": PROSE, "repeat": True},  # the review and every re-ask
    ])
    sink = ListSink()
    tracer = Tracer.create("r1", "t", env={}, sinks=[], extra_sinks=[sink])
    with tracer.run():
        res = await ReviewLoop().run(make_ctx(llm, ["coder", "reviewer"], {"max_rounds": 2},
                                              run_context=RunContext(tracer=tracer)))
    assert res.outcome is Outcome.FAILED and res.stopped_by == "max_rounds" and res.rounds == 2
    assert kinds(res) == [(DecisionKind.VERDICT, DegradedReason.CHANGES_REQUESTED)] * 2
    assert res.degraded[0].role == "reviewer" and res.degraded[0].excerpt == PROSE
    assert "no valid Verdict" in res.degraded[0].error
    second_author = [c for c in llm.calls if c.context.role == "coder"][1]
    assert PROSE in second_author.messages[-1]["content"]  # the raw text is the feedback
    assert len([c for c in llm.calls if c.context.purpose == "verdict"]) == 6  # 3 per round
    events = [e for e in sink.events if e["name"] == "decision_degraded"]
    assert [(e["payload"]["decision"], e["payload"]["reason"]) for e in events] == [
        ("verdict", "changes_requested")] * 2


async def test_verdict_marker_is_a_first_class_answer(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "content": "Done.", "repeat": True},
        {"role": "reviewer", "turn": 1, "content": "CHANGES REQUESTED\n- add a test for x"},
        {"role": "reviewer", "turn": 2, "content": "APPROVED. Good now."},
    ])
    res = await ReviewLoop().run(make_ctx(llm, ["coder", "reviewer"], {"max_rounds": 3}))
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.rounds == 2
    assert kinds(res) == []  # the marker the reviewer role asks for is an answer, not degraded
    assert not [c for c in llm.calls if c.context.purpose == "verdict"]
    second_author = [c for c in llm.calls if c.context.role == "coder"][1]
    assert "add a test for x" in second_author.messages[-1]["content"]


def test_the_reviewer_role_and_the_verdict_ask_agree() -> None:
    """The reviewer's instructions and the pattern's ask name the same answer (issue 26)."""
    from crew.patterns.review_loop import VERDICT_NOTE
    from crew.spec.library import Library

    role = Library([]).load("role", "reviewer").spec.instructions
    for marker in ("APPROVED", "CHANGES REQUESTED"):
        assert marker in role and marker in VERDICT_NOTE
    assert "Start your verdict with APPROVED or CHANGES REQUESTED" in VERDICT_NOTE


async def test_judge_that_cannot_decide_is_no_decision_keeping_the_proposals(
        make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "purpose": "debate", "content": "Use tokens.\nPOSITION: tokens",
         "repeat": True},
        {"role": "security_analyst", "purpose": "debate",
         "content": "Use sessions.\nPOSITION: sessions", "repeat": True},
        {"role": "reviewer", "purpose": "judge", "content": PROSE, "repeat": True},
    ])
    res = await Debate().run(make_ctx(llm, ["coder", "security_analyst"],
                                      {"rounds": 1, "judge": "reviewer"}))
    assert res.outcome is Outcome.NO_CONSENSUS and res.decision is None
    assert "no decision" in res.summary
    assert "tokens" in res.summary and "sessions" in res.summary  # the proposals are kept
    assert kinds(res) == [(DecisionKind.JUDGE, DegradedReason.NO_DECISION)]


async def test_judge_decision_line_is_read_from_prose(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"purpose": "debate", "content": "Maybe.\nPOSITION: it depends", "role": "coder"},
        {"purpose": "debate", "content": "No.\nPOSITION: never", "role": "tester"},
        {"role": "reviewer", "purpose": "judge",
         "content": "Both have a point.\nDECISION: ship behind a flag", "repeat": True},
    ])
    res = await Debate().run(make_ctx(llm, ["coder", "tester"], {"rounds": 1}))
    assert res.outcome is Outcome.DONE and res.decision == "ship behind a flag"
    assert kinds(res) == [(DecisionKind.JUDGE, DegradedReason.READ_FROM_TEXT)]
    # the judge is asked for the line this fallback reads
    judge = llm.calls[2]
    assert judge.context is not None and judge.context.purpose == "judge"
    assert "DECISION: <decision>" in str(judge.messages[1]["content"])


async def test_unreadable_ballots_abstain_and_named_options_count(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "content": "Yes, ship it.", "repeat": True},
        {"role": "tester", "content": "yes — tests pass", "repeat": True},
        {"role": "reviewer", "content": PROSE, "repeat": True},
    ])
    res = await Committee().run(make_ctx(llm, ["coder", "tester", "reviewer"],
                                         {"options": ["yes", "no"], "apply": False}))
    assert res.outcome is Outcome.DONE and res.decision == "yes"
    assert sorted(kinds(res)) == sorted([(DecisionKind.BALLOT, DegradedReason.READ_FROM_TEXT),
                                         (DecisionKind.BALLOT, DegradedReason.READ_FROM_TEXT),
                                         (DecisionKind.BALLOT, DegradedReason.ABSTAINED)])
    [abstained] = [v for v in res.votes if v.get("role") == "reviewer"]
    assert "no valid Ballot" in abstained["error"]  # the abstention is on the record


async def test_a_member_whose_provider_is_down_abstains_as_a_degraded_decision(
        make_ctx: MakeCtx) -> None:
    def ballot(answer: str) -> str:
        return json.dumps({"answer": answer, "rationale": "r"})

    llm = ScriptedLLM([
        {"role": "coder", "purpose": "ballot", "content": ballot("A")},
        {"role": "tester", "purpose": "ballot", "content": ballot("B")},
        {"role": "reviewer", "purpose": "ballot", "error": "server"},
        {"role": "coder", "purpose": "vote", "content": json.dumps({"order": [2, 1]})},
        {"role": "tester", "purpose": "vote", "error": "server"},
    ])
    res = await Committee().run(make_ctx(llm, ["coder", "tester", "reviewer"], {
        "aggregation": "ranking", "quorum": 1, "apply": False}))
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.decision == "B"  # the rest still decide
    assert sorted(kinds(res)) == [(DecisionKind.BALLOT, DegradedReason.PROVIDER_DOWN),
                                  (DecisionKind.VOTE, DegradedReason.PROVIDER_DOWN)]
    assert all("scripted server" in d.error and d.excerpt == "" for d in res.degraded)
    assert {(d.decision, d.role) for d in res.degraded} == {
        (DecisionKind.BALLOT, "reviewer"), (DecisionKind.VOTE, "tester")}


async def test_free_form_ballots_in_prose_abstain_to_no_quorum(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([{"content": PROSE, "repeat": True}])
    res = await Committee().run(make_ctx(llm, ["coder", "tester"], {"apply": False}))
    assert res.outcome is Outcome.NO_CONSENSUS and res.summary.startswith("no quorum: 0 valid")
    assert kinds(res) == [(DecisionKind.BALLOT, DegradedReason.ABSTAINED)] * 2


async def test_rankings_read_from_text_or_abstain(make_ctx: MakeCtx) -> None:
    def ballot(answer: str) -> str:
        return json.dumps({"answer": answer})

    llm = ScriptedLLM([
        {"role": "coder", "purpose": "ballot", "content": ballot("A")},
        {"role": "tester", "purpose": "ballot", "content": ballot("B")},
        {"role": "coder", "purpose": "vote", "content": "Ranking: 2 > 1", "repeat": True},
        {"role": "tester", "purpose": "vote", "content": PROSE, "repeat": True},
    ])
    res = await Committee().run(make_ctx(llm, ["coder", "tester"], {
        "aggregation": "ranking", "quorum": 1, "apply": False}))
    assert res.outcome is Outcome.DONE and res.decision == "B"
    assert sorted(kinds(res)) == [(DecisionKind.VOTE, DegradedReason.ABSTAINED),
                                  (DecisionKind.VOTE, DegradedReason.READ_FROM_TEXT)]


async def test_chair_prose_is_the_decision_and_an_empty_chair_is_no_decision(
        make_ctx: MakeCtx) -> None:
    def ballot(answer: str) -> str:
        return json.dumps({"answer": answer, "rationale": "r"})

    def run(chair_answer: str) -> Any:
        llm = ScriptedLLM([
            {"role": "coder", "purpose": "ballot", "content": ballot("Postgres")},
            {"role": "tester", "purpose": "ballot", "content": ballot("SQLite")},
            {"role": "reviewer", "purpose": "chair", "content": chair_answer, "repeat": True},
        ])
        return Committee().run(make_ctx(llm, ["coder", "tester"], {
            "aggregation": "chair", "chair": "reviewer", "apply": False}))

    res = await run("We adopt proposal 1: Postgres, with SQLite for tests.")
    assert res.outcome is Outcome.DONE
    assert res.decision == "We adopt proposal 1: Postgres, with SQLite for tests."
    assert kinds(res) == [(DecisionKind.CHAIR, DegradedReason.READ_FROM_TEXT)]
    res = await run("")
    assert res.outcome is Outcome.NO_CONSENSUS and "no decision" in res.summary
    assert kinds(res) == [(DecisionKind.CHAIR, DegradedReason.NO_DECISION)]
    assert [v["answer"] for v in res.votes if "answer" in v] == ["Postgres", "SQLite"]


async def test_unreadable_lead_plan_is_one_subtask_and_review_is_changes_requested(
        make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "supervisor", "purpose": "plan", "content": "Split by layer: API then UI.",
         "repeat": True},
        {"role": "doc_writer", "content": "Wrote it.", "repeat": True},
        {"role": "supervisor", "purpose": "review", "content": "Needs examples.",
         "repeat": True},
    ])
    res = await SupervisorWorker().run(make_ctx(llm, ["supervisor", "doc_writer", "coder"],
                                                {"max_rounds": 2}))
    assert res.outcome is Outcome.FAILED and res.rounds == 2
    assert kinds(res) == [(DecisionKind.LEAD_PLAN, DegradedReason.SINGLE_SUBTASK),
                          (DecisionKind.LEAD_REVIEW, DegradedReason.CHANGES_REQUESTED),
                          (DecisionKind.LEAD_REVIEW, DegradedReason.CHANGES_REQUESTED)]
    work = [c for c in llm.calls if c.context.role in ("doc_writer", "coder")]
    assert {c.context.role for c in work} == {"doc_writer"}  # the first worker
    assert "Split by layer: API then UI." in work[0].messages[-1]["content"]  # lead's notes
    assert "The lead sent this back: Needs examples." in work[1].messages[-1]["content"]


async def test_lead_review_marker_approves(make_ctx: MakeCtx) -> None:
    plan = json.dumps({"subtasks": [{"id": "a", "title": "Draft", "role": "doc_writer"}]})
    llm = ScriptedLLM([
        {"role": "supervisor", "purpose": "plan", "content": plan},
        {"role": "doc_writer", "content": "Wrote it."},
        {"role": "supervisor", "purpose": "review", "content": "APPROVED - good docs",
         "repeat": True},
    ])
    res = await SupervisorWorker().run(make_ctx(llm, ["supervisor", "doc_writer"]))
    assert res.outcome is Outcome.DONE
    assert kinds(res) == [(DecisionKind.LEAD_REVIEW, DegradedReason.READ_FROM_TEXT)]


async def test_degraded_decisions_survive_a_resume(make_ctx: MakeCtx) -> None:
    from crew.errors import ProviderError

    states: list[dict[str, Any]] = []
    first = ScriptedLLM([{"role": "coder", "content": "Draft.", "repeat": True},
                         {"role": "reviewer", "turn": 1, "purpose": "review", "content": PROSE},
                         {"role": "reviewer", "turn": 1, "purpose": "verdict", "repeat": True,
                          "content": "CHANGES REQUESTED: fix x"},  # the re-ask's marker
                         {"role": "reviewer", "turn": 2, "error": "server"}])
    with pytest.raises(ProviderError):  # the provider dies in round 2
        await ReviewLoop().run(make_ctx(first, ["coder", "reviewer"],
                                        checkpoint=states.append))
    assert [d["reason"] for d in states[-1]["degraded"]] == ["read_from_text"]
    second = ScriptedLLM([{"role": "coder", "content": "Fixed."},
                          {"role": "reviewer", "turn": 2, "content": json.dumps(
                              {"approved": True, "summary": "ok", "changes": []})}])
    res = await ReviewLoop().run(make_ctx(second, ["coder", "reviewer"], state=states[-1]))
    assert res.outcome is Outcome.DONE and res.rounds == 2
    assert kinds(res) == [(DecisionKind.VERDICT, DegradedReason.READ_FROM_TEXT)]
    assert res.degraded[0].round == 1
