"""committee and debate with ScriptedLLM: votes, ties, quorum, proposals applied; debates that
agree early, go to the judge, and send only the others' latest answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pattern_helpers import ROLES, MakeCtx

from crew.patterns.base import Outcome, TaskInfo
from crew.patterns.committee import Committee, borda, plurality
from crew.patterns.debate import Debate, agreed, position
from crew.patterns.setup import pattern_context
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM
from crew.workspace.worktrees import Workspace


def ballot(answer: str, turn: int, role: str = "reviewer") -> dict[str, Any]:
    return {"role": role, "purpose": "ballot", "turn": turn,
            "content": json.dumps({"answer": answer, "rationale": "because"})}


async def test_committee_majority_in_one_round(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([ballot("Postgres", 1), ballot("sqlite", 2), ballot("postgres.", 3)])
    ctx = make_ctx(llm, ["reviewer"] * 3, {"models": ["smart", "fast", "smart"],
                                           "temperatures": [0.0, 0.5, 1.0]})
    res = await Committee().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.decision == "Postgres"
    assert res.summary == "2 of 3 members answered: Postgres"
    assert [c.alias for c in llm.calls] == ["smart", "fast", "smart"]
    assert sorted(c.params["temperature"] for c in llm.calls) == [0.0, 0.5, 1.0]
    assert [v["answer"] for v in res.votes] == ["Postgres", "sqlite", "postgres."]


async def test_committee_tie_is_no_consensus(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([ballot("A", 1), ballot("B", 2)])
    res = await Committee().run(make_ctx(llm, ["reviewer", "reviewer"]))
    assert res.outcome is Outcome.NO_CONSENSUS and res.summary == "tie between: a | b"
    assert res.decision is None


async def test_committee_without_quorum(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([ballot("A", 1), {"role": "reviewer", "turn": 2, "content": "no idea",
                                        "repeat": True}])
    res = await Committee().run(make_ctx(llm, ["reviewer", "reviewer"], {"quorum": 2}))
    assert res.outcome is Outcome.NO_CONSENSUS and res.summary.startswith("no quorum: 1 valid")
    assert any("error" in v for v in res.votes)


async def test_committee_options_are_enforced_and_chair_synthesises(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        ballot("maybe", 1, "coder"), ballot("yes", 1, "coder"), ballot("no", 2, "tester"),
        {"role": "supervisor", "purpose": "chair", "content": json.dumps(
            {"decision": "yes, with a flag", "rationale": "both sides have a point"})},
    ])
    ctx = make_ctx(llm, ["coder", "tester"], {"options": ["yes", "no"], "aggregation": "chair",
                                              "chair": "supervisor"})
    res = await Committee().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.decision == "yes, with a flag"


async def test_code_committee_proposes_votes_and_applies(make_ctx: MakeCtx,
                                                        workspace: Workspace) -> None:
    def member(i: int, value: str) -> list[dict[str, Any]]:
        return [{"purpose": f"member:{i}", "turn": 1, "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "app.py", "content": value}}]},
                {"purpose": f"member:{i}", "turn": 2, "content": f"proposal {i}"}]

    votes = [{"purpose": "vote", "turn": k, "content": json.dumps({"choice": c})}
             for k, c in ((1, 2), (2, 2), (3, 1))]
    llm = ScriptedLLM([*member(1, "V = 1\n"), *member(2, "V = 2\n"), *member(3, "V = 3\n"),
                       *votes])
    res = await Committee().run(make_ctx(llm, ["coder"] * 3, workspace=workspace))
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.decision == "proposal 2"
    assert (workspace.path / "app.py").read_text() == "V = 2\n"
    assert res.artifacts.files_changed == ["app.py"] and res.artifacts.commit


def test_plurality_and_borda() -> None:
    assert plurality(["a", "b", "a"]) == ("a", [])
    assert plurality(["a", "b"]) == (None, ["a", "b"])
    assert borda([[1, 2, 3], [2, 1, 3], [1, 3, 2]], 3) == (1, [], {1: 5, 2: 3, 3: 1})
    assert borda([[1, 2], [2, 1]], 2)[1] == [1, 2]


def test_positions_and_agreement() -> None:
    assert position("Long text.\nPOSITION: Use Postgres!") == "use postgres"
    assert agreed(["a\nPOSITION: yes", "b\n**Position:** YES."]) == "yes"
    assert agreed(["POSITION: yes", "no position"]) is None


async def test_debate_stops_early_on_agreement(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "turn": 1, "content": "Queue.\nPOSITION: use a queue"},
        {"role": "security_analyst", "turn": 1, "content": "Lock.\nPOSITION: use a lock"},
        {"role": "coder", "turn": 2, "content": "Still a queue.\nPOSITION: use a queue"},
        {"role": "security_analyst", "turn": 2, "content": "Agreed.\nPOSITION: Use a queue."},
    ])
    ctx = make_ctx(llm, ["coder", "security_analyst"], {"rounds": 3})
    res = await Debate().run(ctx)
    llm.assert_complete()  # no third round, no judge
    assert res.outcome is Outcome.DONE and res.rounds == 2 and res.stopped_by == "consensus"
    assert res.decision == "use a queue"
    # round 2 sees only the other's latest answer, not a transcript
    r2 = next(c for c in llm.calls if c.context.turn == 2 and c.context.role == "coder")
    assert len(r2.messages) == 4 and "Lock." in r2.messages[-1]["content"]
    assert "Queue." not in r2.messages[-1]["content"]


async def test_debate_without_agreement_goes_to_the_judge(make_ctx: MakeCtx) -> None:
    llm = ScriptedLLM([
        {"role": "coder", "content": "POSITION: A", "repeat": True},
        {"role": "tester", "content": "POSITION: B", "repeat": True},
        {"role": "reviewer", "purpose": "judge", "content": json.dumps(
            {"decision": "A", "rationale": "A is simpler", "winner": "Debater 1 (coder)"})},
    ])
    saved: list[dict[str, Any]] = []
    res = await Debate().run(make_ctx(llm, ["coder", "tester"], checkpoint=saved.append))
    assert res.outcome is Outcome.DONE and res.decision == "A" and res.rounds == 2
    assert res.stopped_by == "max_rounds" and res.summary == "A is simpler"
    assert [s["round"] for s in saved] == [1, 2, 2]  # the last: the judge's verdict
    assert saved[-1]["verdict"]["decision"] == "A" and saved[1]["fired"] == ["max_rounds"]
    assert [c.context.purpose for c in llm.calls][-1] == "judge"


async def test_a_committee_that_cannot_change_files_votes_on_answers(
        make_ctx: MakeCtx, workspace: Workspace) -> None:
    """Issue 31: the built-in reviewer and security_analyst (no write_file/edit_file) with
    `apply: true` (the default) and a workspace: was always "no quorum: 0 valid answer(s) of
    2" though both answered; now they vote on answers and the summary says why."""
    library = Path(__file__).resolve().parents[3] / "roles"
    roles = {**ROLES, **{n: RoleSpec(**yaml.safe_load((library / f"{n}.yaml").read_text()))
                         for n in ("reviewer", "security_analyst")}}
    llm = ScriptedLLM([ballot("ship it", 1), ballot("Ship it.", 2, "security_analyst")])
    task = TaskInfo(id="t1", title="Ship?", description="", roles=("reviewer",
                                                                   "security_analyst"))
    ctx = pattern_context(task, roles, llm, run_id="r1", workspace=workspace)
    res = await Committee().run(ctx)
    llm.assert_complete()
    assert res.outcome is Outcome.DONE and res.decision == "ship it"
    assert res.summary.startswith("reviewer, security_analyst cannot change files (no "
                                  "write_file/edit_file): voted on answers, nothing applied. ")
    assert res.artifacts.commit is None
