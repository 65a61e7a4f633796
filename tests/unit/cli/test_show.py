"""`crew show`: a traced run's conversation from `.crew/runs/<id>/events.jsonl`.

The runs are recorded for real: an agent (ScriptedLLM, a real read_file tool in a git repo) and
a debate pattern, under a tracer installed as a run installs it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crew.agent import Agent
from crew.cli.show_cmd import find_run_dir, show, show_command
from crew.context import RunContext
from crew.errors import UserError
from crew.observability import LangfuseSettings, Tracer
from crew.patterns.base import TaskInfo
from crew.patterns.debate import Debate
from crew.patterns.setup import pattern_context
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM
from crew.testing.otlp_receiver import closed_port

CODER = RoleSpec(name="coder", title="Coder", goal="Write code.", instructions="Be careful.",
                 model="smart", tools=["read_file"], max_turns=4)
ANALYST = CODER.model_copy(update={"name": "analyst", "title": "Analyst", "tools": []})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "notes.txt").write_text("export uses the csv module\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "init"], check=True, env=env)
    return root


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def run_dir(repo: Path, run_id: str) -> Path:
    return repo / ".crew" / "runs" / run_id


async def record_agent_run(repo: Path, run_id: str, tracer: Tracer | None = None) -> None:
    tracer = tracer or Tracer.create(run_id, "Add CSV export", run_dir(repo, run_id), env={},
                                     sinks=[])
    llm = ScriptedLLM([
        {"role": "coder", "tool_calls": [{"name": "read_file",
                                          "arguments": {"path": "notes.txt"}}]},
        {"role": "coder", "content": "Exported with the csv module."},
    ])
    with tracer.run(), \
            tracer.task("t1", "single", ["coder"], title="Write the exporter"), tracer.round(1):
        res = await Agent(CODER, llm, workspace=repo,
                          run_context=RunContext(tracer=tracer)).run("Add CSV export.")
    tracer.close()
    assert res.final


async def test_show_prints_tasks_rounds_turns_tool_calls_and_cost(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await record_agent_run(repo, "run-a1")
    show("run-a1", repo, None)
    out = capsys.readouterr().out
    assert "Run run-a1: Add CSV export" in out
    assert "Task t1 — Write the exporter  [single: coder]" in out
    assert "Round 1" in out and "coder (turn 1)" in out and "coder (turn 2)" in out
    assert '→ read_file({"path": "notes.txt"})' in out  # the model's call
    assert "⚙ read_file" in out and "export uses the csv module" in out  # the tool's result
    assert "Exported with the csv module." in out  # the final answer
    assert "2 LLM calls" in out and "1 tool calls" in out
    assert "Langfuse" not in out  # not traced there


async def test_show_a_debate_run_recorded_through_the_pattern(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tracer = Tracer.create("run-d1", "Pick a format", run_dir(repo, "run-d1"), env={},
                           sinks=[])
    llm = ScriptedLLM([{"role": "coder", "purpose": "judge",
                        "content": '{"decision": "csv", "rationale": "spreadsheets"}'},
                       {"role": "coder", "content": "CSV.\nPOSITION: csv", "repeat": True},
                       {"role": "analyst", "content": "JSON.\nPOSITION: json", "repeat": True}])
    task = TaskInfo(id="fmt", title="Format", roles=("coder", "analyst"),
                    params={"rounds": 2, "judge": "coder"})
    ctx = pattern_context(task, {"coder": CODER, "analyst": ANALYST}, llm, run_id="run-d1",
                          run_context=RunContext(tracer=tracer))
    with tracer.run(), tracer.task("fmt", "debate", task.roles):
        result = await Debate().run(ctx)
    tracer.close()
    assert result.decision == "csv"
    show("run-d1", repo, None)
    out = capsys.readouterr().out
    assert out.index("Round 1") < out.index("Round 2") < out.rindex("coder (turn 2)")
    assert out.count("analyst (turn") == 2 and "POSITION: json" in out
    assert "spreadsheets" in out  # the judge's verdict
    assert "5 LLM calls" in out


async def test_html_page_and_the_langfuse_url(repo: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    tracer = Tracer.create("run-h1", "Add CSV export", run_dir(repo, "run-h1"), env={}, sinks=[],
                           langfuse=LangfuseSettings("pk-lf-show", "sk-lf-show", base_url=url))
    await record_agent_run(repo, "run-h1", tracer)
    page = tmp_path / "out.html"
    show("run-h1", repo, page)
    out = capsys.readouterr().out
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "Exported with the csv module." in text
    assert "<script" not in text and "stylesheet" not in text  # self-contained
    assert f"wrote {page}" in out
    assert f"Langfuse: {url}/trace/{tracer.trace_id}" in out
    show("run-h1", repo, None)
    assert f"Langfuse: {url}/trace/" in capsys.readouterr().out


async def test_unknown_run_id_lists_the_runs(repo: Path) -> None:
    await record_agent_run(repo, "run-b7")
    await record_agent_run(repo, "run-b8")
    with pytest.raises(UserError) as err:
        show("run-b9", repo, None)
    assert err.value.exit_code == 2
    problem = err.value.problems[0]
    assert "no run 'run-b9'" in problem.message and "did you mean" in problem.message
    assert problem.hint is not None and "run-b7" in problem.hint and "run-b8" in problem.hint
    await record_agent_run(repo, "other-c1")
    with pytest.raises(UserError, match="matches 2 runs") as ambiguous:
        find_run_dir("run-b", repo)
    hint = ambiguous.value.problems[0].hint or ""
    assert "run-b7" in hint and "run-b8" in hint and "other-c1" not in hint, hint
    assert find_run_dir("run-b7", repo) == run_dir(repo, "run-b7")


def test_a_repo_without_runs(repo: Path) -> None:
    with pytest.raises(UserError, match="holds no runs"):
        show("anything", repo, None)


async def test_defaults_to_the_repo_of_the_current_directory(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await record_agent_run(repo, "run-c3")
    monkeypatch.chdir(repo / "src")
    assert find_run_dir("run-c", None) == run_dir(repo, "run-c3").resolve()


def test_not_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a git repository"):
        show("x", tmp_path, None)


async def test_typer_signature(repo: Path, tmp_path: Path) -> None:
    await record_agent_run(repo, "run-t1")
    app = typer.Typer()
    app.command("show")(show_command)
    app.command("other")(lambda: None)  # a group, as in crew's app
    page = tmp_path / "t.html"
    res = CliRunner().invoke(app, ["show", "run-t1", "--repo", str(repo), "--html", str(page)])
    assert res.exit_code == 0, res.output
    assert page.is_file() and "wrote" in res.output
    bad = CliRunner().invoke(app, ["show", "nope", "--repo", str(repo)])
    assert isinstance(bad.exception, UserError)  # crew's main() turns it into exit 2
