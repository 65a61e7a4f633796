"""Watching a run from another process: `crew show RUN_ID --follow` prints the turns as they
happen and exits with the run's exit code; `crew ui` in headless Chromium shows a finished
run and a running one, whose page gains a new turn without a reload."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_helpers import EXAMPLE, crew_env, make_demo_module, roles_on_stub

from crew.testing import StubReply, StubServer

pytestmark = pytest.mark.slow


USAGE = {"prompt_tokens": 400, "completion_tokens": 20}  # each answer's reported usage


def _reply(a: dict[str, Any]) -> StubReply:
    if a.get("tool_calls"):
        return StubReply.tool_call(*((c["name"], c.get("arguments", {}))
                                     for c in a["tool_calls"]), content=a.get("content"),
                                   **USAGE)
    return StubReply.text(a["content"], **USAGE)


def _demo_on_stub(feature: Path, stub: StubServer, delay: dict[tuple[str, int], float]) -> None:
    """The demo's answers served by `stub`, one queue per role; `delay[(role, n)]` holds the
    role's n-th answer (1-based) back that many seconds."""
    roles_on_stub(feature, stub.url, {"num_retries": 0})
    answers = yaml.safe_load((EXAMPLE / "replay.yaml").read_text())["answers"]
    seen: dict[str, int] = {}
    for a in answers:
        seen[a["role"]] = n = seen.get(a["role"], 0) + 1
        reply = _reply(a)
        if (a["role"], n) in delay:
            reply = dataclasses.replace(reply, delay_s=delay[(a["role"], n)])
        stub.enqueue(reply, model=a["role"])


def _start(feature: Path, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """`crew run FEATURE --json` in the background (its output to `log`, else a pipe)."""
    out = log.open("w") if log is not None else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "crew", "run", str(feature), "--no-trace",
                             "--json", *args], stdout=out,
                            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
                            text=True, env=crew_env())


