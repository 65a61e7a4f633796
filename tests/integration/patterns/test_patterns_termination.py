"""Termination of every built-in pattern through the real Router, on the replay provider and on
the stub HTTP server: max rounds, guard stops and budget stops (where the pattern has them), and a
supervisor_worker resumed from its round-1 checkpoint. Budget tests give every answer explicit
`usage`, so both backends count the same tokens; "no request after the stop" is checked on the
stub's request log and on the replay script's unserved entries."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from typing import Any

import pytest
from router_helpers import MakeLLM, ctx_for, say, write

from crew.llm import LLM, Budget, Limits
from crew.patterns.base import Outcome
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.single import Single
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.testing import StubServer
from crew.workspace.worktrees import Workspace

WITH_GUARD = "approved | max_rounds | guard"


def usage(prompt: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": 10}


def looping(role: str) -> dict[str, Any]:
    """The same tool call forever: the agent's repeated-tool-call guard stops it."""
    return {"role": role, "repeat": True, "tool_calls": [{"name": "list_files", "arguments": {}}]}


def plan(role: str, sub: str = "code") -> dict[str, Any]:
    return say("supervisor", {"subtasks": [{"id": sub, "title": sub, "role": role}]},
               purpose="plan")


def send_back(sub: str, feedback: str, **keys: Any) -> dict[str, Any]:
    return say("supervisor", {"approved": False, "summary": "not yet",
                              "redo": [{"id": sub, "feedback": feedback}]},
               purpose="review", **keys)


APPROVE = say("supervisor", {"approved": True, "summary": "done"}, purpose="review")


def sent(backend: str, stub: StubServer, llm: LLM, answers: list[dict[str, Any]],
         since: int = 0) -> Counter[str]:
    """Requests that reached the model, by role: the stub's log, or the replay entries served
    (entries with `repeat` are not counted on replay)."""
    if backend == "stub":
        return Counter(r.model for r in stub.requests[since:])
    unserved = {i for idx in llm.replay_unserved().values() for i in idx}
    return Counter(a["role"] for i, a in enumerate(answers)
                   if i not in unserved and not a.get("repeat"))


def branch_file(ws: Workspace, path: str) -> str:
    return subprocess.run(["git", "-C", str(ws.root), "show", f"{ws.branch}:{path}"],
                          capture_output=True, text=True, check=True).stdout


# ---------------------------------------------------------------- supervisor_worker

async def test_supervisor_max_rounds(make_llm: MakeLLM, backend: str, stub: StubServer) -> None:
    answers = [plan("doc_writer", "doc"),
               say("doc_writer", "draft 1"), send_back("doc", "add examples"),
               say("doc_writer", "draft 2"), send_back("doc", "add examples"),
               say("doc_writer", "draft 3"), send_back("doc", "add examples")]
    llm = make_llm(answers)
    saved: list[dict[str, Any]] = []
    res = await SupervisorWorker().run(ctx_for(llm, ["supervisor", "doc_writer"],
                                               {"max_rounds": 3}, checkpoint=saved.append))
    assert res.outcome is Outcome.FAILED and res.stopped_by == "max_rounds" and res.rounds == 3
    assert [s["round"] for s in saved] == [1, 2, 3]
    assert sent(backend, stub, llm, answers) == Counter(supervisor=4, doc_writer=3)
    assert [e.turn for e in llm.ledger.entries if e.purpose == "review"] == [1, 2, 3]
    if backend == "stub":  # the lead's feedback reached the worker
        later = stub.requests_for("doc_writer")[1:]
        assert all("sent this back: add examples" in r.body["messages"][-1]["content"]
                   for r in later)


async def test_supervisor_guard_stops_before_review(make_llm: MakeLLM, backend: str,
                                                    stub: StubServer,
                                                    workspace: Workspace) -> None:
    answers = [plan("coder"), write("coder", "app.py", "VALUE = 9\n"), looping("coder"),
               APPROVE]
    llm = make_llm(answers)
    head = workspace.head()
    res = await SupervisorWorker().run(ctx_for(llm, ["supervisor", "coder"],
                                               workspace=workspace, termination=WITH_GUARD))
    assert res.outcome is Outcome.GUARD and res.stopped_by == "guard" and res.rounds == 1
    assert "list_files" in res.summary
    # the lead was not asked to review (or approve) a worker a guard stopped
    assert sent(backend, stub, llm, answers)["supervisor"] == 1
    assert not [e for e in llm.ledger.entries if e.purpose == "review"]
    # the unfinished work was neither committed nor merged
    assert workspace.head() == head and branch_file(workspace, "app.py") == "VALUE = 1\n"
    assert res.artifacts.commit is None and res.artifacts.files_changed == []


