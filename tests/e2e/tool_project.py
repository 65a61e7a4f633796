"""A one-task project for the tool e2e tests: a git repo, a two-role crew (lead plans, worker
does the pinned task with the `single` pattern) whose models are served by a StubServer, and
`crew` run as a real subprocess (optionally on a pty)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml
from e2e_helpers import crew_env

from crew.testing import StubReply, StubServer
from shared_helpers import CliResult, crew_in_process

HERE = Path(__file__).resolve().parent
SERVER = HERE / "mcp_issue_server.py"
PLUGINS = HERE.parent / "plugins"


def make_project(tmp: Path, stub: StubServer, *, tools: list[str],
                 extra: dict[str, Any] | None = None) -> Path:
    """The feature.yaml of a fresh project; `extra` goes into the feature (mcp_servers...)."""
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# demo\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "notes.md").write_text("notes\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": os.environ["PATH"], "HOME": str(tmp)}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    spec = tmp / "spec"
    (spec / "roles").mkdir(parents=True)
    (spec / "crews").mkdir()
    shutil.copy(SERVER, spec / "issue_server.py")
    for name, role_tools in (("lead", []), ("worker", tools)):
        (spec / "roles" / f"{name}.yaml").write_text(yaml.safe_dump({
            "title": name.title(), "goal": f"Be the {name}.", "instructions": "Be brief.",
            "model": name, "tools": role_tools, "max_turns": 6}))
    (spec / "crews" / "mini.yaml").write_text(textwrap.dedent("""\
        supervisor: lead
        members: [worker]
        patterns: [single]
        defaults: {pattern: single, max_parallel: 1, sandbox: local}
        """))
    (spec / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": stub.url,
                                             "api_key": "sk-stub-not-a-key"}}
        for n in ("lead", "worker")], "router_settings": {"num_retries": 0}}))
    feature = {"title": "Triage issue 7", "goal": "Read issue 7 and act on it.",
               "repo": "../repo", "crew": "mini", "models": "models.yaml",
               "tasks": [{"id": "triage", "title": "Triage issue 7", "pattern": "single",
                          "roles": ["worker"]}], **(extra or {})}
    path = spec / "feature.yaml"
    path.write_text(yaml.safe_dump(feature, sort_keys=False))
    stub.enqueue(StubReply.text('{"tasks": []}'), model="lead")
    return path


def run_crew(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """`crew ...` with no terminal at all (stdin from /dev/null, output captured), in this
    process (crew.cli.app.main, as `python -m crew` runs it)."""
    return crew_in_process(*args, env=env or crew_env())


def run_crew_process(*args: str, env: dict[str, str] | None = None,
                     timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`crew ...` as a new process with no terminal: for what a process reads once at its
    start (installed plugins' entry points, the sandbox program found on PATH)."""
    return subprocess.run([sys.executable, "-m", "crew", *args], capture_output=True,
                          text=True, env=env or crew_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL)


def traced_env(base_url: str, **extra: str) -> dict[str, str]:
    """crew_env() exporting to a local OTLP receiver through the Langfuse SDK."""
    env = crew_env()
    env.pop("LANGFUSE_HOST", None)
    env.update(LANGFUSE_PUBLIC_KEY="pk-lf-tools-0123456789abcdef",
               LANGFUSE_SECRET_KEY="sk-lf-tools-secret-0123456789abcdef",
               LANGFUSE_BASE_URL=base_url, LANGFUSE_TRACING_ENABLED="true", **extra)
    return env


def with_plugins(env: dict[str, str], site: Path) -> dict[str, str]:
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(site), str(PLUGINS), *filter(None, [env.get("PYTHONPATH")])])
    return env


def events(repo: Path) -> list[dict[str, Any]]:
    runs = [p for p in (repo / ".crew" / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return [json.loads(x) for x in (runs[0] / "events.jsonl").read_text().splitlines()]


def tool_messages(stub: StubServer, model: str) -> list[str]:
    """The tool results the model `model` was sent, in the last request it got."""
    last = stub.requests_for(model)[-1].body["messages"]
    return [str(m.get("content")) for m in last if m.get("role") == "tool"]
