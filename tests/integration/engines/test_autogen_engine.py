"""debate and committee on the autogen engine (each member turn an AutoGen AssistantAgent run,
the loop crew's), every model call through crew's real Router on the replay provider: the
judge's decision, consensus, the ledger, budget stops, committee votes and code proposals,
crew's tools confined to the workspace, resume from a checkpoint, and the UserErrors of the
dispatch (missing package, a kind an engine does not run)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ROLES, MakeLLM, ballot, ctx_for, say, template

from crew.errors import UserError
from crew.llm import Budget, Limits
from crew.patterns import context_for_task, default_registry, engines
from crew.patterns.base import Outcome, PatternResult
from crew.testing import ListSink
from crew.workspace.worktrees import Workspace

pytestmark = [
    pytest.mark.slow,  # AutoGen agent runs take seconds
    pytest.mark.skipif(importlib.util.find_spec("autogen_agentchat") is None,
                       reason="the autogen extra is not installed (pip install -e '.[autogen]')"),
]

JUDGE = {"decision": "use a file lock", "rationale": "simplest that is safe"}


async def run(tpl_kind: str, ctx: Any, **kw: Any) -> PatternResult:
    return await default_registry().run(template(tpl_kind, **kw), ctx)


async def test_debate_rounds_then_judge_every_call_in_the_ledger(make_llm: MakeLLM) -> None:
    llm = make_llm([
        say("coder", "Queue writes.\nPOSITION: queue", purpose="debate", turn=1),
        say("tester", "Lock the file.\nPOSITION: lock", purpose="debate", turn=1),
        say("coder", "Still a queue.\nPOSITION: queue", purpose="debate", turn=2),
        say("tester", "Still a lock.\nPOSITION: lock", purpose="debate", turn=2),
        say("reviewer", JUDGE, purpose="judge"),
    ])
    res = await run("debate", ctx_for(llm, ["coder", "tester"], {"rounds": 2}))
    assert isinstance(res, PatternResult) and res.kind == "debate"
    assert res.outcome is Outcome.DONE and res.decision == "use a file lock"
    assert res.summary == "simplest that is safe" and res.stopped_by == "max_rounds"
    assert res.rounds == 2
    assert [v.get("positions") for v in res.votes[:2]] == [["queue", "lock"]] * 2
    assert res.votes[2]["role"] == "reviewer" and res.votes[2]["decision"] == JUDGE["decision"]
    # the debaters of a round answer concurrently: in either order within it
    assert sorted((t.round, t.role, t.purpose) for t in res.transcripts) == [
        (1, "coder", "debate"), (1, "tester", "debate"), (2, "coder", "debate"),
        (2, "reviewer", "judge"), (2, "tester", "debate")]
    # every call went through crew's Router and ledger, attributed like a native debate
    assert len(llm.ledger.entries) == 5
    assert sorted((e.turn, e.role, e.purpose) for e in llm.ledger.entries) == [
        (1, "coder", "debate"), (1, "tester", "debate"), (2, "coder", "debate"),
        (2, "reviewer", "judge"), (2, "tester", "debate")]
    assert llm.ledger.entries[-1].purpose == "judge"
    assert {(e.run_id, e.task_id, e.pattern) for e in llm.ledger.entries} == {
        ("r1", "t1", "debate")}
    assert all(not left for left in llm.replay_unserved().values())


async def test_debate_sees_the_others_answers(make_llm: MakeLLM, tmp_path: Path) -> None:
    """crew's debate on AutoGen: a later round's prompt carries the others' latest answers
    (labelled by crew's debate), never the answers of the same round."""
    seen: list[list[dict[str, Any]]] = []
    llm = make_llm([say("coder", "POSITION: A", repeat=True), say("tester", "POSITION: B",
                                                                   repeat=True),
                    say("reviewer", JUDGE, purpose="judge")])
    orig = llm.complete

    async def spy(alias: str, messages: list[dict[str, Any]], **kw: Any) -> Any:
        seen.append(messages)
        return await orig(alias, messages, **kw)

    llm.complete = spy  # type: ignore[method-assign]  # a recorder in front of the real Router
    res = await run("debate", ctx_for(llm, ["coder", "tester"], {"rounds": 2}))
    assert res.outcome is Outcome.DONE
    tester = [p for p in seen if "Tester" in p[0]["content"]]
    assert len(tester) == 2 and tester[0][0]["role"] == "system"
    assert not any("POSITION: A" in str(m["content"]) for m in tester[0])  # same round
    assert tester[1][-2] == {"role": "assistant", "content": "POSITION: B"}  # its own answer
    assert "[coder]\nPOSITION: A" in tester[1][-1]["content"]


async def test_debate_consensus_stops_early_without_judge(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "x\nPOSITION: queue"), say("security_analyst", "y\nPOSITION: lock"),
                    say("coder", "POSITION: Queue."), say("security_analyst", "POSITION: queue")])
    res = await run("debate", ctx_for(llm, ["coder", "security_analyst"], {"rounds": 3}),
                    termination="consensus | max_rounds")
    assert res.outcome is Outcome.DONE and res.stopped_by == "consensus"
    assert res.decision == "queue" and res.rounds == 2
    assert len(llm.ledger.entries) == 4 and "judge" not in {e.purpose for e in llm.ledger.entries}


