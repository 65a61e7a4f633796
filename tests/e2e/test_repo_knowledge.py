"""Repository knowledge across runs (`crew run` as a subprocess, the stub server through
LiteLLM's real HTTP path). The stub's roles follow rules instead of a fixed script: the author
uses the project's error type only when some message tells it to, the reviewer asks for it
until the author uses it, and the lead distils what the run summary shows. So run 2 needs fewer
review rounds only if run 1's notes really reach run 2's system messages."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_helpers import crew, crew_env, ledger_of, state_of

from crew.testing import StubReply, StubServer

pytestmark = pytest.mark.slow

SECRET = "Zq8xLm2Pw9Rt4Yv7Kd3N"  # DEPLOY_TOKEN's value: it must never reach the notes
CONVENTION = "Raise AppError from app/errors.py for invalid input, never ValueError"
AGENTS_MD = "# Agents\n\nKeep functions small.\n"
DISTIL_MARK = "You keep short notes about this repository"


def _texts(body: dict[str, Any], *, system: bool) -> str:
    return "\n".join(str(m.get("content") or "") for m in body["messages"]
                     if (m.get("role") == "system") == system)


def _author(body: dict[str, Any]) -> StubReply:
    everything = _texts(body, system=True) + _texts(body, system=False)
    if "AppError" in everything:
        return StubReply.text("Done: parse raises AppError for bad input.")
    return StubReply.text(f"Done: parse raises ValueError for bad input (token {SECRET}).")


def _reviewer(body: dict[str, Any]) -> StubReply:
    users = [str(m.get("content") or "") for m in body["messages"] if m.get("role") == "user"]
    if users and "AppError" in users[-1] and "ValueError" not in users[-1]:
        return StubReply.text(json.dumps({"approved": True, "summary": "Follows the rules."}))
    return StubReply.text(json.dumps({"approved": False, "summary": "Wrong error type.",
                                      "changes": [{"file": "app/parse.py", "problem":
                                                   f"{CONVENTION}; do not log {SECRET}"}]}))


def _lead(body: dict[str, Any]) -> StubReply:
    if DISTIL_MARK not in _texts(body, system=True):
        return StubReply.text('{"tasks": []}')  # the plan: the pinned task only
    summary = _texts(body, system=False)
    if "AppError" not in summary:
        return StubReply.text('{"commands": [], "conventions": [], "pitfalls": []}')
    return StubReply.text(json.dumps({
        "commands": ["`python3 -c 'import app'` checks that the package imports"],
        "conventions": [CONVENTION],
        # a model echoing a secret, and chatter: both refused
        "pitfalls": [f"Export DEPLOY_TOKEN={SECRET} before the gate",
                     "I think this run went well!"]}))


def _project(tmp: Path, stub: StubServer, *, crew_knowledge: str,
             lead: Callable[[dict[str, Any]], StubReply] = _lead) -> tuple[Path, Path]:
    repo = tmp / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "errors.py").write_text("class AppError(Exception):\n    pass\n")
    (repo / "AGENTS.md").write_text(AGENTS_MD)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": os.environ["PATH"], "HOME": str(tmp)}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    spec = tmp / "spec"
    (spec / "roles").mkdir(parents=True)
    (spec / "crews").mkdir()
    for name in ("lead", "author", "reviewer"):
        (spec / "roles" / f"{name}.yaml").write_text(yaml.safe_dump({
            "title": name.title(), "goal": f"Be the {name}.", "instructions": "Be brief.",
            "model": name, "tools": [], "max_turns": 3}))
    (spec / "crews" / "mini.yaml").write_text(textwrap.dedent(f"""\
        supervisor: lead
        members: [author, reviewer]
        patterns: [review_loop]
        defaults: {{pattern: review_loop, max_parallel: 1, sandbox: local}}
        knowledge: {crew_knowledge}
        """))
    (spec / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": stub.url,
                                             "api_key": "sk-stub-not-a-key"}}
        for n in ("lead", "author", "reviewer")], "router_settings": {"num_retries": 0}}))
    stub.respond(lead, model="lead").respond(_author, model="author")
    stub.respond(_reviewer, model="reviewer")
    return repo, spec


def _feature(spec: Path, name: str, knowledge: str | None) -> Path:
    data: dict[str, Any] = {
        "title": f"Add {name}", "goal": f"Add app/{name}.py with a parse function.",
        "repo": "../repo", "crew": "mini", "models": "models.yaml",
        "acceptance": ["python3 -c 'import app'"],
        "tasks": [{"id": name, "title": f"Add {name}", "pattern": "review_loop",
                   "roles": ["author", "reviewer"]}]}
    if knowledge is not None:
        data["knowledge"] = knowledge
    path = spec / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(feature: Path, stub: StubServer) -> tuple[Path, list[dict[str, Any]]]:
    before = len(stub.requests)
    env = {**crew_env(), "DEPLOY_TOKEN": SECRET}
    res = crew("run", str(feature), "--no-trace", env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert SECRET not in res.stdout + res.stderr
    runs = sorted((feature.parent.parent / "repo" / ".crew" / "runs").iterdir(),
                  key=lambda p: p.stat().st_mtime)
    return runs[-1], [r.body for r in stub.requests[before:]]


def test_second_run_starts_from_what_the_first_learned(tmp_path: Path) -> None:
    with StubServer() as stub:
        repo, spec = _project(tmp_path, stub, crew_knowledge="off")  # the feature's `on` wins
        run1, bodies1 = _run(_feature(spec, "port", "on"), stub)
        notes_file = repo / ".crew" / "knowledge.md"
        notes = notes_file.read_text()
        run2, bodies2 = _run(_feature(spec, "host", "on"), stub)

    s1, s2 = state_of(run1), state_of(run2)
    assert s1["status"] == s2["status"] == "passed"
    # run 1: the reviewer asked for the convention; the notes keep it, tagged with the run
    assert s1["tasks"]["port"]["rounds"] == 2
    assert f"- {CONVENTION} [run {s1['run_id']}]" in notes
    assert "## Commands" in notes and "import app" in notes
    # the planted secret: redacted from the distil call's input, refused in its answer
    distil = [b for b in bodies1 if DISTIL_MARK in _texts(b, system=True)]
    assert len(distil) == 1 and SECRET not in json.dumps(distil[0])
    assert SECRET not in notes and "DEPLOY_TOKEN" not in notes and "went well" not in notes
    k1 = s1["knowledge"]
    assert k1["file"] == ".crew/knowledge.md" and k1["refused"] == 2
    assert f"Conventions: {CONVENTION}" in k1["added"]
    report = (run1 / "report.md").read_text()
    assert "## Knowledge" in report and CONVENTION in report and SECRET not in report
    assert not subprocess.run(["git", "-C", str(repo), "status", "--porcelain"],
                              capture_output=True, text=True, check=True).stdout.strip()

    # run 2: the notes follow AGENTS.md at the head of every role's system message
    head = f"## Repository conventions (AGENTS.md)\n{AGENTS_MD.strip()}\n\n"
    head += "## Repository knowledge (learned on earlier runs)\n"
    for body in bodies2:
        system = body["messages"][0]
        assert system["role"] == "system" and system["content"].startswith(head)
        assert CONVENTION in system["content"]
    assert [b["model"] for b in bodies2] == ["lead", "author", "reviewer"]
    # ... so the author follows the convention at once: one review round, fewer calls, tokens
    assert s2["tasks"]["host"]["rounds"] == 1
    assert s2["spent"]["calls"] < s1["spent"]["calls"]
    # nothing in run 2 the notes lack (no review request, the gate's command known): no call
    assert not any(DISTIL_MARK in _texts(b, system=True) for b in bodies2)
    assert s2["knowledge"]["added"] == [] and "nothing new" in s2["knowledge"]["note"]
    assert notes_file.read_text() == notes


def test_knowledge_off_reads_and_writes_none(tmp_path: Path) -> None:
    with StubServer() as stub:
        repo, spec = _project(tmp_path, stub, crew_knowledge="off")  # the crew's, unset below
        notes_file = repo / ".crew" / "knowledge.md"
        notes_file.parent.mkdir()
        notes_file.write_text(f"# Repository knowledge (crew)\n\n## Conventions\n"
                              f"- {CONVENTION} [run 20261207-000000-abcd]\n")
        before = notes_file.read_text()
        run, bodies = _run(_feature(spec, "port", None), stub)
    state = state_of(run)
    assert state["status"] == "passed" and state["knowledge"] is None
    assert all(CONVENTION not in _texts(b, system=True) for b in bodies)
    assert not any(DISTIL_MARK in _texts(b, system=True) for b in bodies)
    assert state["tasks"]["port"]["rounds"] == 2  # nothing told the author
    assert "knowledge" not in {e["purpose"] for e in ledger_of(run)}
    assert notes_file.read_text() == before
    assert "## Knowledge" not in (run / "report.md").read_text()


def test_knowledge_commit_puts_the_notes_on_the_runs_branch(tmp_path: Path) -> None:
    with StubServer() as stub:
        repo, spec = _project(tmp_path, stub, crew_knowledge="commit")  # the crew's key
        run, _ = _run(_feature(spec, "port", None), stub)
    state = state_of(run)
    assert state["status"] == "passed" and state["knowledge"]["file"] == "CREW.md"
    branch = state["branch"]
    notes = subprocess.run(["git", "-C", str(repo), "show", f"{branch}:CREW.md"],
                           capture_output=True, text=True, check=True).stdout
    assert f"- {CONVENTION} [run {state['run_id']}]" in notes and SECRET not in notes
    subject = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%an|%s", branch],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert subject == f"crew (crew)|crew: repository knowledge from run {state['run_id']}"
    assert not (repo / "CREW.md").exists() and not (repo / ".crew" / "knowledge.md").exists()


def _lead_rambles(body: dict[str, Any]) -> StubReply:
    if DISTIL_MARK in _texts(body, system=True):
        return StubReply.text("What a lovely run! Nothing to add, I think.")
    return _lead(body)


def test_an_unusable_distil_answer_adds_nothing_and_the_run_still_passes(
        tmp_path: Path) -> None:
    with StubServer() as stub:
        repo, spec = _project(tmp_path, stub, crew_knowledge="on", lead=_lead_rambles)
        run, bodies = _run(_feature(spec, "port", None), stub)
    state = state_of(run)
    assert state["status"] == "passed"
    assert sum(DISTIL_MARK in _texts(b, system=True) for b in bodies) == 1  # no re-ask
    assert state["knowledge"]["added"] == []
    assert state["knowledge"]["note"].startswith("nothing added: StructuredOutputError")
    assert not (repo / ".crew" / "knowledge.md").exists()
    assert "Nothing added to `.crew/knowledge.md`" in (run / "report.md").read_text()
