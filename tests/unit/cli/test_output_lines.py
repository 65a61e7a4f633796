"""What crew prints is a clean line that says why (issue 26, item 9): a gate result, a
failed eval case, the eval plot's ticks, `crew runs` outside a repository, `crew resume` of
an unknown id, a plan's JSON in the HTML transcript."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.eval_cmd import case_reason
from crew.cli.live_board import event_line
from crew.cli.typer_app import app
from crew.eval.html import cost_ticks, plot_svg, tick_label
from crew.eval.results import VariantSummary


def test_a_gate_result_is_one_clean_line() -> None:
    passed = event_line({"type": "event", "name": "gate", "payload": {
        "gate": "pytest -q", "command": "pytest -q", "passed": True, "exit_code": 0,
        "attempt": 1, "output": "3 passed in 0.1s\nsome stderr noise"}})
    assert passed == "✔ gate `pytest -q` passed"
    failed = event_line({"type": "event", "name": "gate", "payload": {
        "gate": "pytest -q", "command": "pytest -q", "passed": False, "exit_code": 1,
        "attempt": 2, "output": "E   assert 1 == 2\n1 failed in 0.2s\n"}})
    assert failed == "✘ gate `pytest -q` failed (exit 1, attempt 2): 1 failed in 0.2s"
    node = event_line({"type": "event", "name": "gate", "payload": {  # a crash, no summary
        "gate": "npm test", "command": "npm test", "passed": False, "exit_code": 1,
        "output": "> mocha\n\n/p/node_modules/mocha/lib/cli/cli.js:5\nError [ERR_REQUIRE_ESM]: "
                  "require() of ES Module /p/x.js not supported.\n    at Object.<anonymous> "
                  "(/p/cli.js)\n  code: 'ERR_REQUIRE_ESM'\n}\n\nNode.js v18.20.4\n"}})
    assert node == ("✘ gate `npm test` failed (exit 1): Error [ERR_REQUIRE_ESM]: require() of "
                    "ES Module /p/x.js not supported."), node  # not "Node.js v18.20.4"


def test_a_failed_eval_case_says_why() -> None:
    check = {"name": "hidden", "command": "pytest hidden", "exit_code": 1, "passed": False,
             "output": "FAILED hidden/test_x.py::test_csv\n1 failed"}
    why = case_reason({"passed": False, "status": "failed", "checks": [check],
                       "run_status": "failed", "branch": "crew/x", "error": None})
    assert why == "check `pytest hidden` exit 1: 1 failed; the run ended failed"
    assert case_reason({"passed": False, "status": "error", "checks": [],
                        "error": "ProviderError: down"}) == "ProviderError: down"
    assert case_reason({"passed": True, "status": "passed"}) == ""


def test_the_plot_has_round_ticks_and_its_last_label_inside() -> None:
    ticks = cost_ticks(0.000736 * 1.1)
    assert ticks == [0.0, 0.0002, 0.0004, 0.0006, 0.0008, 0.001]
    assert [tick_label(t, 0.0002) for t in ticks[:2]] == ["$0.0000", "$0.0002"]
    svg = plot_svg([VariantSummary(id="single", n=2, passed=1, usd=0.001472, tokens=10,
                                   calls=2, wall_s=1.0)])
    assert "$0.000736" not in svg and "$0.0010" in svg
    last = svg.split("$0.0010")[0].rsplit("<text", 1)[1]
    assert 'text-anchor="end"' in last


def test_crew_runs_outside_a_repository_has_a_repo_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crew.run.index import record_run
    from crew.run.state import RunState, save_state
    from shared_helpers import committed_repo

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repo = committed_repo(tmp_path / "app")
    run = repo / ".crew" / "runs" / "20260101-000000-abcd"
    run.mkdir(parents=True)
    save_state(run, RunState(run_id=run.name, feature_path="f.yaml", feature_title="Add x",
                             repo=str(repo), status="passed"))
    record_run(run.name, repo, run, "Add x")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    out = CliRunner().invoke(app, ["runs"]).output
    header, row = out.splitlines()[:2]
    assert "REPO" in header and str(repo) in row and "Add x" in row
    monkeypatch.chdir(repo)
    assert "REPO" not in CliRunner().invoke(app, ["runs"]).output  # one repository: no column


def test_resume_of_an_unknown_id_prints_only_its_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["resume", "BADID"])
    assert "no run 'BADID'" in str(result.exception)
    assert result.output == ""  # no "loading models… · tasks: none of 0" line first


def test_the_html_transcript_shows_a_plan_whole(tmp_path: Path) -> None:
    from crew.observability.transcript import write_html

    plan = json.dumps({"tasks": [{"id": f"t{i}", "title": "x" * 40} for i in range(30)]})
    events = [
        {"type": "run.start", "id": "r", "parent": None, "name": "run", "ts": 1.0,
         "payload": {}},
        {"type": "generation.start", "id": "g", "parent": "r", "name": "plan", "ts": 1.0,
         "payload": {}},
        {"type": "generation.end", "id": "g", "parent": "r", "name": "plan", "ts": 2.0,
         "payload": {"output": {"content": plan}}},
        {"type": "run.end", "id": "r", "parent": None, "name": "run", "ts": 3.0, "payload": {}},
    ]
    out = tmp_path / "t.html"
    write_html(events, out)
    text = out.read_text()
    assert "chars)" not in text and '&quot;t29&quot;' in text
