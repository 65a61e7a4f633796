"""The wire test at the pattern level: a debate task run through the pattern registry, the
replay model behind the real LiteLLM Router, the real Langfuse SDK exporting OTLP to a local
receiver. The tracer is handed down the way a run does it (RunContext, run, task), and the
pattern, agent, LLM and tool layers report to it on their own.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.context import RunContext
from crew.llm import LLM
from crew.observability import LangfuseSettings, Tracer, read_events
from crew.observability.events import EVENTS_FILE
from crew.observability.transcript import build_tree
from crew.patterns.base import PatternResult, TaskInfo
from crew.patterns.registry import default_registry, merge_params
from crew.patterns.setup import pattern_context
from crew.spec.models import ModelsConfig, PatternSpec, RoleSpec
from crew.testing.otlp_receiver import OTLPReceiver, SilentPort, closed_port
from crew.workspace.worktrees import Workspace

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PLANTED = "sk-test-planted-0123456789abcdefPLANTED"
ROLE_NAMES = ("coder", "security_analyst", "reviewer")
ROLES = {n: RoleSpec(name=n, title=n.replace("_", " ").title(), goal=f"Do {n} work.",
                     instructions=f"Careful {n}.", model=n, max_turns=4,
                     tools=["read_file", "list_files"]) for n in ROLE_NAMES}
OBS_TYPE = "langfuse.observation.type"
USAGE = {"prompt_tokens": 120, "completion_tokens": 30}

# Round 1: the coder reads a file (one tool call) and answers; the analyst answers.
# Round 2: both keep their positions, so the judge decides.
SCRIPT: list[dict[str, Any]] = [
    {"role": "coder", "usage": USAGE, "tool_calls": [
        {"name": "read_file", "arguments": {"path": "config.py"}}]},
    {"role": "coder", "usage": USAGE, "content": "Keep the key in env.\nPOSITION: env"},
    {"role": "security_analyst", "usage": USAGE,
     "content": "Use a vault.\nPOSITION: vault"},
    {"role": "coder", "usage": USAGE, "content": "Env is enough.\nPOSITION: env"},
    {"role": "security_analyst", "usage": USAGE, "content": "Still a vault.\nPOSITION: vault"},
    {"role": "reviewer", "purpose": "judge", "usage": USAGE,
     "content": json.dumps({"decision": "vault", "rationale": "keys rotate"})},
]


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    return PLANTED


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as rx:
        yield rx


def make_workspace(tmp_path: Path, secret: str) -> Workspace:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "config.py").write_text(f"API_KEY = {secret!r}\n")  # the tool output quotes it
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "init"], check=True, env=env)
    return Workspace.create(repo, "wire-1", "Key storage")


def make_llm(tmp_path: Path) -> LLM:
    script = tmp_path / "script.yaml"
    script.write_text(yaml.safe_dump({"answers": SCRIPT}))
    deps = [{"model_name": n, "litellm_params": {
        "model": "replay/demo", "replay_script": str(script),
        "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}} for n in ROLE_NAMES]
    cfg = ModelsConfig.model_validate({"model_list": deps, "router_settings": {"num_retries": 0}})
    return LLM(cfg, base_dir=tmp_path)


async def run_debate(tmp_path: Path, tracer: Tracer | None) -> PatternResult:
    """The debate task; traced as a run does it when `tracer` is given."""
    ws = make_workspace(tmp_path, PLANTED)
    llm = make_llm(tmp_path)
    template = PatternSpec(name="debate", kind="debate", description="a debate",
                           params={"rounds": 2, "early_stop": True})
    task = TaskInfo(id="threat-model", title="Where do keys live?",
                    description=f"Today the key {PLANTED} sits in config.py.",
                    roles=("coder", "security_analyst"),
                    params=merge_params(template, {"judge": "reviewer"}))
    ctx = pattern_context(task, ROLES, llm, run_id="wire-1", workspace=ws,
                          run_context=RunContext(tracer=tracer) if tracer else None)
    registry = default_registry()
    if tracer is None:
        result = await registry.run(template, ctx)
    else:
        with tracer.run(input={"goal": "keys"}), \
                tracer.task(task.id, "debate", task.roles, title=task.title) as obs:
            result = await registry.run(template, ctx)
            obs.end(result.summary, status=str(result.outcome))
        tracer.close()
    assert llm.replay_unserved() == {str(tmp_path / "script.yaml"): []}
    return result


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    return span["attributes"]  # type: ignore[no-any-return]


def meta(span: dict[str, Any], key: str) -> Any:
    raw = attrs(span).get(f"langfuse.observation.metadata.{key}")
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return raw


async def test_a_debate_task_reaches_langfuse_whole(receiver: OTLPReceiver, planted: str,
                                                    tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    tracer = Tracer.create("wire-1", "Key storage", run_dir, sinks=[],
                           langfuse=LangfuseSettings("pk-lf-wire", "sk-lf-wire-secret",
                                                     base_url=receiver.base_url))
    result = await run_debate(tmp_path, tracer)
    assert result.outcome.value == "done" and result.decision == "vault" and result.rounds == 2

    spans = receiver.spans
    by_id = {s["span_id"]: s for s in spans}

    def parent(s: dict[str, Any]) -> dict[str, Any]:
        return by_id[s["parent_span_id"]]

    def of_type(t: str) -> list[dict[str, Any]]:
        return [s for s in spans if attrs(s).get(OBS_TYPE) == t]

    assert len({s["trace_id"] for s in spans}) == 1  # one trace
    (root,) = [s for s in spans if s["parent_span_id"] not in by_id]
    assert root["name"] == "Key storage" and attrs(root)[OBS_TYPE] == "chain"
    (task,) = [s for s in of_type("chain") if s is not root]
    assert task["name"] == "threat-model" and parent(task) is root
    assert meta(task, "pattern") == "debate"

    rounds = {s["name"]: s for s in of_type("span")}
    assert set(rounds) == {"round 1", "round 2"}
    assert all(parent(r) is task for r in rounds.values())

    agents = of_type("agent")
    debaters = [a for a in agents if parent(a)["name"].startswith("round")]
    by_round = {n: sorted(a["name"] for a in debaters if parent(a)["name"] == n)
                for n in rounds}
    # the coder took two turns in round 1 (a tool call, then its answer)
    assert by_round == {"round 1": ["coder", "coder", "security_analyst"],
                        "round 2": ["coder", "security_analyst"]}
    (judge,) = [a for a in agents if a not in debaters]
    assert judge["name"] == "reviewer" and parent(judge) is task
    assert meta(judge, "purpose") == "judge"
    assert json.loads(attrs(judge)["langfuse.observation.output"])["decision"] == "vault"

    gens = of_type("generation")
    assert len(gens) == len(SCRIPT)  # one per LLM call
    for g in gens:
        a = attrs(g)
        assert attrs(parent(g))[OBS_TYPE] == "agent"
        assert a["langfuse.observation.model.name"] == "replay/demo"  # not the alias
        assert json.loads(a["langfuse.observation.usage_details"]) == {
            "input": 120, "output": 30, "total": 150}
        assert json.loads(a["langfuse.observation.cost_details"])["total"] == pytest.approx(
            120e-6 + 60e-6)
        assert json.loads(a["langfuse.observation.input"])  # the messages sent
    first = min(gens, key=lambda s: s["start_ns"])
    out = json.loads(attrs(first)["langfuse.observation.output"])
    assert out["tool_calls"][0]["function"]["name"] == "read_file"

    (tool,) = of_type("tool")  # one tool call in the script
    assert tool["name"] == "read_file" and parent(tool)["name"] == "coder"
    assert json.loads(attrs(tool)["langfuse.observation.input"]) == {"path": "config.py"}
    assert "API_KEY" in attrs(tool)["langfuse.observation.output"]

    for s in spans:
        assert attrs(s)["session.id"] == "wire-1"

    raw = b"".join(r["body"] for r in receiver.requests)
    log_text = (run_dir / EVENTS_FILE).read_text()
    assert PLANTED.encode() not in raw and b"sk-lf-wire-secret" not in raw
    assert PLANTED not in log_text and "[REDACTED]" in log_text

    # the local log holds the same hierarchy
    (run_node,) = build_tree(read_events(run_dir))
    (task_node,) = run_node.children
    assert [n.kind for n in task_node.children] == ["round", "round", "agent"]
    assert sum(1 for e in read_events(run_dir) if e["type"] == "generation.end") == len(SCRIPT)


@pytest.mark.parametrize("where", ["closed", "silent"])
async def test_an_unreachable_langfuse_changes_nothing(where: str, planted: str,
                                                       tmp_path: Path) -> None:
    baseline = await run_debate(tmp_path / "plain", None)
    with SilentPort() as silent:
        url = (f"http://127.0.0.1:{closed_port()}" if where == "closed"
               else silent.base_url)
        run_dir = tmp_path / "run"
        tracer = Tracer.create("wire-1", "Key storage", run_dir, sinks=[],
                               langfuse=LangfuseSettings("pk-lf-down", "sk-lf-down",
                                                         base_url=url))
        traced = await run_debate(tmp_path / "traced", tracer)  # closes the tracer
    assert traced.model_dump() == baseline.model_dump()
    assert traced.decision == "vault"
    events = read_events(run_dir)  # the local log is complete all the same
    assert sum(1 for e in events if e["type"] == "generation.end") == len(SCRIPT)
    assert sum(1 for e in events if e["type"] == "tool.end") == 1