async def test_debate_budget_stop(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "long " * 60 + "\nPOSITION: A", repeat=True),
                    say("tester", "long " * 60 + "\nPOSITION: B", repeat=True)],
                   budget=Budget(Limits(tokens=1500)))
    res = await run("debate", ctx_for(llm, ["coder", "tester"], {"rounds": 10}))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"
    assert "tokens" in res.summary
    assert 1 <= len(llm.ledger.entries) < 20  # stopped long before 10 rounds


async def test_debate_resumes_from_its_checkpoint(make_llm: MakeLLM) -> None:
    saved: list[dict[str, Any]] = []
    ctx = ctx_for(make_llm([say("coder", "POSITION: A"), say("tester", "POSITION: B"),
                            say("coder", "POSITION: A"), say("tester", "POSITION: B"),
                            say("reviewer", JUDGE, purpose="judge")]),
                  ["coder", "tester"], {"rounds": 2}, checkpoint=saved.append)
    first = await run("debate", ctx)
    assert [s.get("round") for s in saved] == [1, 2, 2] and "verdict" in saved[-1]
    # resumed after round 1: only round 2 and the judge are asked again
    llm2 = make_llm([say("coder", "POSITION: A", turn=2), say("tester", "POSITION: B", turn=2),
                     say("reviewer", JUDGE, purpose="judge")])
    ctx2 = ctx_for(llm2, ["coder", "tester"], {"rounds": 2}, state=dict(saved[0]))
    again = await run("debate", ctx2)
    assert again.decision == first.decision and again.rounds == 2
    assert len(llm2.ledger.entries) == 3
    # resumed after the end: nothing is asked again
    llm3 = make_llm([say("coder", "unused")])
    done = await run("debate", ctx_for(llm3, ["coder", "tester"], state=dict(saved[-1])))
    assert (done.outcome, done.decision, done.rounds, done.stopped_by) == (
        first.outcome, first.decision, first.rounds, first.stopped_by)
    assert llm3.ledger.entries == []


async def test_debate_tools_stay_in_the_workspace(make_llm: MakeLLM,
                                                  workspace: Workspace) -> None:
    read = {"name": "read_file", "arguments": {"path": "app.py"}}
    escape = {"name": "read_file", "arguments": {"path": "../../../etc/passwd"}}
    llm = make_llm([
        {"role": "coder", "tool_calls": [read, escape]},
        say("coder", "VALUE is 1.\nPOSITION: keep"),
        say("tester", "POSITION: keep"),
    ])
    seen: list[list[dict[str, Any]]] = []
    orig = llm.complete

    async def spy(alias: str, messages: list[dict[str, Any]], **kw: Any) -> Any:
        seen.append(messages)
        return await orig(alias, messages, **kw)

    llm.complete = spy  # type: ignore[method-assign]
    res = await run("debate", ctx_for(llm, ["coder", "tester"], {"rounds": 1},
                                      workspace=workspace))
    assert res.outcome is Outcome.DONE and res.decision == "keep"
    (after_tools,) = [p for p in seen if any(m["role"] == "tool" for m in p)]
    results = [m for m in after_tools if m["role"] == "tool"]
    assert len(results) == 2 and "VALUE = 1" in results[0]["content"]
    assert "root:" not in results[1]["content"] and "outside" in results[1]["content"].lower()
    assert sorted((e.role, e.turn) for e in llm.ledger.entries) == [
        ("coder", 1), ("coder", 1), ("tester", 1)]  # tool iterations share the turn


