"""`crew show RUN_ID --follow [--json]` on an ended run: every event printed (turns, what was
said, tool calls, gate results), secrets redacted, then the end line and the run's exit code.
(While a run is going: tests/e2e/test_watch_run.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.app import app
from crew.errors import UserError
from crew.observability.tracer import Tracer
from crew.run.state import RunState, run_dir, save_state

SECRET = "follow-" + "Zq9" * 6


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FOLLOW_API_KEY", raising=False)
    d = run_dir(tmp_path, "20261207-010101-beef")
    tracer = Tracer.create(d.name, "Export", d, enabled=False, sinks=[])
    with tracer.run(), tracer.task("t1", "single", ["coder"], title="Export"):
        with tracer.agent("coder", 1), tracer.generation("smart", []) as gen:
            gen.end({"role": "assistant", "content": f"Done; the key was {SECRET}",
                     "tool_calls": [{"function": {"name": "read_file",
                                                  "arguments": '{"path": "a.py"}'}}]})
        with tracer.agent("coder", 2), tracer.tool("read_file", {"path": "a.py"}) as tool:
            tool.end(error="no such file")
        tracer.event("gate", "WARNING", {"gate": "tests", "passed": False, "exit_code": 1})
    tracer.close()
    save_state(d, RunState(run_id=d.name, feature_path="f.yaml", feature_title="Export",
                           repo=str(tmp_path), branch="crew/x", status="failed"))
    monkeypatch.setenv("FOLLOW_API_KEY", SECRET)  # known now, not when the run wrote it
    return tmp_path


def test_follow_prints_every_turn_and_exits_with_the_runs_code(repo: Path) -> None:
    res = CliRunner().invoke(app, ["show", "20261207", "--follow", "--repo", str(repo)])
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    assert "▶ t1 Export · single · coder" in lines
    assert "  t1 · coder (turn 1)" in lines and "  t1 · coder (turn 2)" in lines
    assert "    t1 · coder: Done; the key was [REDACTED]" in lines
    assert '    → read_file({"path": "a.py"})' in lines and "    ⚙ read_file(a.py)" in lines
    assert "    ✘ read_file: no such file" in lines
    assert "  ✘ gate `tests` failed (exit 1)" in lines
    assert lines[-1] == "run 20261207-010101-beef ended: failed (exit 1)"
    assert SECRET not in res.output


def test_follow_json_prints_one_event_per_line_then_the_result(repo: Path) -> None:
    res = CliRunner().invoke(app, ["show", "20261207-010101-beef", "--follow", "--json",
                                   "--repo", str(repo)])
    assert res.exit_code == 1, res.output
    events = [json.loads(line) for line in res.output.splitlines()]
    assert [e["type"] for e in events][:2] == ["run.start", "task.start"]
    assert sum(e["type"] == "agent.start" for e in events) == 2
    assert events[-1] == {"type": "crew.result", "run_id": "20261207-010101-beef",
                          "status": "failed", "exit_code": 1}
    assert SECRET not in res.output and "[REDACTED]" in res.output


@pytest.mark.parametrize("args", [["--json"], ["--follow", "--html", "x.html"]])
def test_flags_that_do_not_go_together_are_refused(repo: Path, args: list[str]) -> None:
    res = CliRunner().invoke(app, ["show", "20261207", "--repo", str(repo), *args])
    assert isinstance(res.exception, UserError)  # crew's main() prints it and exits 2
    assert res.exception.exit_code == 2 and res.exception.problems[0].field in ("--json", "--follow")
    assert res.output == ""
