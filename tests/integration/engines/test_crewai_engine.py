"""review_loop and supervisor_worker on the crewai engine (each member turn a one-agent CrewAI
Crew kickoff, the loop crew's), driven by the replay model through crew's real LiteLLM Router:
outcomes, ledger, budget stop, checkpoints, commits, resume; a read-only HOME; and `import crew`
plus the native patterns never importing crewai."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_helpers import MakeLLM, say

from crew.errors import CrewError
from crew.llm import LLM, Budget, Limits
from crew.patterns import default_registry
from crew.patterns.base import Outcome, PatternContext, TaskInfo
from crew.patterns.setup import pattern_context
from crew.spec.models import PatternSpec, RoleSpec
from crew.testing import ListSink
from crew.workspace.worktrees import Workspace

# not importorskip: crewai must be imported by the engine (it sets CrewAI's env first)
pytestmark = [pytest.mark.skipif(importlib.util.find_spec("crewai") is None,
                                 reason="the crewai extra is not installed"),
              pytest.mark.slow]  # a kickoff takes seconds

ROLE_NAMES = ("coder", "reviewer", "tester", "supervisor")
ROLES = {n: RoleSpec(name=n, title=n.title(), goal=f"Do {n} work.",
                     instructions=f"Careful {n}.", model=n, max_turns=6,
                     tools=["read_file", "write_file", "list_files"]) for n in ROLE_NAMES}
REVIEW = PatternSpec(name="review", kind="review_loop", description="d", engine="crewai")
SUPERVISE = PatternSpec(name="lead", kind="supervisor_worker", description="d",
                        engine="crewai")
SRC = Path(__file__).resolve().parents[3] / "src"


async def run_crewai(spec: PatternSpec, ctx: PatternContext) -> Any:
    return await default_registry().run(spec, ctx)


def ctx_for(llm: LLM, roles: list[str], params: dict[str, Any] | None = None,
            **kw: Any) -> PatternContext:
    task = TaskInfo(id="t1", title="Do it", description="Details.", roles=tuple(roles),
                    params=params or {})
    return pattern_context(task, ROLES, llm, run_id="r1", **kw)


def write(role: str, path: str, content: str, **keys: Any) -> dict[str, Any]:
    return {"role": role, **keys, "tool_calls": [
        {"name": "write_file", "arguments": {"path": path, "content": content}}]}


def verdict(ok: bool) -> dict[str, Any]:
    return {"approved": ok, "summary": "fine" if ok else "no",
            "changes": [] if ok else [{"file": "app.py", "problem": "wrong value"}]}


async def test_review_loop_approved_in_round_two(make_llm: MakeLLM,
                                                 workspace: Workspace) -> None:
    llm = make_llm([
        write("coder", "app.py", "VALUE = 3\n"), say("coder", "Set VALUE to 3."),
        say("reviewer", verdict(False), purpose="review"),
        write("coder", "app.py", "VALUE = 2\n"), say("coder", "Set VALUE to 2 now."),
        say("reviewer", verdict(True), purpose="review"),
    ])
    saved: list[dict[str, Any]] = []
    ctx = ctx_for(llm, ["coder", "reviewer"], workspace=workspace, checkpoint=saved.append)
    res = await default_registry().run(REVIEW, ctx)
    assert res.outcome is Outcome.DONE and res.rounds == 2 and res.kind == "review_loop"
    assert res.stopped_by == "approved" and res.summary.startswith("approved in round 2")
    assert (workspace.path / "app.py").read_text() == "VALUE = 2\n"
    assert res.artifacts.commit and res.artifacts.files_changed == ["app.py"]
    # the ledger counts every call, attributed like the native pattern's
    entries = llm.ledger.entries
    assert len(entries) == 6 and list(llm.replay_unserved().values()) == [[]]
    assert [(e.role, e.purpose) for e in entries] == [
        ("coder", ""), ("coder", ""), ("reviewer", "review"),
        ("coder", ""), ("coder", ""), ("reviewer", "review")]
    assert {(e.run_id, e.task_id, e.pattern) for e in entries} == {("r1", "t1", "review_loop")}
    assert [v["approved"] for v in res.votes] == [False, True]
    # checkpoint after each round; the second author task carried the review's change request
    assert [s["round"] for s in saved] == [1, 2] and "wrong value" in saved[0]["feedback"]
    assert {t.role for t in res.transcripts} == {"coder", "reviewer"}
    assert res.framework_tokens > 0


async def test_review_loop_budget_stops_it(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "draft " * 50, repeat=True),
                      say("reviewer", verdict(False), repeat=True)],
                     budget=Budget(Limits(tokens=4000)))
    res = await run_crewai(REVIEW, ctx_for(llm, ["coder", "reviewer"], {"max_rounds": 20}))
    assert res.outcome is Outcome.BUDGET and res.stopped_by == "budget"
    assert "tokens" in res.summary and 1 <= res.rounds < 20
    entries = llm.ledger.entries
    # stopped at the call that reached the limit (refused before it, or crossing it after):
    # CrewAI's retry did not make another call
    spent = [e.prompt_tokens + e.completion_tokens for e in entries]
    assert sum(spent) > 3000 and sum(spent[:-1]) <= 4000


async def test_review_loop_max_rounds(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "draft", repeat=True),
                      say("reviewer", verdict(False), repeat=True)])
    res = await run_crewai(REVIEW, ctx_for(llm, ["coder", "reviewer"], {"max_rounds": 2}))
    assert res.outcome is Outcome.FAILED and res.stopped_by == "max_rounds"
    assert res.rounds == 2 and len(llm.ledger.entries) == 4


async def test_supervisor_worker(make_llm: MakeLLM, workspace: Workspace) -> None:
    """crew's supervisor_worker on CrewAI turns: the lead's plan and review are structured
    turns, the worker a kickoff with crew's tools in its own worktree, merged back."""
    plan = {"subtasks": [{"id": "export", "title": "Write export.py", "description": "d",
                          "role": "coder", "depends_on": []}]}
    llm = make_llm([
        say("supervisor", plan, purpose="plan"),
        write("coder", "export.py", "def export(): ...\n"), say("coder", "export.py written"),
        say("supervisor", {"approved": True, "summary": "export.py is written."},
            purpose="review"),
    ])
    res = await run_crewai(SUPERVISE, ctx_for(llm, ["supervisor", "coder"], workspace=workspace))
    assert res.outcome is Outcome.DONE and res.kind == "supervisor_worker"
    assert res.summary == "export.py is written." and res.stopped_by == "approved"
    assert res.artifacts.files_changed == ["export.py"]
    assert (workspace.path / "export.py").exists()
    assert [(e.role, e.purpose) for e in llm.ledger.entries] == [
        ("supervisor", "plan"), ("coder", "work:export"), ("coder", "work:export"),
        ("supervisor", "review")]


