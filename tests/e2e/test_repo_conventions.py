"""A repo's AGENTS.md reaches every role: the demo run (`crew run` as a subprocess) against
the stub OpenAI-compatible server through LiteLLM's real HTTP path, each built-in role on its
own alias; every request — the planner's, the debaters', the judge's, the lead's, every agent
turn and structured answer — starts with the conventions at the head of its system message,
the same text for every role (one cacheable prefix)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from e2e_helpers import EXAMPLE, crew, ledger_of, only_run, roles_on_stub, state_of

from crew.testing import StubReply, StubServer

AGENTS_MD = ("# Agents guide\n\nRun the tests with `python3 -m unittest discover -s tests`.\n"
             "Never print from library code: use the logging module (rule K7).\n")


def _reply(a: dict[str, Any]) -> StubReply:
    if a.get("tool_calls"):
        return StubReply.tool_call(*((c["name"], c.get("arguments", {}))
                                     for c in a["tool_calls"]), content=a.get("content"))
    return StubReply.text(a["content"])


def _point_at_stub(feature: Path, stub: StubServer) -> None:
    roles_on_stub(feature, stub.url, {"num_retries": 0})
    for a in yaml.safe_load((EXAMPLE / "replay.yaml").read_text())["answers"]:
        stub.enqueue(_reply(a), model=a["role"])


def test_agents_md_heads_every_roles_system_message(demo: Path) -> None:
    repo = demo.parent / "project"
    (repo / "AGENTS.md").write_text(AGENTS_MD)
    subprocess.run(["git", "-C", str(repo), "add", "AGENTS.md"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qm", "agents guide"], check=True)
    with StubServer() as stub:
        _point_at_stub(demo, stub)
        res = crew("run", str(demo), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        requests = list(stub.requests)
    assert state_of(only_run(repo))["status"] == "passed"
    head = f"## Repository conventions (AGENTS.md)\n{AGENTS_MD.strip()}\n\n"
    roles = set()
    for r in requests:
        system = r.body["messages"][0]
        assert system["role"] == "system" and system["content"].startswith(head), r.model
        assert sum("rule K7" in str(m.get("content")) for m in r.body["messages"]) == 1
        roles.add(r.model)
    assert roles == {"supervisor", "security_analyst", "coder", "tester", "doc_writer",
                     "reviewer"}
    # the planner, debaters, the lead's plan and review, workers, authors and reviewers
    calls = {(e["role"], e["purpose"]) for e in ledger_of(only_run(repo))}
    assert {("supervisor", "plan"), ("security_analyst", "debate"), ("coder", "work:code"),
            ("tester", "work:tests"), ("reviewer", "review")} <= calls
    assert len(requests) == 17  # 16 + the end of the run's knowledge call (the lead's)
