"""The demo run against the stub OpenAI-compatible HTTP server through LiteLLM's real HTTP
path, with about one call in five failing (HTTP 500 or 429): the Router retries and the run
completes with the gate passed."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml
from e2e_helpers import (
    EXAMPLE,
    crew,
    ledger_of,
    only_run,
    roles_on_stub,
    state_of,
    task_commits,
)

from crew.testing import StubReply, StubServer


def _reply(a: dict[str, Any]) -> StubReply:
    if a.get("tool_calls"):
        return StubReply.tool_call(*((c["name"], c.get("arguments", {}))
                                     for c in a["tool_calls"]), content=a.get("content"))
    return StubReply.text(a["content"])


def _point_at_stub(feature: Path, stub: StubServer, fault_rate: float) -> int:
    """Each built-in role gets its own alias (= its name) served by the stub, so each role's
    answers are one queue in call order; a fault is queued before ~fault_rate of them."""
    roles_on_stub(feature, stub.url, {"num_retries": 4, "retry_after": 0})
    answers = yaml.safe_load((EXAMPLE / "replay.yaml").read_text())["answers"]
    rng = random.Random(20261121)
    faults = 0
    for a in answers:
        if rng.random() < fault_rate:
            faults += 1
            fault = StubReply.error(500) if faults % 2 else StubReply.rate_limited(0)
            stub.enqueue(fault, model=a["role"])
        stub.enqueue(_reply(a), model=a["role"])
    return faults


def test_run_completes_through_injected_faults(demo: Path) -> None:
    repo = demo.parent / "project"
    with StubServer() as stub:
        faults = _point_at_stub(demo, stub, 0.2)
        assert faults >= 2
        res = crew("run", str(demo), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert stub.pending() == 0  # every scripted answer and fault was consumed
        assert len(stub.requests) == 17 + faults  # 16 + the end of the run's knowledge call
    state = state_of(only_run(repo))
    assert state["status"] == "passed"
    assert len(ledger_of(only_run(repo))) == 17  # failed attempts are not billed
    commits = task_commits(repo, state["branch"])
    assert set(commits) == {"export-csv-s1", "export-csv-s2", "docs"}
