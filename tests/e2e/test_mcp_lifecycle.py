"""Issue 18: a stdio MCP server lives as long as the crew process running the run. Ctrl-C
(SIGINT, exit 4) stops it; after kill -9 it exits by itself (its stdin closes), and
`crew resume` starts a fresh one and stops it at the end."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from e2e_helpers import crew_env, only_run, state_of
from tool_project import make_project, run_crew

from crew.testing import StubReply, StubServer
from shared_helpers import alive, wait_until

SERVERS = {"issues": {"command": ["python", "issue_server.py"]}}


def _start_and_stop(tmp_path: Path, sig: signal.Signals) -> tuple[Path, int, int]:
    """Start a run, wait for its first model request, send `sig`; (feature, server pid, rc)."""
    stub = StubServer(latency_s=4).start()
    try:
        feature = make_project(tmp_path, stub, tools=["mcp:issues/*"],
                               extra={"mcp_servers": SERVERS})
        stub.always(StubReply.text('{"tasks": []}'), model="lead")
        stub.always(StubReply.text("done"), model="worker")
        pid_file = feature.parent / "server.pid"
        proc = subprocess.Popen([sys.executable, "-m", "crew", "run", str(feature),
                                 "--no-trace"], env=crew_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_until(lambda: bool(stub.requests), 120), "no model request came"
            pid = int(pid_file.read_text())
            assert alive(pid)
            proc.send_signal(sig)
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        pid_file.unlink()
        return feature, pid, rc
    finally:
        stub.stop()


def _resume(feature: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    run_id = state_of(only_run(repo))["run_id"]
    with StubServer() as stub:
        models = feature.parent / "models.yaml"
        old = models.read_text()
        models.write_text(old.replace(old.split("api_base: ")[1].split("\n")[0], stub.url))
        stub.always(StubReply.text('{"tasks": []}'), model="lead")
        stub.always(StubReply.text("done"), model="worker")
        res = run_crew("resume", run_id, "--repo", str(repo), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    pid = int((feature.parent / "server.pid").read_text())  # a fresh server ...
    assert wait_until(lambda: not alive(pid), 10)  # ... stopped at the end


def test_ctrl_c_stops_the_server(tmp_path: Path) -> None:
    feature, pid, rc = _start_and_stop(tmp_path, signal.SIGINT)
    assert rc == 4
    assert not alive(pid)
    _resume(feature, tmp_path)


def test_after_kill_9_the_server_exits_and_resume_starts_a_fresh_one(tmp_path: Path) -> None:
    feature, pid, rc = _start_and_stop(tmp_path, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert wait_until(lambda: not alive(pid), 20), "the server outlived the killed run"
    _resume(feature, tmp_path)