def _child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(SRC), LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


def test_read_only_home_is_a_clear_user_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    code = ("from crew.interop.crewai_adapters import load_crewai\n"
            "from crew.errors import UserError\n"
            "try:\n    load_crewai()\nexcept UserError as e:\n    print('USERERROR', e)\n"
            "else:\n    print('IMPORTED')\n")
    py = [sys.executable, "-c", code]
    if os.geteuid() == 0:  # root writes through permissions: a read-only mount instead
        if shutil.which("unshare") is None:
            pytest.skip("needs unshare for a read-only HOME as root")
        script = (f'mount --bind "{home}" "{home}" && mount -o remount,bind,ro "{home}" && '
                  'exec "$@"')
        cmd = ["unshare", "-rm", "sh", "-c", script, "sh", *py]
    else:
        home.chmod(0o555)
        cmd = py
    out = subprocess.run(cmd, env=_child_env(home), capture_output=True, text=True,
                         timeout=300)
    if "Operation not permitted" in out.stderr:
        pytest.skip(f"cannot make a read-only mount here: {out.stderr.strip()}")
    assert "USERERROR" in out.stdout, out.stdout + out.stderr
    assert str(home) in out.stdout and "not writable" in out.stdout
    assert "HOME" in out.stdout and "Traceback" not in out.stderr
    assert not any(home.iterdir())


