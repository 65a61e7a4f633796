"""The supervisor reads the repository before planning: in a real git repo of 300 files, a
model behind the stub server (through crew's real LiteLLM Router) searches, reads a file deep
in the tree and plans a task naming it; the reads really ran; the turn cap holds for a model
that never stops calling tools, which must still plan; writing is impossible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.llm import LLM
from crew.run.plan import make_plan, repo_context
from crew.run.plan_tools import CUT_OFF, PLAN_TOOLS, PlanRepo
from crew.spec.resolve import resolve_feature
from crew.testing import StubReply, StubServer

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "todo-csv"
DEEP = "src/zeta/storage/backends/sqlite/schema.py"
DEEP_TEXT = 'TABLE = "todos_v7"  # the one place the table name lives\n'
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}


def _repo(root: Path) -> list[str]:
    """A git repo of 300 files; DEEP sorts after the 120 names the prompt lists."""
    files = [f"src/app/pkg{i:02d}/mod{j}.py" for i in range(30) for j in range(9)]
    files += [f"docs/page{i:02d}.md" for i in range(29)] + [DEEP]
    assert len(files) == 300
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(DEEP_TEXT if f == DEEP else f"# {f}\nVALUE = 1\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "init"], check=True, env=GIT_ENV)
    return files


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    stub = StubServer().start()
    (tmp_path / "feature.yaml").write_text((EXAMPLE / "feature.yaml").read_text())
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": f"openai/{a}", "api_base": stub.url,
                                             "api_key": "sk-stub"}} for a in ("smart", "fast")],
        "router_settings": {"num_retries": 0}}))
    root = tmp_path / "project"
    root.mkdir()
    files = _repo(root)
    resolved = resolve_feature(tmp_path / "feature.yaml")
    llm = LLM(resolved.models, base_dir=resolved.models_dir)
    yield stub, resolved, llm, root, files
    stub.stop()


def _plan(description: str) -> StubReply:
    return StubReply.text(json.dumps({"tasks": [{
        "id": "rename-table", "title": f"Rename the table in {DEEP}", "description": description,
        "pattern": "review_loop", "roles": ["coder", "reviewer"],
        "depends_on": ["threat-model"]}]}))


async def _make(resolved: Any, llm: LLM, root: Path, files: list[str]) -> Any:
    return await make_plan(resolved, llm, run_id="r1", repo_text=repo_context(root, files),
                           repo=PlanRepo(root))


def _tools_of(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools", [])]


async def test_the_plan_names_a_file_the_planner_read(setup: Any) -> None:
    stub, resolved, llm, root, files = setup
    stub.enqueue(StubReply.tool_call(("search_code", {"pattern": "todos_v7"})),
                 StubReply.tool_call(("read_file", {"path": DEEP})),
                 _plan(f"Change TABLE in {DEEP} from todos_v7 to todos."), model="smart")
    plan, notes = await _make(resolved, llm, root, files)
    bodies = [r.body for r in stub.requests]
    assert len(bodies) == 3 and notes == []
    # the prompt's file list stops at 120 names: the deep file is not among them
    first_user = bodies[0]["messages"][1]["content"]
    assert DEEP not in first_user and "… and 180 more" in first_user
    assert all(_tools_of(b) == list(PLAN_TOOLS) for b in bodies)
    # the tools really ran: their results went back to the model
    results = [m["content"] for m in bodies[2]["messages"] if m["role"] == "tool"]
    assert results[0] == f'{DEEP}:1:{DEEP_TEXT.rstrip()}'
    assert results[1] == f"1\t{DEEP_TEXT.rstrip()}"
    planned = plan[-1]
    assert planned.id == "rename-table" and DEEP in planned.description
    assert planned.roles == ["coder", "reviewer"] and planned.depends_on == ["threat-model"]
    assert [(e.purpose, e.turn) for e in llm.ledger.entries] == [
        ("plan", 1), ("plan", 2), ("plan", 3)]


async def test_a_model_that_never_stops_reading_is_cut_off_and_still_plans(setup: Any) -> None:
    stub, resolved, llm, root, files = setup
    cap = resolved.roles["supervisor"].spec.max_turns
    # every tool turn reads another file (no repeat guard), and it would go on for ever
    stub.enqueue(*(StubReply.tool_call(("read_file", {"path": files[i]})) for i in range(cap)),
                 _plan(f"Rename the table in {DEEP}."), model="smart")
    stub.always(StubReply.tool_call(("list_files", {"path": "docs"})), model="smart")
    plan, notes = await _make(resolved, llm, root, files)
    bodies = [r.body for r in stub.requests]
    assert [bool(_tools_of(b)) for b in bodies] == [True] * cap + [False]
    last = bodies[-1]["messages"]
    assert sum(m["role"] == "tool" for m in last) == cap
    assert any(m["role"] == "user" and m["content"].startswith(CUT_OFF) for m in last)
    assert [t.id for t in plan] == ["threat-model", "rename-table"] and notes == []


async def test_the_planner_cannot_write(setup: Any) -> None:
    stub, resolved, llm, root, files = setup
    stub.enqueue(StubReply.tool_call(("write_file", {"path": "pwned.py", "content": "x = 1\n"}),
                                     ("edit_file", {"path": DEEP, "old_text": "todos_v7",
                                                    "new_text": "gone"}),
                                     ("run_command", {"command": "touch pwned2"})),
                 _plan("Rename it."), model="smart")
    plan, _ = await _make(resolved, llm, root, files)
    assert _tools_of(stub.requests[0].body) == list(PLAN_TOOLS)
    results = [m["content"] for m in stub.requests[1].body["messages"] if m["role"] == "tool"]
    assert len(results) == 3
    for name, out in zip(("write_file", "edit_file", "run_command"), results, strict=True):
        assert out.startswith(f"Error: unknown tool {name!r}")
        assert "Available tools: list_files, read_file, search_code" in out
    assert not (root / "pwned.py").exists() and not (root / "pwned2").exists()
    assert (root / DEEP).read_text() == DEEP_TEXT
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert status == "" and plan[-1].id == "rename-table"