def _run_dir_of(proc: subprocess.Popen[str], repo: Path, feature: Path,
                timeout: float = 60) -> Path:
    """The run directory `proc` (running `feature`) created, once its state.json exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for state in (repo / ".crew" / "runs").glob("*/state.json"):
            try:
                if json.loads(state.read_text())["feature_path"] == str(feature):
                    return state.parent
            except (ValueError, KeyError, OSError):
                continue
        assert proc.poll() is None, "the run ended before it made a run directory"
        time.sleep(0.05)
    raise TimeoutError("no run directory")


def test_follow_prints_turns_as_they_happen_and_exits_with_the_runs_code(
        tmp_path: Path) -> None:
    feature: Path = make_demo_module().make_demo(tmp_path / "demo")
    repo = feature.parent / "project"
    elsewhere = tmp_path / "elsewhere"  # not in the repository: found through the index
    elsewhere.mkdir()
    with StubServer(latency_s=0.3) as stub:
        _demo_on_stub(feature, stub, {})
        run = _start(feature, "--budget-tokens", "4000")  # ~10 calls in: exit 3
        run_dir = _run_dir_of(run, repo, feature)
        started = time.time()
        follow = [subprocess.Popen([sys.executable, "-m", "crew", "show", run_dir.name[:15],
                                    "--follow", *flags], cwd=elsewhere, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=crew_env())
                  for flags in (["--json"], [])]
        run_out, _ = run.communicate(timeout=180)
        outs = [p.communicate(timeout=60) for p in follow]
    result = json.loads(run_out.splitlines()[-1])
    assert result["status"] == "budget" and run.returncode == 3
    events = [json.loads(line) for line in outs[0][0].splitlines()]
    assert follow[0].returncode == 3, outs[0][1]
    assert events[-1] == {"type": "crew.result", "run_id": run_dir.name, "status": "budget",
                          "exit_code": 3}
    turns = [e for e in events if e["type"] == "agent.start" and e["ts"] > started]
    assert turns, "no turn that began after --follow started"
    assert any(e["type"] == "generation.end" and e["ts"] > started for e in events)
    assert any(e["type"] == "event" and e["name"] == "budget_warning" for e in events) or \
        any(e["type"] == "run.end" for e in events)
    plain, err = outs[1]
    assert follow[1].returncode == 3, err
    assert "(turn 1)" in plain and "supervisor" in plain
    assert plain.rstrip().endswith(f"run {run_dir.name} ended: budget (exit 3)")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TURNS = "document.querySelectorAll('#run-body details.agent').length"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_crew_ui_shows_a_finished_and_a_running_run_live_in_chromium(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("websockets")
    from cdp import Chromium

    demo = make_demo_module()
    feature_a = demo.make_demo(tmp_path / "a")
    feature_b = demo.make_demo(tmp_path / "b")
    repo = feature_a.parent / "project"  # both runs work on this repository
    hold = 12.0
    browser = None
    with StubServer() as stub_a, StubServer(latency_s=0.1) as stub_b:
        _demo_on_stub(feature_a, stub_a, {})
        _demo_on_stub(feature_b, stub_b, {("doc_writer", 1): hold})  # docs waits for its writer
        run_a = _start(feature_a, log=tmp_path / "a.log")
        run_b = _start(feature_b, "--repo", str(repo), log=tmp_path / "b.log")
        ui = subprocess.Popen([sys.executable, "-m", "crew", "ui", "--port", "0", "--repo",
                               str(repo)], stdout=subprocess.PIPE,
                              stderr=(tmp_path / "ui.log").open("w"), text=True, env=crew_env())
        try:
            assert ui.stdout is not None
            url = ui.stdout.readline().split()[2]
            assert url.startswith("http://127.0.0.1:"), url
            dir_a = _run_dir_of(run_a, repo, feature_a)
            dir_b = _run_dir_of(run_b, repo, feature_b)
            browser = Chromium(tmp_path / "chromium")  # starts while the runs work
            assert run_a.wait(timeout=120) == 0, (tmp_path / "a.log").read_text()[-2000:]
            deadline = time.monotonic() + 90
            while not stub_b.requests_for("doc_writer"):  # the held answer is being waited for
                assert run_b.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
            held_since = time.monotonic()
            with browser as page:
                page.open(url)
                runs = page.evaluate("[...document.querySelectorAll('tr.run-row')]"
                                     ".map(r => r.innerText)")
                assert any(dir_a.name in r and "passed" in r for r in runs), runs
                assert any(dir_b.name in r and "running" in r for r in runs), runs

                page.open(f"{url}runs/{dir_b.name}")
                page.evaluate("window.crewMark = 'same page'")  # gone if the page reloads
                before = page.evaluate(TURNS)
                assert time.monotonic() - held_since < hold - 3, "page loaded too late"
                tasks = page.evaluate("[...document.querySelectorAll('details.task')]"
                                      ".map(d => d.id)")
                assert tasks == ["task-threat-model", "task-export-csv", "task-docs"]
                body = page.evaluate("document.getElementById('run-body').innerText")
                assert "Hand-built CSV lines would break" in body  # a message
                assert page.evaluate("[...document.querySelectorAll('details.tool summary')]"
                                     ".some(s => s.innerText.includes('write_file'))")
                diff = page.evaluate("document.querySelector('#diff-export-csv pre').textContent")
                assert "+++ b/todo.py" in diff and "def export_csv" in diff
                assert page.evaluate("document.getElementById('run-status').innerText") == \
                    "running"

                page.wait_for(f"{TURNS} > {before}", timeout=hold + 30)  # the held turn ends
                assert page.evaluate("window.crewMark") == "same page"  # no reload
                assert int(page.evaluate("document.getElementById('run-body')"
                                         ".dataset.updates || '0'")) >= 1
                page.wait_for("document.getElementById('run-body').innerText"
                              ".includes('README.md documents')", timeout=30)
                shot = page.screenshot(tmp_path / "crew-ui-running-run.png")
                page.wait_for("document.getElementById('run-body').dataset.ended", timeout=60)
                assert page.evaluate("document.getElementById('run-status').innerText") == \
                    "passed"
            assert run_b.wait(timeout=60) == 0, (tmp_path / "b.log").read_text()[-2000:]
        finally:
            if browser is not None:
                browser.close()
            for p in (run_a, run_b):
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=30)
            ui.terminate()
            ui.wait(timeout=30)
    kept = Path(tempfile.gettempdir()) / "crew-ui-e2e" / shot.name
    kept.parent.mkdir(exist_ok=True)
    shutil.copy(shot, kept)
    with capsys.disabled():
        print(f"\ncrew ui screenshot: {shot} (copy: {kept})")
    assert shot.stat().st_size > 10_000