def test_crew_and_native_patterns_never_import_crewai(tmp_path: Path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text(yaml.safe_dump({"answers": [
        say("coder", "done"), say("reviewer", verdict(True))]}))
    code = textwrap.dedent(f"""
        import asyncio, sys
        import crew, crew.interop, crew.interop.engines
        from crew.llm import LLM
        from crew.patterns.base import TaskInfo
        from crew.patterns.review_loop import ReviewLoop
        from crew.patterns.setup import pattern_context
        from crew.spec.models import ModelsConfig, RoleSpec
        roles = {{n: RoleSpec(name=n, title=n, goal="g", instructions="i", model=n)
                 for n in ("coder", "reviewer")}}
        cfg = ModelsConfig.model_validate({{"model_list": [
            {{"model_name": n, "litellm_params": {{"model": "replay/x",
              "replay_script": {str(script)!r}}}}} for n in roles]}})
        ctx = pattern_context(TaskInfo(id="t", title="T", roles=("coder", "reviewer")),
                              roles, LLM(cfg), run_id="r")
        res = asyncio.run(ReviewLoop().run(ctx))
        print(res.outcome, "crewai" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], env=_child_env(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["done", "False"], out.stdout + out.stderr


async def test_review_loop_resumes_after_its_checkpoint(make_llm: MakeLLM) -> None:
    llm = make_llm([say("coder", "v1"), say("reviewer", verdict(False), purpose="review")])
    saved: list[dict[str, Any]] = []
    with pytest.raises(CrewError):  # round 2 has no scripted answer: the run crashes there
        await run_crewai(REVIEW, ctx_for(llm, ["coder", "reviewer"], {"max_rounds": 3},
                                         checkpoint=saved.append))
    assert [s["round"] for s in saved] == [1] and saved[-1]["fired"] is None
    # resumed: round 2 starts from the saved feedback, round 1 is not redone (the script has
    # only round 2's answers)
    llm2 = make_llm([say("coder", "v2"), say("reviewer", verdict(True), purpose="review")])
    ctx = ctx_for(llm2, ["coder", "reviewer"], {"max_rounds": 3}, state=saved[-1])
    res2 = await run_crewai(REVIEW, ctx)
    assert res2.outcome is Outcome.DONE and res2.rounds == 2
    assert [v["approved"] for v in res2.votes] == [False, True]
    assert len(llm2.ledger.entries) == 2


class AnyReAct(str):
    """Equal to any text containing this one (CrewAI's ReAct step text)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and str(self) in other

    __hash__ = str.__hash__



async def test_trace_has_the_native_shape(make_llm: MakeLLM, workspace: Workspace,
                                          tmp_path: Path) -> None:
    """task → round → agent → generation, and the tool call under the agent turn that asked
    for it, though CrewAI calls the model from its own thread."""
    from crew.context import RunContext
    from crew.observability import Tracer

    sink = ListSink()
    tracer = Tracer.create("r1", "Value", tmp_path / "run", sinks=[], extra_sinks=[sink],
                           env={})
    llm = make_llm([write("coder", "app.py", "VALUE = 2\n"), say("coder", "2."),
                      say("reviewer", verdict(True), purpose="review")])
    with tracer.run(), tracer.task("t1", "review_loop", ["coder"]):
        res = await run_crewai(REVIEW, ctx_for(llm, ["coder", "reviewer"], workspace=workspace,
                                               run_context=RunContext(tracer=tracer)))
    tracer.close()
    assert res.outcome is Outcome.DONE
    starts = {e["id"]: e for e in sink.events if e["type"].endswith(".start")}

    def chain(e: dict[str, Any] | None) -> list[str]:
        out = []
        while e is not None:
            out.append(f"{str(e['type']).split('.')[0]}:{e['name']}")
            e = starts.get(e["parent_id"])
        return out

    leaves = [chain(e) for e in starts.values()
              if str(e["type"]).split(".")[0] in ("generation", "tool")]
    tail = ["round:round 1", "task:t1", "run:Value"]
    assert leaves == [["generation:coder", "agent:coder", *tail],
                      ["tool:write_file", "agent:coder", *tail],
                      ["generation:coder", "agent:coder", *tail],
                      ["generation:reviewer", "agent:reviewer", *tail]]
    ends = [e for e in sink.events if e["type"] == "agent.end"]
    assert [e["payload"].get("output") for e in ends] == [
        AnyReAct("Action: write_file"), "2.", json.dumps(verdict(True))]