async def test_committee_majority(make_llm: MakeLLM) -> None:
    llm = make_llm([ballot("coder", "B"), ballot("tester", "A"), ballot("reviewer", "b")])
    saved: list[dict[str, Any]] = []
    res = await run("committee", ctx_for(llm, ["coder", "tester", "reviewer"], {"apply": False},
                                         checkpoint=saved.append))
    assert res.kind == "committee" and res.outcome is Outcome.DONE and res.decision == "B"
    assert res.summary.startswith("2 of 3 members")
    assert sorted(v["answer"] for v in res.votes) == ["A", "B", "b"]
    assert sorted((e.role, e.purpose, e.turn) for e in llm.ledger.entries) == [
        ("coder", "ballot", 1), ("reviewer", "ballot", 3), ("tester", "ballot", 2)]
    assert sorted(p["answer"] for p in saved[-1]["proposals"]) == ["A", "B", "b"]


async def test_committee_abstention_and_chair(make_llm: MakeLLM) -> None:
    llm = make_llm([ballot("coder", "A"), say("tester", "not json", repeat=True),
                    ballot("doc_writer", "B"),
                    say("reviewer", {"decision": "A, with B's docs", "rationale": "both",
                                     "chosen": None}, purpose="chair")])
    res = await run("committee", ctx_for(llm, ["coder", "tester", "doc_writer"],
                                         {"apply": False, "aggregation": "chair"}))
    assert res.outcome is Outcome.DONE and res.decision == "A, with B's docs"
    assert any(v.get("role") == "tester" and "error" in v for v in res.votes)


async def test_committee_budget_stop(make_llm: MakeLLM) -> None:
    llm = make_llm([ballot("coder", "A " * 300), ballot("tester", "B " * 300)],
                   budget=Budget(Limits(tokens=50)))
    res = await run("committee", ctx_for(llm, ["coder", "tester"], {"apply": False}))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"


async def test_committee_code_proposals(make_llm: MakeLLM, workspace: Workspace) -> None:
    """Members propose in their own worktrees (AutoGen agents with crew's tools), vote, and
    the chosen proposal is merged: the native committee's code, on AutoGen turns."""
    def write(role: str, value: int) -> dict[str, Any]:
        return {"role": role, "purpose": "member:1" if role == "coder" else "member:2",
                "tool_calls": [{"name": "write_file",
                                "arguments": {"path": "app.py", "content": f"VALUE = {value}\n"}}]}

    roles = {n: r.model_copy(update={"tools": ["read_file", "write_file"]})
             for n, r in ROLES.items()}
    llm = make_llm([write("coder", 2), say("coder", "VALUE is 2", purpose="member:1"),
                    write("tester", 3), say("tester", "VALUE is 3", purpose="member:2"),
                    say("coder", {"choice": 2, "reason": "r"}, purpose="vote"),
                    say("tester", {"choice": 2, "reason": "r"}, purpose="vote")])
    ctx = ctx_for(llm, ["coder", "tester"], workspace=workspace)
    ctx.roles = roles
    res = await run("committee", ctx)
    assert res.outcome is Outcome.DONE and res.decision == "VALUE is 3"
    assert (workspace.path / "app.py").read_text() == "VALUE = 3\n"
    assert res.artifacts.files_changed == ["app.py"]


def test_an_engine_limited_to_some_kinds_refuses_the_others() -> None:
    """autogen and crewai run every kind (they only take turns); a plugin engine may not."""
    reg = engines.EngineRegistry(entry_points=False)
    reg.register(engines.EngineSpec("debater", kinds=("debate", "committee")))
    assert reg.check("debater", "debate").name == "debater"
    with pytest.raises(UserError) as e:
        reg.check("debater", "review_loop")
    msg = str(e.value)
    assert "does not run 'review_loop'" in msg and "debate, committee" in msg
    for name in ("autogen", "crewai"):
        spec = engines.default_engines().get(name)
        assert all(spec.runs(k) for k in default_registry().kinds())


