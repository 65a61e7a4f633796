"""A whole `crew run` against the stub OpenAI-compatible server, whose model declares no
`supports_response_schema` and answers prose to every request (the JSON asked for included):
every structured decision degrades — the run plan, review_loop's verdicts, the debate judge,
the committee's ballots, the lead's plan and review — and the run still ends `failed` with
every task finished, never `error` or `interrupted`; report.md and the trace list each one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from e2e_helpers import crew, only_run, state_of

from crew.testing import StubReply, StubServer

PROSE = "I have thought about this carefully; it seems reasonable overall."
TASKS: list[dict[str, Any]] = [
    {"id": "review", "title": "Add a greeting", "pattern": "review_loop",
     "roles": ["coder", "reviewer"], "params": {"max_rounds": 2}},
    {"id": "debate", "title": "Pick a greeting style", "pattern": "debate",
     "roles": ["security_analyst", "coder"], "params": {"rounds": 1}},
    {"id": "vote", "title": "Is the greeting needed", "pattern": "committee",
     "roles": ["coder", "tester", "reviewer"], "params": {"apply": False}},
    {"id": "split", "title": "Document the greeting", "pattern": "supervisor_worker",
     "roles": ["supervisor", "doc_writer", "coder"], "params": {"max_rounds": 1}},
]


def _feature(root: Path, stub: StubServer) -> Path:
    project = root / "project"
    project.mkdir(parents=True)
    (project / "app.py").write_text("def main():\n    return 0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(project), *args], check=True)
    deployment = {"model": "openai/local-prose", "api_base": stub.url,
                  "api_key": "sk-stub-not-a-key"}  # no model_info: no native json_schema
    (root / "models.yaml").write_text(yaml.safe_dump({
        "model_list": [{"model_name": a, "litellm_params": deployment}
                       for a in ("smart", "fast")],
        "router_settings": {"num_retries": 0}}))
    (root / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Greet", "goal": "Add a greet() function to app.py.", "repo": "project",
        "crew": "software-team", "models": "models.yaml", "tasks": TASKS}))
    return root / "feature.yaml"


def test_prose_for_every_structured_request_degrades_and_the_run_finishes(
        tmp_path: Path) -> None:
    with StubServer() as stub:
        stub.always(StubReply.text(PROSE))
        feature = _feature(tmp_path, stub)
        res = crew("run", str(feature), "--no-trace", "--sandbox", "local")
        bodies = [r.body for r in stub.requests]
    out = res.stdout[-3000:] + res.stderr[-3000:]
    assert res.returncode == 1, out
    assert "Traceback" not in res.stderr
    assert not any("response_format" in b for b in bodies)  # the server declared nothing
    run = only_run(tmp_path / "project")
    state = state_of(run)
    assert state["status"] == "failed", state.get("stop_reason")
    statuses = {tid: t["status"] for tid, t in state["tasks"].items()}
    assert statuses == {"review": "failed", "debate": "no_consensus", "vote": "no_consensus",
                        "split": "failed", "implement": "skipped"}, statuses
    degraded = [(d["task"], d["decision"], d["reason"])
                for d in [*state["degraded"],
                          *(d for t in state["tasks"].values() for d in t["degraded"])]]
    assert sorted(degraded) == sorted([
        ("plan", "run_plan", "single_task"),
        ("review", "verdict", "changes_requested"), ("review", "verdict", "changes_requested"),
        ("debate", "judge", "no_decision"),
        ("vote", "ballot", "abstained"), ("vote", "ballot", "abstained"),
        ("vote", "ballot", "abstained"),
        ("split", "lead_plan", "single_subtask"), ("split", "lead_review", "changes_requested"),
    ])
    report = (run / "report.md").read_text()
    section = report.split("## Degraded decisions", 1)[1].split("\n## ", 1)[0]
    assert "9 decision(s)" in section
    for row in ("| `plan` | run_plan | supervisor |", "| `review` | verdict | reviewer | 2 |",
                "| `debate` | judge | reviewer |", "| `vote` | ballot | tester |",
                "| `split` | lead_plan | supervisor |", "| `split` | lead_review | supervisor |"):
        assert row in section, section
    assert PROSE[:60] in section
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    traced = [e for e in events if e.get("name") == "decision_degraded"]
    assert len(traced) == 9 and all(e["payload"]["level"] == "WARNING" for e in traced)