async def test_supervisor_budget_stop_mid_pattern(make_llm: MakeLLM, backend: str,
                                                  stub: StubServer) -> None:
    answers = [plan("doc_writer", "doc") | {"usage": usage(100)},
               say("doc_writer", "draft 1", usage=usage(100)),
               send_back("doc", "add examples", usage=usage(100)),
               say("doc_writer", "draft 2", usage=usage(5000)),  # crosses the limit
               APPROVE | {"usage": usage(100)}]
    llm = make_llm(answers, budget=Budget(Limits(tokens=2000)))
    saved: list[dict[str, Any]] = []
    res = await SupervisorWorker().run(ctx_for(llm, ["supervisor", "doc_writer"],
                                               {"max_rounds": 3}, checkpoint=saved.append))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"
    assert "tokens" in res.summary and res.rounds == 1
    assert [s["round"] for s in saved] == [1]  # round 2 never completed
    # nothing was asked after the call that crossed the limit: the round-2 review never went out
    assert sent(backend, stub, llm, answers) == Counter(supervisor=2, doc_writer=2)
    assert len(llm.ledger.entries) == 4 and llm.ledger.entries[-1].role == "doc_writer"


class Interrupted(Exception):
    """Stands in for a crash right after a checkpoint."""


async def test_supervisor_resumes_at_round_two(make_llm: MakeLLM, backend: str,
                                               stub: StubServer, workspace: Workspace) -> None:
    saved: list[dict[str, Any]] = []

    def crash_after_round_one(state: dict[str, Any]) -> None:
        saved.append(json.loads(json.dumps(state)))  # what a run persists
        raise Interrupted

    first = [plan("coder"), write("coder", "app.py", "VALUE = 2\n"), say("coder", "set 2"),
             send_back("code", "also add NAME")]
    llm1 = make_llm(first)
    with pytest.raises(Interrupted):
        await SupervisorWorker().run(ctx_for(llm1, ["supervisor", "coder"], {"max_rounds": 3},
                                             workspace=workspace,
                                             checkpoint=crash_after_round_one))
    assert [s["round"] for s in saved] == [1]
    assert branch_file(workspace, "app.py") == "VALUE = 2\n"  # round 1 was merged
    n_before = len(stub.requests)

    second = [write("coder", "names.py", "NAME = 'x'\n"), say("coder", "added NAME"), APPROVE]
    llm2 = make_llm(second)
    res = await SupervisorWorker().run(ctx_for(llm2, ["supervisor", "coder"], {"max_rounds": 3},
                                               workspace=workspace, state=saved[0]))
    assert res.outcome is Outcome.DONE and res.rounds == 2
    # no plan and no round-1 work or review asked again; the redo got the lead's feedback
    assert sent(backend, stub, llm2, second, since=n_before) == Counter(coder=2, supervisor=1)
    assert not [e for e in llm2.ledger.entries if e.purpose == "plan"]
    assert [e.turn for e in llm2.ledger.entries if e.purpose == "review"] == [2]
    if backend == "stub":
        redo = stub.requests_for("coder")[2]
        assert "sent this back: also add NAME" in redo.body["messages"][-1]["content"]
    # artifacts count from the base saved in round 1, so both rounds' files are reported
    assert res.artifacts.files_changed == ["app.py", "names.py"]
    assert branch_file(workspace, "names.py") == "NAME = 'x'\n"


# ---------------------------------------------------------------- committee

async def test_committee_budget_stop(make_llm: MakeLLM, backend: str, stub: StubServer) -> None:
    answers = [say(r, {"answer": a, "rationale": "r"}, purpose="ballot", usage=usage(450))
               for r, a in (("coder", "A"), ("tester", "B"), ("doc_writer", "A"))]
    answers.append(say("reviewer", {"decision": "A", "rationale": "r", "chosen": 1},
                       purpose="chair"))
    llm = make_llm(answers, budget=Budget(Limits(tokens=1000)))
    res = await Committee().run(ctx_for(llm, ["coder", "tester", "doc_writer"],
                                        {"aggregation": "chair"}))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"
    assert res.decision is None and "tokens" in res.summary
    calls = sent(backend, stub, llm, answers)
    assert calls["reviewer"] == 0  # the chair was never asked
    assert 2 <= sum(calls.values()) <= 3