async def test_missing_package_names_the_extra(make_llm: MakeLLM,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = engines.importlib.util.find_spec
    monkeypatch.setattr(engines.importlib.util, "find_spec",
                        lambda name, *a: None if name == "autogen_agentchat" else real(name, *a))
    llm = make_llm([say("coder", "unused")])
    with pytest.raises(UserError) as e:
        await run("debate", ctx_for(llm, ["coder", "tester"]))
    assert "pip install 'crew[autogen]'" in str(e.value) and "autogen-agentchat" in str(e.value)
    assert llm.ledger.entries == []


def test_unknown_engine_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown engine 'langgraph'"):
        engines.default_engines().check("langgraph", "debate")


async def test_a_pinned_task_engine_overrides_the_template(tmp_path: Path) -> None:
    """feature.yaml → resolve → context_for_task → registry: the task's `engine: autogen`
    runs the built-in debate template on AutoGen."""
    from crew.llm import LLM
    from crew.spec.resolve import resolve_feature

    (tmp_path / "script.yaml").write_text(textwrap.dedent("""\
        answers:
          - {role: coder, purpose: debate, content: "POSITION: lock"}
          - {role: security_analyst, purpose: debate, content: "POSITION: lock"}
        """))
    (tmp_path / "models.yaml").write_text(textwrap.dedent("""\
        model_list:
          - model_name: smart
            litellm_params: {model: replay/demo, replay_script: script.yaml}
          - model_name: fast
            litellm_params: {model: replay/demo, replay_script: script.yaml}
        """))
    (tmp_path / "feature.yaml").write_text(textwrap.dedent("""\
        title: Locks
        goal: Choose a locking strategy.
        models: models.yaml
        tasks:
          - id: pick
            title: Pick a lock strategy
            pattern: debate
            engine: autogen
            roles: [coder, security_analyst]
        """))
    resolved = resolve_feature(tmp_path / "feature.yaml")
    llm = LLM.from_file(tmp_path / "models.yaml")
    tpl, ctx = context_for_task(resolved, "pick", llm, run_id="run1")
    assert tpl.engine == "autogen" and tpl.kind == "debate"
    assert resolved.patterns["debate"].spec.engine == "native"  # the template is untouched
    res = await default_registry().run(tpl, ctx)
    assert res.outcome is Outcome.DONE and res.stopped_by == "consensus"
    assert res.decision == "lock"
    assert {(e.task_id, e.pattern) for e in llm.ledger.entries} == {("pick", "debate")}



async def test_trace_has_the_native_shape(make_llm: MakeLLM, tmp_path: Path) -> None:
    """task → round → agent → generation for the debaters; the judge's agent under the task,
    though the debaters' calls run inside AutoGen's own runtime tasks."""
    from crew.context import RunContext
    from crew.observability import Tracer

    sink = ListSink()
    tracer = Tracer.create("r1", "Locks", tmp_path / "run", sinks=[], extra_sinks=[sink],
                           env={})
    llm = make_llm([say("coder", "POSITION: A", repeat=True), say("tester", "POSITION: B",
                                                                   repeat=True),
                    say("reviewer", JUDGE, purpose="judge")])
    with tracer.run(), tracer.task("t1", "debate", ["coder", "tester"]):
        res = await run("debate", ctx_for(llm, ["coder", "tester"], {"rounds": 2},
                                          run_context=RunContext(tracer=tracer)))
    tracer.close()
    assert res.outcome is Outcome.DONE
    starts = {e["id"]: e for e in sink.events if e["type"].endswith(".start")}

    def kind(e: dict[str, Any]) -> str:
        return str(e["type"]).split(".")[0]

    def chain(e: dict[str, Any]) -> list[str]:
        out = []
        while e is not None:
            out.append(f"{kind(e)}:{e['name']}")
            e = starts.get(e["parent_id"])  # type: ignore[assignment]
        return out

    gens = [chain(e) for e in starts.values() if kind(e) == "generation"]
    assert len(gens) == 5 == len(llm.ledger.entries)
    assert sorted(gens) == [  # the debaters of a round answer concurrently
        ["generation:coder", "agent:coder", "round:round 1", "task:t1", "run:Locks"],
        ["generation:coder", "agent:coder", "round:round 2", "task:t1", "run:Locks"],
        ["generation:reviewer", "agent:reviewer", "task:t1", "run:Locks"],
        ["generation:tester", "agent:tester", "round:round 1", "task:t1", "run:Locks"],
        ["generation:tester", "agent:tester", "round:round 2", "task:t1", "run:Locks"]]
