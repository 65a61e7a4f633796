"""Deterministic JSON repair and the ask loop (with ScriptedLLM: no litellm)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from crew.errors import ModelBehaviorError
from crew.llm import CallContext, StructuredOutputError, parse_as, repair_json
from crew.testing import ScriptedLLM


class Plan(BaseModel):
    tasks: list[str]
    parallel: bool = False


@pytest.mark.parametrize(("text", "expected"), [
    ('{"tasks": ["a"]}', {"tasks": ["a"]}),
    ('```json\n{"tasks": ["a"]}\n```', {"tasks": ["a"]}),
    ('Here is the plan:\n{"tasks": ["a", "b"]}\nHope that helps!', {"tasks": ["a", "b"]}),
    ('{"tasks": ["a", "b",],}', {"tasks": ["a", "b"]}),
    ("{'tasks': ['it\\'s', 'say \"hi\"']}", {"tasks": ["it's", 'say "hi"']}),
    ("{'tasks': [], 'parallel': True, 'x': None}", {"tasks": [], "parallel": True, "x": None}),
    ('noise {"tasks": ["}"]} more {"other": 1}', {"tasks": ["}"]}),
    ('[1, 2,]', [1, 2]),
    # json-repair, the last deterministic step: unquoted keys, a truncated answer
    ('{tasks: ["a"], parallel: true}', {"tasks": ["a"], "parallel": True}),
    ('Sure: {"tasks": ["a", "b"], "parallel": true, "note": "cut he',
     {"tasks": ["a", "b"], "parallel": True, "note": "cut he"}),
    ('{"tasks": [', {"tasks": []}),
])
def test_repair_json(text: str, expected: object) -> None:
    assert repair_json(text) == expected


@pytest.mark.parametrize("text", ["no json here", "APPROVED. Looks good to me.", ""])
def test_unrepairable_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        repair_json(text)


def test_parse_as_names_the_failing_field() -> None:
    with pytest.raises(ValueError, match=r"tasks: Input should be a valid list"):
        parse_as(Plan, '{"tasks": "not a list"}')
    with pytest.raises(ValueError, match="empty"):
        parse_as(Plan, "  ")


async def test_ask_repairs_then_reasks_with_the_error_then_succeeds() -> None:
    llm = ScriptedLLM(['{"tasks": "oops"}', "```\n{'tasks': ['a'], 'parallel': True,}\n```"])
    plan = await llm.ask("smart", [{"role": "user", "content": "plan"}], Plan,
                         context=CallContext(purpose="plan"))
    assert plan == Plan(tasks=["a"], parallel=True)
    first, second = llm.calls
    # the reply format rides on the caller's last user message (no message of its own)
    assert first.messages == [{"role": "user", "content": (
        'plan\n\nJSON: {"tasks":[str,...],"parallel"?:bool}')}]
    assert second.messages[-2] == {"role": "assistant", "content": '{"tasks": "oops"}'}
    assert "tasks" in second.messages[-1]["content"] and "invalid" in second.messages[-1]["content"]
    assert second.messages[0] == first.messages[0]  # stable prefix kept
    llm.assert_complete()


async def test_ask_gives_up_after_max_reasks_with_a_model_behavior_error() -> None:
    llm = ScriptedLLM([{"content": "nope", "repeat": True}])
    with pytest.raises(StructuredOutputError) as info:
        await llm.ask("smart", [], Plan, max_reasks=2)
    assert isinstance(info.value, ModelBehaviorError)
    assert info.value.attempts == 3 and len(info.value.errors) == 3 and len(llm.calls) == 3
    assert info.value.last_output == "nope" and "Plan" in str(info.value)


def test_json_repair_library_is_the_last_step_and_parse_as_validates_its_result() -> None:
    # a truncated verdict (the model hit max_tokens) is completed, then validated
    assert parse_as(Plan, '```json\n{"tasks": ["a", "b"], "parallel": false') == Plan(
        tasks=["a", "b"])
    # what the library makes of prose ("") is no answer, not an empty object
    with pytest.raises(ValueError, match="no JSON"):
        parse_as(Plan, "I would split this into two tasks.")


def test_schema_instruction_is_a_compact_field_list() -> None:
    from crew.llm.structured import schema_instruction, schema_shape
    from crew.llm.types import estimate_tokens
    from crew.patterns.review_loop import Verdict
    from crew.run.plan import PlanOut

    assert schema_shape(Verdict) == (
        '{"approved":bool,"summary"?:str,"changes"?:[{"file"?:str,"line"?:int,'
        '"problem":str,"fix"?:str},...]}')
    # the JSON Schema dump it replaced cost 200 (Verdict) and 279 (PlanOut) tokens
    assert estimate_tokens(schema_instruction(Verdict)) <= 45
    assert estimate_tokens(schema_instruction(PlanOut)) <= 60
