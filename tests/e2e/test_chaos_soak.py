"""The soak of issue 31: 21 runs of a five-pattern feature against a stub model answering
~45% badly (chaos_answers.FAULTS), one run in three killed with SIGKILL at a seeded point and
resumed. Every run ends with a final status and report.md, no traceback and no crash.txt (a
crash in crew), every stopped run is listed as resumable and `crew resume` continues it.

Runs are in-process (`start_run` / `resume_run`, what `crew run` / `crew resume` call); the
killed ones are real `crew run` processes. Seeded: a failure reproduces with its seed."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import crew_env, only_run, state_of

from chaos_answers import chaotic, five_pattern_feature
from crew.cli.run_cmd import runs
from crew.run.launch import RunOptions, RunOutcome, resume_run, start_run
from crew.run.state import FINISHED_RUN
from crew.testing import StubServer

SEED = 20261207
RUNS = 21
BAD_RATE = 0.45
STOPPED = frozenset({"error", "budget", "interrupted"})
FINAL = FINISHED_RUN | STOPPED


def _opts() -> RunOptions:
    return RunOptions(sandbox="local", trace=False)


def _check_final(out: RunOutcome, label: str) -> None:
    assert out.state.status in FINAL, (label, out.state.status, out.state.stop_reason)
    assert (out.run_dir / "report.md").is_file(), label
    assert not (out.run_dir / "crash.txt").exists(), (
        label, (out.run_dir / "crash.txt").read_text()[-3000:])


def _kill_after(feature: Path, events: int) -> None:
    """`crew run` as a process, killed with SIGKILL after `events` JSON events (or at its end)."""
    proc = subprocess.Popen([sys.executable, "-m", "crew", "run", str(feature), "--json",
                             "--no-trace", "--sandbox", "local"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=crew_env(),
                            start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for n, line in enumerate(proc.stdout, 1):
            json.loads(line)  # every line the process printed is an event
            if n >= events:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        err = proc.stderr.read()
        proc.wait(timeout=30)
    assert "Traceback" not in err, err[-3000:]


def _listed_resumable(repo: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, bool]:
    """`crew runs --json --repo REPO` (its command function, in-process): run id → resumable."""
    capsys.readouterr()
    runs(repo=repo, json_mode=True)
    return {r["run_id"]: r["resumable"] for r in map(json.loads,
                                                      capsys.readouterr().out.splitlines())}


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~85 s of CPU in all; a loaded machine stretches the wall
def test_chaotic_model_never_crashes_a_run(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    statuses: list[str] = []
    killed = stopped = 0
    with StubServer() as stub:
        stub.respond(chaotic(SEED, BAD_RATE))
        for i in range(RUNS):
            feature = five_pattern_feature(tmp_path / f"r{i}", stub.url)
            repo = feature.parent / "project"
            if i % 3 == 0:  # killed -9 at a seeded point (planning included), then resumed
                killed += 1
                _kill_after(feature, rng.randrange(1, 80))
                run = only_run(repo)
                if state_of(run)["status"] not in FINISHED_RUN:
                    assert _listed_resumable(repo, capsys) == {run.name: True}
                    out = resume_run(run.name, RunOptions(repo=repo, sandbox="local",
                                                          trace=False))
                    _check_final(out, f"run {i} resumed after kill")
            else:
                out = start_run(feature, _opts())
                _check_final(out, f"run {i}")
            state = state_of(only_run(repo))
            if state["status"] in STOPPED:  # stopped: listed resumable, and a resume goes on
                stopped += 1
                run = only_run(repo)
                assert _listed_resumable(repo, capsys) == {run.name: True}
                out = resume_run(run.name, RunOptions(repo=repo, sandbox="local", trace=False))
                _check_final(out, f"run {i} resumed")
                assert out.state.sessions >= 2
            statuses.append(state_of(only_run(repo))["status"])
    assert len(statuses) == RUNS and killed == 7
    assert all(s in FINAL for s in statuses), statuses
