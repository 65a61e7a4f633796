"""Prompt layout for provider prompt caches: every later request of an agent repeats its earlier
request as a prefix (system and repo context first, the conversation only appended), in a
multi-turn tool-using agent and across debate rounds; the committee chair gets each ballot's
answer and rationale without the task text again; a role's goal is never said twice."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pattern_helpers import ROLES

from crew.agent import Agent, system_prompt
from crew.context import RunContext
from crew.llm.types import Message
from crew.patterns.base import TaskInfo
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.setup import pattern_context
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM


def assert_extends(calls: list[list[Message]]) -> None:
    """Each request starts with the whole previous request of the same agent."""
    for before, after in itertools.pairwise(calls):
        assert len(after) > len(before)
        assert after[:len(before)] == before


async def test_tool_using_agent_only_appends(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("A = 1\n")
    llm = ScriptedLLM([
        {"tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "a.py"}}]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "b.py", "content": "B=2\n"}}]},
        {"content": "Done."}])
    role = RoleSpec(name="coder", title="Coder", goal="Write working code.",
                    instructions="Make the smallest change.", model="smart",
                    tools=["read_file", "write_file", "list_files"], max_turns=10)
    res = await Agent(role, llm, workspace=tmp_path, run_context=RunContext()).run(
        "Add b.py", repo_context="## Repo\na.py")
    assert res.final and len(llm.calls) == 4
    assert not any(o.is_error for o in res.tool_calls)
    msgs = [c.messages for c in llm.calls]
    assert_extends(msgs)
    assert msgs[0][0]["role"] == "system" and "## Repo" in msgs[0][1]["content"]


async def test_debaters_conversations_only_append_and_judge_sees_every_round() -> None:
    llm = ScriptedLLM([
        {"role": "coder", "turn": 1, "content": "Use A.\nPOSITION: a"},
        {"role": "coder", "turn": 2, "content": "Still A.\nPOSITION: a"},
        {"role": "coder", "turn": 3, "content": "A, with B's check.\nPOSITION: a plus check"},
        {"role": "tester", "content": "Use B.\nPOSITION: b", "repeat": True},
        {"role": "reviewer", "purpose": "judge", "content": json.dumps(
            {"decision": "A", "rationale": "simpler"})}])
    task = TaskInfo("t", "Pick", "Pick A or B.", ("coder", "tester"),
                    {"rounds": 3, "early_stop": False})
    await Debate().run(pattern_context(task, ROLES, llm, run_id="r"))
    by_role: dict[str, list[list[Message]]] = defaultdict(list)
    for c in llm.calls:
        by_role[c.context.role if c.context else ""].append(c.messages)
    for role in ("coder", "tester"):
        assert len(by_role[role]) == 3
        assert_extends(by_role[role])
        assert "POSITION" not in by_role[role][2][-1]["content"].split("\n\n")[-1]
    judge = "\n".join(str(m["content"]) for m in by_role["reviewer"][0])
    assert "Round 2:" in judge and "a plus check" in judge  # earlier rounds, compactly


async def test_chair_gets_answers_with_rationales_not_the_task_again() -> None:
    def ballot(answer: str, why: str) -> dict[str, Any]:
        return {"purpose": "ballot", "content": json.dumps({"answer": answer, "rationale": why})}

    llm = ScriptedLLM([ballot("APPROVE", "tests cover the edge cases"),
                       ballot("REJECT", "the parser drops quoted commas"),
                       {"purpose": "chair", "content": json.dumps(
                           {"decision": "REJECT", "rationale": "a real bug"})}])
    task = TaskInfo("t", "Review the CSV export", "A long description " * 20,
                    ("reviewer", "tester"), {"aggregation": "chair", "chair": "supervisor"})
    await Committee().run(pattern_context(task, ROLES, llm, run_id="r"))
    chair = "\n".join(str(m["content"]) for m in llm.calls[-1].messages)
    assert "quoted commas" in chair and "edge cases" in chair
    assert "A long description" not in chair and "Review the CSV export" in chair


def test_goal_said_once() -> None:
    stated = RoleSpec(name="x", title="Tester", goal="Find the bugs.",
                      instructions="Read the diff. Find the bugs. Then run the tests.")
    prompt, _ = system_prompt(stated, with_tools=False)
    assert prompt.count("Find the bugs.") == 1 and prompt.startswith("Tester.")
    other = stated.model_copy(update={"instructions": "Run the tests."})
    assert system_prompt(other, with_tools=False)[0].startswith("Tester: Find the bugs.")
