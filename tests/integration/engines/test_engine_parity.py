"""The same termination cases on native and on every engine that runs the kind, through crew's
real Router on the replay provider: the loop is the pattern's own, so the outcome, stopped_by,
rounds and the checkpointed state must be the same whoever takes the members' turns."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from engine_helpers import MakeLLM, ballot, ctx_for, say, template

from crew.errors import CrewError
from crew.llm import Budget, Limits
from crew.patterns import default_registry
from crew.patterns.base import Outcome, PatternContext, PatternResult
from crew.patterns.engines import NATIVE, default_engines
from crew.workspace.worktrees import Workspace

pytestmark = pytest.mark.slow  # AutoGen and CrewAI turns take seconds

JUDGE = {"decision": "use a file lock", "rationale": "simplest that is safe"}
READ = {"name": "read_file", "arguments": {"path": "app.py"}}
REVIEW_KEYS = ("round", "fired", "approved", "passed", "votes", "feedback")
DEBATE_KEYS = ("round", "fired", "answers", "verdict")


def engines_for(kind: str) -> list[Any]:
    """native, and each installed engine that runs `kind`."""
    out: list[Any] = [NATIVE]
    for name in default_engines().names():
        spec = default_engines().get(name)
        if name != NATIVE and spec.runs(kind):
            out.append(pytest.param(name, marks=pytest.mark.skipif(
                not spec.installed(), reason=f"{spec.package} is not installed")))
    return out


async def run(kind: str, engine: str, ctx: PatternContext) -> PatternResult:
    return await default_registry().run(template(kind, engine=engine), ctx)


def verdict(ok: bool) -> dict[str, Any]:
    return {"approved": ok, "summary": "fine" if ok else "no",
            "changes": [] if ok else [{"file": "app.py", "problem": "wrong value"}]}


class Saved(list[dict[str, Any]]):
    """The checkpoints, copied as saved (a run serialises them; the state is mutated after)."""

    def __call__(self, state: dict[str, Any]) -> None:
        self.append(copy.deepcopy(state))


def picked(state: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: state.get(k) for k in keys}


# ------------------------------------------------------------------ review_loop


@pytest.mark.parametrize("engine", engines_for("review_loop"))
async def test_review_loop_approved_in_round_two(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([say("coder", "v1"), say("reviewer", verdict(False), purpose="review"),
                    say("coder", "v2"), say("reviewer", verdict(True), purpose="review")])
    saved = Saved()
    res = await run("review_loop", engine, ctx_for(llm, ["coder", "reviewer"],
                                                   checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.DONE, "approved", 2)
    assert res.summary == "approved in round 2: v2"
    assert [picked(s, REVIEW_KEYS) for s in saved] == [
        {"round": 1, "fired": None, "approved": False, "passed": None,
         "votes": [{"round": 1, "role": "reviewer", **verdict(False),
                       "changes": [{"file": "app.py", "line": None, "problem": "wrong value",
                                    "fix": ""}]}],
         "feedback": "Review: changes requested.\n- app.py: wrong value"},
        {"round": 2, "fired": ["approved"], "approved": True, "passed": None,
         "votes": [*saved[0]["votes"], {"round": 2, "role": "reviewer", **verdict(True)}],
         "feedback": "Review: changes requested.\n"}]


@pytest.mark.parametrize("engine", engines_for("review_loop"))
async def test_review_loop_max_rounds_not_approved_fails(make_llm: MakeLLM,
                                                          engine: str) -> None:
    llm = make_llm([say("coder", "draft", repeat=True),
                    say("reviewer", verdict(False), purpose="review", repeat=True)])
    saved = Saved()
    res = await run("review_loop", engine, ctx_for(llm, ["coder", "reviewer"], {"max_rounds": 2},
                                                   checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.FAILED, "max_rounds", 2)
    assert [(s["round"], s["fired"], s["approved"]) for s in saved] == [
        (1, None, False), (2, ["max_rounds"], False)]
    assert len(llm.ledger.entries) == 4


@pytest.mark.parametrize("engine", engines_for("review_loop"))
async def test_review_loop_guard_stop(make_llm: MakeLLM, workspace: Workspace,
                                      engine: str) -> None:
    """The author never answers (the same tool call over and over): crew's guard stops the
    pattern — the native agent's repeat guard, an engine's turn that ended without an answer."""
    llm = make_llm([{"role": "coder", "tool_calls": [READ], "repeat": True}])
    saved = Saved()
    res = await run("review_loop", engine, ctx_for(llm, ["coder", "reviewer"],
                                                   workspace=workspace, checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.GUARD, "guard", 1)
    assert res.summary.startswith("stopped by a guard: coder: ")
    assert [(s["round"], s["fired"], s["votes"]) for s in saved] == [(1, ["guard"], [])]
    assert {e.role for e in llm.ledger.entries} == {"coder"}  # no review after a guard


@pytest.mark.parametrize("engine", engines_for("review_loop"))
async def test_review_loop_budget_stop(make_llm: MakeLLM, engine: str) -> None:
    """The reviewer's budget is spent before its first call: Outcome.BUDGET, no round done."""
    llm = make_llm([say("coder", "v1"), say("reviewer", verdict(True), purpose="review")],
                   budget=Budget(per_role={"reviewer": Limits(tokens=1)}))
    saved = Saved()
    res = await run("review_loop", engine, ctx_for(llm, ["coder", "reviewer"],
                                                   checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.BUDGET, "budget", 0)
    assert "role:reviewer budget" in res.summary and saved == []
    assert [e.role for e in llm.ledger.entries] == ["coder"]


@pytest.mark.parametrize("engine", engines_for("review_loop"))
async def test_review_loop_resumes_after_a_crash(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([say("coder", "v1"), say("reviewer", verdict(False), purpose="review")])
    saved = Saved()
    with pytest.raises(CrewError):  # nothing scripted for round 2: the run dies there
        await run("review_loop", engine, ctx_for(llm, ["coder", "reviewer"],
                                                 checkpoint=saved))
    assert [(s["round"], s["fired"]) for s in saved] == [(1, None)]
    llm2 = make_llm([say("coder", "v2"), say("reviewer", verdict(True), purpose="review")])
    res = await run("review_loop", engine, ctx_for(llm2, ["coder", "reviewer"],
                                                   state=dict(saved[-1])))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.DONE, "approved", 2)
    assert [v["approved"] for v in res.votes] == [False, True]
    assert len(llm2.ledger.entries) == 2  # round 1 was not redone


# ------------------------------------------------------------------ debate


@pytest.mark.parametrize("engine", engines_for("debate"))
async def test_debate_consensus_stops_early(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([say("coder", "x\nPOSITION: queue"), say("tester", "y\nPOSITION: lock"),
                    say("coder", "POSITION: Queue."), say("tester", "POSITION: queue")])
    saved = Saved()
    res = await run("debate", engine, ctx_for(llm, ["coder", "tester"], {"rounds": 3},
                                              checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.DONE, "consensus", 2)
    assert res.decision == "queue"
    assert [picked(s, DEBATE_KEYS) for s in saved] == [
        {"round": 1, "fired": None, "answers": ["x\nPOSITION: queue", "y\nPOSITION: lock"],
         "verdict": None},
        {"round": 2, "fired": ["consensus"], "answers": ["POSITION: Queue.", "POSITION: queue"],
         "verdict": None}]
    assert "judge" not in {e.purpose for e in llm.ledger.entries}


@pytest.mark.parametrize("engine", engines_for("debate"))
async def test_debate_max_rounds_goes_to_the_judge(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([say("coder", "POSITION: queue", repeat=True),
                    say("tester", "POSITION: lock", repeat=True),
                    say("reviewer", JUDGE, purpose="judge")])
    saved = Saved()
    res = await run("debate", engine, ctx_for(llm, ["coder", "tester"], {"rounds": 2},
                                              checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.DONE, "max_rounds", 2)
    assert (res.decision, res.summary) == (JUDGE["decision"], JUDGE["rationale"])
    assert [picked(s, DEBATE_KEYS) for s in saved] == [
        {"round": 1, "fired": None, "answers": ["POSITION: queue", "POSITION: lock"],
         "verdict": None},
        {"round": 2, "fired": ["max_rounds"], "answers": ["POSITION: queue", "POSITION: lock"],
         "verdict": None},
        {"round": 2, "fired": ["max_rounds"], "answers": ["POSITION: queue", "POSITION: lock"],
         "verdict": {**JUDGE, "winner": None}}]


@pytest.mark.parametrize("engine", engines_for("debate"))
async def test_debate_resumes_after_a_crash(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([say("coder", "POSITION: queue"), say("tester", "POSITION: lock")])
    saved = Saved()
    with pytest.raises(CrewError):
        await run("debate", engine, ctx_for(llm, ["coder", "tester"], {"rounds": 2},
                                            checkpoint=saved))
    assert [(s["round"], s["fired"]) for s in saved] == [(1, None)]
    llm2 = make_llm([say("coder", "POSITION: queue"), say("tester", "POSITION: lock"),
                     say("reviewer", JUDGE, purpose="judge")])
    res = await run("debate", engine, ctx_for(llm2, ["coder", "tester"], {"rounds": 2},
                                              state=dict(saved[-1])))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.DONE, "max_rounds", 2)
    assert res.decision == JUDGE["decision"] and len(llm2.ledger.entries) == 3


# ------------------------------------------------------------------ committee


@pytest.mark.parametrize("engine", engines_for("committee"))
async def test_committee_majority(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([ballot("coder", "B"), ballot("tester", "A"), ballot("reviewer", "b")])
    saved = Saved()
    res = await run("committee", engine, ctx_for(llm, ["coder", "tester", "reviewer"],
                                                 {"apply": False}, checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds, res.decision) == (
        Outcome.DONE, None, 1, "B")
    assert [picked(s, ("round", "proposals")) for s in saved] == [{"round": 1, "proposals": [
        {"member": i, "role": r, "model": r, "answer": a, "rationale": "r", "wid": None,
         "files": [], "diff": ""}
        for i, (r, a) in enumerate([("coder", "B"), ("tester", "A"), ("reviewer", "b")], 1)]}]


@pytest.mark.parametrize("engine", engines_for("committee"))
async def test_committee_no_quorum(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([ballot("coder", "A"), say("tester", "not json", repeat=True)])
    saved = Saved()
    res = await run("committee", engine, ctx_for(llm, ["coder", "tester"], {"apply": False},
                                                 checkpoint=saved))
    assert (res.outcome, res.rounds) == (Outcome.NO_CONSENSUS, 1)
    assert res.summary == "no quorum: 1 valid answer(s) of 2, quorum 2"
    assert [p is None for p in saved[0]["proposals"]] == [False, True]
    assert any(v.get("role") == "tester" and "error" in v for v in res.votes)


# ------------------------------------------------------------------ supervisor_worker, single

PLAN = {"subtasks": [{"id": "export", "title": "Write export", "description": "d",
                      "role": "coder", "depends_on": []}]}


@pytest.mark.parametrize("engine", engines_for("supervisor_worker"))
async def test_supervisor_sends_back_then_approves(make_llm: MakeLLM, engine: str) -> None:
    llm = make_llm([
        say("supervisor", PLAN, purpose="plan"),
        say("coder", "first try", purpose="work:export"),
        say("supervisor", {"approved": False, "summary": "no",
                           "redo": [{"id": "export", "feedback": "add headers"}]},
            purpose="review"),
        say("coder", "with headers", purpose="work:export"),
        say("supervisor", {"approved": True, "summary": "done"}, purpose="review")])
    saved = Saved()
    res = await run("supervisor_worker", engine, ctx_for(llm, ["supervisor", "coder"],
                                                         checkpoint=saved))
    assert (res.outcome, res.stopped_by, res.rounds, res.summary) == (
        Outcome.DONE, "approved", 2, "done")
    assert [(s["round"], s["fired"], s["redo"], s["results"]["export"]["summary"])
            for s in saved] == [
        (1, None, [{"id": "export", "feedback": "add headers"}], "first try"),
        (2, ["approved"], [], "with headers")]


@pytest.mark.parametrize("engine", engines_for("single"))
async def test_single_done_and_guarded(make_llm: MakeLLM, workspace: Workspace,
                                       engine: str) -> None:
    res = await run("single", engine, ctx_for(make_llm([say("coder", "all done")]), ["coder"]))
    assert (res.outcome, res.stopped_by, res.rounds, res.summary) == (
        Outcome.DONE, None, 1, "all done")
    llm = make_llm([{"role": "coder", "tool_calls": [READ], "repeat": True}])
    res = await run("single", engine, ctx_for(llm, ["coder"], workspace=workspace))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.GUARD, "guard", 1)
