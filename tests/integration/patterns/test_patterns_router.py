"""Every built-in pattern end to end through the real Router, on the replay provider and on
the stub HTTP server: normal outcomes, max rounds, guard and budget stops, committee tie and
no quorum, an early-stopping debate, and two concurrent workers editing one repo."""

from __future__ import annotations

import subprocess
from typing import Any

from router_helpers import MakeLLM, ctx_for, say, write

from crew.llm import Budget, Limits
from crew.patterns.base import Outcome
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.single import Single
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.workspace.worktrees import Workspace


def verdict(ok: bool) -> dict[str, Any]:
    return {"approved": ok, "summary": "fine" if ok else "no",
            "changes": [] if ok else [{"file": "app.py", "problem": "wrong value"}]}


async def test_single(make_llm: MakeLLM, workspace: Workspace) -> None:
    llm = make_llm([write("coder", "app.py", "VALUE = 2\n"), say("coder", "Set to 2.")])
    res = await Single().run(ctx_for(llm, ["coder"], workspace=workspace))
    assert res.outcome is Outcome.DONE and res.artifacts.files_changed == ["app.py"]
    assert {e.pattern for e in llm.ledger.entries} == {"single"}
    assert {(e.run_id, e.task_id, e.role) for e in llm.ledger.entries} == {("r1", "t1", "coder")}


async def test_review_loop_approved_in_round_two(make_llm: MakeLLM, workspace: Workspace) -> None:
    llm = make_llm([
        write("coder", "app.py", "VALUE = 3\n"), say("coder", "3."),
        say("reviewer", verdict(False)),
        write("coder", "app.py", "VALUE = 2\n"), say("coder", "2 now."),
        say("reviewer", verdict(True)),
    ])
    res = await ReviewLoop().run(ctx_for(llm, ["coder", "reviewer"], workspace=workspace))
    assert res.outcome is Outcome.DONE and res.rounds == 2
    assert (workspace.path / "app.py").read_text() == "VALUE = 2\n" and res.artifacts.commit
    purposes = {(e.role, e.purpose) for e in llm.ledger.entries}
    assert purposes == {("coder", ""), ("reviewer", "review")}


async def test_review_loop_max_rounds(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "draft", repeat=True), say("reviewer", verdict(False),
                                                            repeat=True)])
    res = await ReviewLoop().run(ctx_for(llm, ["coder", "reviewer"], {"max_rounds": 2}))
    assert res.outcome is Outcome.FAILED and res.stopped_by == "max_rounds" and res.rounds == 2


async def test_review_loop_guard(make_llm: MakeLLM, workspace: Workspace) -> None:
    same = {"role": "coder", "repeat": True,
            "tool_calls": [{"name": "list_files", "arguments": {}}]}
    res = await ReviewLoop().run(ctx_for(make_llm([same]), ["coder", "reviewer"],
                                         workspace=workspace))
    assert res.outcome is Outcome.GUARD and res.stopped_by == "guard"
    assert "list_files" in res.summary


async def test_review_loop_budget(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "draft " * 50, repeat=True),
                    say("reviewer", verdict(False), repeat=True)],
                   budget=Budget(Limits(tokens=400)))
    res = await ReviewLoop().run(ctx_for(llm, ["coder", "reviewer"], {"max_rounds": 20}))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"
    assert "tokens" in res.summary


async def test_supervisor_two_concurrent_workers(make_llm: MakeLLM,
                                                 workspace: Workspace) -> None:
    plan = {"subtasks": [{"id": "code", "title": "code", "role": "coder"},
                         {"id": "tests", "title": "tests", "role": "tester"}]}
    llm = make_llm([
        say("supervisor", plan, purpose="plan"),
        write("coder", "export.py", "def export(): ...\n"), say("coder", "export.py written"),
        write("tester", "test_export.py", "def test(): ...\n"), say("tester", "tests written"),
        say("supervisor", {"approved": True, "summary": "done"}, purpose="review"),
    ])
    res = await SupervisorWorker().run(ctx_for(llm, ["supervisor", "coder", "tester"],
                                               workspace=workspace))
    assert res.outcome is Outcome.DONE
    assert res.artifacts.files_changed == ["export.py", "test_export.py"]
    tree = subprocess.run(["git", "-C", str(workspace.root), "ls-tree", "--name-only",
                           workspace.branch], capture_output=True, text=True, check=True).stdout
    assert {"export.py", "test_export.py"} <= set(tree.split())


def ballot(role: str, answer: str) -> dict[str, Any]:
    return say(role, {"answer": answer, "rationale": "r"}, purpose="ballot")


async def test_committee_majority(make_llm: MakeLLM) -> None:
    members = ["coder", "tester", "reviewer"]
    llm = make_llm([ballot("coder", "B"), ballot("tester", "A"), ballot("reviewer", "b")])
    res = await Committee().run(ctx_for(llm, members))
    assert res.outcome is Outcome.DONE and res.decision == "B"


async def test_committee_tie(make_llm: MakeLLM) -> None:
    llm = make_llm([ballot("coder", "A"), ballot("tester", "B")])
    res = await Committee().run(ctx_for(llm, ["coder", "tester"]))
    assert res.outcome is Outcome.NO_CONSENSUS and res.summary.startswith("tie")


async def test_committee_no_quorum(make_llm: MakeLLM) -> None:
    llm = make_llm([ballot("coder", "A"), say("tester", "not json", repeat=True)])
    res = await Committee().run(ctx_for(llm, ["coder", "tester"], {"quorum": 2}))
    assert res.outcome is Outcome.NO_CONSENSUS and res.summary.startswith("no quorum")


async def test_debate_early_stop_and_judge(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "x\nPOSITION: queue"), say("security_analyst", "y\nPOSITION: lock"),
                    say("coder", "POSITION: queue"), say("security_analyst", "POSITION: queue")])
    res = await Debate().run(ctx_for(llm, ["coder", "security_analyst"], {"rounds": 3}))
    assert res.outcome is Outcome.DONE and res.stopped_by == "consensus" and res.rounds == 2
    assert len(llm.ledger.entries) == 4


async def test_debate_judge(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "POSITION: A", repeat=True), say("tester", "POSITION: B",
                                                                  repeat=True),
                    say("reviewer", {"decision": "A", "rationale": "simpler"}, purpose="judge")])
    res = await Debate().run(ctx_for(llm, ["coder", "tester"]))
    assert res.outcome is Outcome.DONE and res.decision == "A" and res.rounds == 2
