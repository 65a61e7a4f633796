"""Issue #7 acceptance at run level: `crew run` on the offline demo, as a real subprocess, with
Langfuse configured through the standard LANGFUSE_* variables and pointed at a local OTLP
receiver. The whole run reaches it as one trace with the hierarchy of DESIGN.md §6; secrets
planted in the environment (and in the goal and a source file, so they do flow) reach neither
Langfuse nor events.jsonl; an unreachable Langfuse leaves the run's result unchanged."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_helpers import DEMO_TASKS, crew, crew_env, ledger_of, only_run, state_of

from crew.observability import trace_id_for
from crew.testing.otlp_receiver import OTLPReceiver, SilentPort, closed_port

TITLE = "Add CSV export to the todo CLI"
PK = "pk-lf-e2e-0123456789abcdef"
SK = "sk-lf-e2e-secret-0123456789abcdef"
OPENAI_KEY = "sk-planted-0123456789abcdefOPENAI"  # also has a key shape
SERVICE_TOKEN = "tok-planted-7f3a9c1e5b2d4a68"  # secret only because of its variable name
IN_COST, OUT_COST = 3e-6, 15e-6
OBS_TYPE = "langfuse.observation.type"

Span = dict[str, Any]


def plant_secrets(feature: Path) -> None:
    """Put the planted values where a run carries them to the model, the tools and the trace:
    the goal (root input, plan prompt) and a committed source file (a read_file output)."""
    text = feature.read_text()
    goal_line = (f"goal: |\n  Deploy with OPENAI_API_KEY={OPENAI_KEY} and "
                 f"MY_SERVICE_TOKEN={SERVICE_TOKEN}.\n")
    assert "goal: |\n" in text
    feature.write_text(text.replace("goal: |\n", goal_line, 1))
    project = feature.parent / "project"
    with (project / "todo.py").open("a") as f:
        f.write(f"# deploy: OPENAI_API_KEY={OPENAI_KEY} MY_SERVICE_TOKEN={SERVICE_TOKEN}\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(project), "commit", "-qam", "deploy note"], check=True,
                   env=env)


def price_models(feature: Path) -> None:
    """Give the replay deployments a price, so every generation has a non-zero cost."""
    path = feature.parent / "models.yaml"
    cfg = yaml.safe_load(path.read_text())
    for dep in cfg["model_list"]:
        dep["litellm_params"].update(input_cost_per_token=IN_COST, output_cost_per_token=OUT_COST)
    path.write_text(yaml.safe_dump(cfg))


def traced_env(base_url: str) -> dict[str, str]:
    env = crew_env()
    for name in ("LANGFUSE_HOST", "LANGFUSE_SAMPLE_RATE", "LANGFUSE_PROJECT_ID"):
        env.pop(name, None)
    env.update(LANGFUSE_PUBLIC_KEY=PK, LANGFUSE_SECRET_KEY=SK, LANGFUSE_BASE_URL=base_url,
               LANGFUSE_TRACING_ENABLED="true", OPENAI_API_KEY=OPENAI_KEY,
               MY_SERVICE_TOKEN=SERVICE_TOKEN)
    return env


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as rx:
        yield rx


def attrs(span: Span) -> dict[str, Any]:
    return span["attributes"]  # type: ignore[no-any-return]


def kind(span: Span) -> str:
    return str(attrs(span).get(OBS_TYPE))


def meta(span: Span, key: str) -> Any:
    raw = attrs(span).get(f"langfuse.observation.metadata.{key}")
    return json.loads(raw) if isinstance(raw, str) else raw


def events_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]


def test_a_run_reaches_langfuse_as_one_whole_trace(demo: Path,
                                                   receiver: OTLPReceiver) -> None:
    plant_secrets(demo)
    price_models(demo)
    repo = demo.parent / "project"

    started = time.monotonic()
    res = crew("run", str(demo), env=traced_env(receiver.base_url))
    elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run_dir = only_run(repo)
    state = state_of(run_dir)
    print(f"run traced to the receiver: process {elapsed:.2f}s, run {state['wall_s']:.2f}s")
    assert state["status"] == "passed"
    run_id = state["run_id"]
    ledger = ledger_of(run_dir)
    plan = {t["id"]: t for t in json.loads((run_dir / "plan.json").read_text())["tasks"]}
    assert list(plan) == list(DEMO_TASKS)

    spans = receiver.spans
    by_id = {s["span_id"]: s for s in spans}

    def parent(s: Span) -> Span | None:
        return by_id.get(s["parent_span_id"] or "")

    def ancestors(s: Span) -> list[Span]:
        out, p = [], parent(s)
        while p is not None:
            out.append(p)
            p = parent(p)
        return out

    def task_of(s: Span) -> str:
        """The task chain a span lies under ("" for the root and run-level events)."""
        chains = [a["name"] for a in [s, *ancestors(s)] if kind(a) == "chain"]
        return chains[-2] if len(chains) >= 2 else ""

    # one trace, the run's deterministic trace id; `crew show` prints its Langfuse URL
    assert {s["trace_id"] for s in spans} == {trace_id_for(run_id)}
    shown = crew("show", run_id, "--repo", str(repo))
    assert f"Langfuse: {receiver.base_url}/trace/{trace_id_for(run_id)}" in shown.stdout
    # every request authenticated with the keys from the environment
    basic = "Basic " + base64.b64encode(f"{PK}:{SK}".encode()).decode()
    assert receiver.requests and all(
        {k.lower(): v for k, v in r["headers"].items()}.get("authorization") == basic
        for r in receiver.requests)
    # session id = run id on every observation
    assert {attrs(s).get("session.id") for s in spans} == {run_id}

    # the root chain is named after the feature and tagged
    (root,) = [s for s in spans if parent(s) is None]
    assert root["name"] == TITLE and kind(root) == "chain"
    assert {"crew", "add-csv-export-to-the-todo-cli"} <= set(attrs(root)["langfuse.trace.tags"])

    # a chain per task, directly under the root, with its pattern and roles
    tasks = {s["name"]: s for s in spans if kind(s) == "chain" and parent(s) is root}
    assert sorted(tasks) == sorted(["plan", *DEMO_TASKS, "knowledge"])  # + the distil step
    assert len([s for s in spans if kind(s) == "chain"]) == 1 + len(tasks)
    for tid, t in plan.items():
        assert meta(tasks[tid], "pattern") == t["pattern"]
        assert meta(tasks[tid], "roles") == t["roles"]

    # the debate: round spans under threat-model, each debater's agent under its round
    debate = tasks["threat-model"]
    rounds = [s for s in spans if kind(s) == "span" and parent(s) is debate]
    assert rounds and sorted(r["name"] for r in rounds) == [
        f"round {n}" for n in range(1, len(rounds) + 1)]
    debaters = set(plan["threat-model"]["roles"])
    for r in rounds:
        under = {a["name"] for a in spans if kind(a) == "agent" and parent(a) is r}
        assert under == debaters, (r["name"], under)
    for a in spans:  # no debater's turn outside a round of its debate
        if kind(a) == "agent" and task_of(a) == "threat-model" and a["name"] in debaters:
            assert parent(a) in rounds

    # a generation per LLM call, under its task, with the model that answered, usage, cost
    gens = [s for s in spans if kind(s) == "generation"]
    assert len(gens) == len(ledger) > len(DEMO_TASKS)
    traced: Counter[tuple[str, str, int, int]] = Counter()
    for g in gens:
        a = attrs(g)
        p = parent(g)
        assert p is not None and (kind(p) == "agent" or p is tasks["plan"]
                                  or p is tasks.get("knowledge"))  # the run's own steps
        assert a["langfuse.observation.model.name"] == "replay/todo-csv"
        usage = json.loads(a["langfuse.observation.usage_details"])
        assert usage["total"] == usage["input"] + usage["output"] and usage["input"] > 0
        cost = json.loads(a["langfuse.observation.cost_details"])["total"]
        assert cost == pytest.approx(usage["input"] * IN_COST + usage["output"] * OUT_COST)
        assert json.loads(a["langfuse.observation.input"])  # the messages sent
        assert json.loads(a["langfuse.observation.output"])["role"] == "assistant"
        traced[(task_of(g), a["langfuse.observation.model.name"], usage["input"],
                usage["output"])] += 1
    assert traced == Counter((e["task_id"], e["deployment"], e["prompt_tokens"],
                              e["completion_tokens"]) for e in ledger)

    # a tool observation per tool call, under the agent turn that asked for it
    events = events_of(run_dir)
    tool_starts = [e for e in events if e["type"] == "tool.start"]
    tools = [s for s in spans if kind(s) == "tool"]
    assert tools and len(tools) == len(tool_starts)
    assert Counter(t["name"] for t in tools) == Counter(e["name"] for e in tool_starts)
    for t in tools:
        p = parent(t)
        assert p is not None and kind(p) == "agent"
        assert "langfuse.observation.output" in attrs(t)
    read = next(t for t in tools if t["name"] == "read_file")
    assert "[REDACTED]" in attrs(read)["langfuse.observation.output"]  # todo.py's deploy line

    # no planted secret anywhere in any payload, nor in the local log; they did flow there
    bodies = b"".join(r["body"] for r in receiver.requests)
    log_text = (run_dir / "events.jsonl").read_text()
    for secret in (OPENAI_KEY, SERVICE_TOKEN, SK):
        assert secret.encode() not in bodies, secret
        assert secret not in log_text, secret
    assert b"[REDACTED]" in bodies and "[REDACTED]" in log_text
    assert "[REDACTED]" in attrs(root)["langfuse.observation.input"]  # the goal


@pytest.mark.parametrize("where", ["closed", "silent"])
def test_an_unreachable_langfuse_leaves_the_run_unchanged(where: str, demo: Path) -> None:
    repo = demo.parent / "project"
    with SilentPort() as silent:
        url = f"http://127.0.0.1:{closed_port()}" if where == "closed" else silent.base_url
        started = time.monotonic()
        res = crew("run", str(demo), env=traced_env(url))
        elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    state = state_of(only_run(repo))
    print(f"run with Langfuse {where}: process {elapsed:.2f}s, run {state['wall_s']:.2f}s")
    assert state["status"] == "passed"
    assert all(state["tasks"][t]["status"] == "done" for t in DEMO_TASKS)
    assert [(g["name"], g["passed"]) for g in state["gates"]] == [("unit tests", True)]
    # the local log is complete all the same: one generation per ledger entry
    events = events_of(only_run(repo))
    # the run was traced to that address (not silently untraced)
    (start,) = [e for e in events if e["type"] == "run.start"]
    assert start["payload"]["langfuse"]["url"].startswith(url)
    assert sum(e["type"] == "generation.end" for e in events) == len(ledger_of(only_run(repo)))
    assert sum(e["type"] == "task.end" for e in events) == 2 + len(DEMO_TASKS)  # plan, knowledge
