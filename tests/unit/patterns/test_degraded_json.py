"""Degraded decisions from an answer that is JSON but fails its schema (a field of the wrong
type): the fallback takes the fields it can from the JSON, never the raw JSON text as the
decision (crew.patterns.decisions.read_fields)."""

from __future__ import annotations

import json
from typing import Any

from pattern_helpers import MakeCtx

from crew.patterns.base import Outcome
from crew.patterns.debate import Debate
from crew.patterns.decisions import DecisionKind, DegradedReason
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