# ---------------------------------------------------------------- debate

async def test_debate_max_rounds_goes_to_the_judge(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "POSITION: A", repeat=True),
                    say("tester", "POSITION: B", repeat=True),
                    say("reviewer", {"decision": "A", "rationale": "simpler"}, purpose="judge")])
    res = await Debate().run(ctx_for(llm, ["coder", "tester"], {"rounds": 3}))
    assert res.outcome is Outcome.DONE and res.stopped_by == "max_rounds" and res.rounds == 3
    assert res.decision == "A" and res.summary == "simpler"
    assert Counter(e.role for e in llm.ledger.entries) == Counter(coder=3, tester=3, reviewer=1)
    assert [e.turn for e in llm.ledger.entries if e.purpose == "judge"] == [3]


async def test_debate_budget_stop_mid_debate(make_llm: MakeLLM, backend: str,
                                             stub: StubServer) -> None:
    answers = [say("coder", "POSITION: A", turn=1, usage=usage(100)),
               say("tester", "POSITION: B", turn=1, usage=usage(100)),
               say("coder", "POSITION: A", turn=2, usage=usage(1000)),
               say("tester", "POSITION: B", turn=2, usage=usage(1000)),
               say("coder", "POSITION: A", turn=3), say("tester", "POSITION: B", turn=3),
               say("reviewer", {"decision": "A", "rationale": "r"}, purpose="judge")]
    llm = make_llm(answers, budget=Budget(Limits(tokens=1000)))
    res = await Debate().run(ctx_for(llm, ["coder", "tester"], {"rounds": 3}))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget" and res.rounds == 1
    calls = sent(backend, stub, llm, answers)
    assert calls["reviewer"] == 0 and calls["coder"] <= 2 and calls["tester"] <= 2
    assert calls["coder"] + calls["tester"] >= 3  # round 2 was under way
    assert not [e for e in llm.ledger.entries if e.turn == 3 or e.purpose == "judge"]


async def test_debate_guard_stop(make_llm: MakeLLM, backend: str, stub: StubServer,
                                 workspace: Workspace) -> None:
    # Debaters only have tools (hence guards) with a workspace; without one they answer in
    # plain completions and no guard can fire.
    answers = [looping("coder"), say("tester", "POSITION: B", repeat=True),
               say("reviewer", {"decision": "B", "rationale": "r"}, purpose="judge")]
    llm = make_llm(answers)
    res = await Debate().run(ctx_for(llm, ["coder", "tester"], {"rounds": 2},
                                     workspace=workspace,
                                     termination="consensus | max_rounds | guard"))
    assert res.outcome is Outcome.GUARD and res.stopped_by == "guard" and res.rounds == 1
    assert "list_files" in res.summary
    roles = Counter(e.role for e in llm.ledger.entries)
    assert roles["tester"] == 1 and roles["reviewer"] == 0  # no round 2, no judge
    assert sent(backend, stub, llm, answers)["reviewer"] == 0


# ---------------------------------------------------------------- single

async def test_single_guard_stop(make_llm: MakeLLM, workspace: Workspace) -> None:
    llm = make_llm([write("coder", "app.py", "VALUE = 7\n"), looping("coder")])
    head = workspace.head()
    res = await Single().run(ctx_for(llm, ["coder"], workspace=workspace))
    assert res.outcome is Outcome.GUARD and res.stopped_by == "guard"
    assert "list_files" in res.summary
    # the edit is left uncommitted for the run to decide
    assert res.artifacts.commit is None and res.artifacts.files_changed == ["app.py"]
    assert workspace.head() == head and (workspace.path / "app.py").read_text() == "VALUE = 7\n"


async def test_single_budget_stop(make_llm: MakeLLM, backend: str, stub: StubServer,
                                  workspace: Workspace) -> None:
    answers = [write("coder", "app.py", "VALUE = 7\n", usage=usage(3000)), say("coder", "done")]
    llm = make_llm(answers, budget=Budget(Limits(tokens=1000)))
    head = workspace.head()
    res = await Single().run(ctx_for(llm, ["coder"], workspace=workspace))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"
    assert sent(backend, stub, llm, answers) == Counter(coder=1)
    # the tool call of the answer that crossed the limit never ran; nothing was committed
    assert (workspace.path / "app.py").read_text() == "VALUE = 1\n" and workspace.head() == head
