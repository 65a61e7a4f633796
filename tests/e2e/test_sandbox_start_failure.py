"""Issue 13 item 4, end to end: a sandbox that cannot start is not the model's problem. The
task stops after the one call that needed it — the model is not asked about it — the run ends
with status `error`, exit 1 and the sandbox's own message, `crew runs` lists it as resumable,
and `crew resume` runs the task again once the sandbox works.

The bubblewrap here passes crew's startup probe but cannot mount /proc, the way bwrap fails in
an unprivileged container (`bwrap: Can't mount proc on /newroot/proc: Operation not
permitted`); removing its flag file makes it the real bwrap again. The Docker case uses the
real daemon with an image that has no /bin/sh, so no container can start."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import crew_env, git, only_run, state_of
from tool_project import make_project, run_crew, run_crew_process

from crew.testing import StubReply, StubServer

CANT_MOUNT = "Can't mount proc on /newroot/proc: Operation not permitted"


def _broken_bwrap(tmp: Path) -> tuple[Path, Path]:
    """A `bwrap` on PATH that fails every real command while `flag` exists (the probe passes),
    and is the real bwrap otherwise. Returns (bin dir, flag file)."""
    real = shutil.which("bwrap") or "/nonexistent/bwrap"
    bindir, flag = tmp / "bin", tmp / "bwrap-broken"
    bindir.mkdir()
    script = bindir / "bwrap"
    script.write_text(f"""#!/bin/sh
if [ -e "{flag}" ]; then
  for a in "$@"; do
    if [ "$a" = --proc ]; then echo "bwrap: {CANT_MOUNT}" >&2; exit 1; fi
  done
  exit 0
fi
exec "{real}" "$@"
""")
    script.chmod(0o755)
    flag.touch()
    return bindir, flag


def _run_command(stub: StubServer) -> None:
    """The worker's only scripted answer: run a command (a second request would get HTTP 400
    from the stub, and is counted below anyway)."""
    stub.enqueue(StubReply.tool_call(("run_command", {"command": "echo ok > out.txt"})),
                 model="worker")


def _run_failing(tmp_path: Path, stub: StubServer, sandbox: str, env: dict[str, str]) -> str:
    """`crew run` whose worker runs one command under `sandbox`, which cannot start: exit 1
    after that one model call (nobody asks the model about the failure). Its output."""
    feature = make_project(tmp_path, stub, tools=["run_command"])
    _run_command(stub)
    # a new process: it finds the sandbox program on this PATH (a process looks it up once)
    res = run_crew_process("run", str(feature), "--no-trace", "--sandbox", sandbox, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    assert len(stub.requests_for("worker")) == 1
    return out


def _runs(repo: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    res = run_crew("runs", "--repo", str(repo), "--json", env=env)
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in res.stdout.splitlines() if x.strip()]


def test_a_bwrap_that_cannot_start_stops_the_task_resumably(tmp_path: Path) -> None:
    bindir, flag = _broken_bwrap(tmp_path)
    env = crew_env()
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    repo = tmp_path / "repo"
    with StubServer() as stub:
        out = _run_failing(tmp_path, stub, "bwrap", env)
        assert f"bwrap could not start the sandbox: {CANT_MOUNT}" in out
        state = state_of(only_run(repo))
        assert state["status"] == "error"
        assert "task triage stopped: SandboxError: bwrap could not start" in state["stop_reason"]
        task = state["tasks"]["triage"]
        assert task["status"] == "error" and CANT_MOUNT in task["error"]
        [row] = _runs(repo, env)
        assert (row["status"], row["resumable"]) == ("error", True)
        report = (only_run(repo) / "report.md").read_text()
        assert f"crew resume {state['run_id']}" in report

        if not shutil.which("bwrap"):
            pytest.skip("no real bubblewrap here to resume with")
        flag.unlink()  # the sandbox works again
        stub.enqueue(StubReply.tool_call(("run_command", {"command": "echo ok > out.txt"})),
                     StubReply.text("done"), model="worker")
        res = run_crew_process("resume", state["run_id"], "--repo", str(repo), "--no-trace",
                               env=env)
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    state = state_of(only_run(repo))
    assert state["status"] == "passed" and state["tasks"]["triage"]["status"] == "done"
    assert git(repo, "show", f"{state['branch']}:out.txt") == "ok"


def _docker_image_without_shell(tag: str) -> bool:
    """An image with one file and no /bin/sh, imported into the test daemon; False when no
    daemon answers at DOCKER_HOST."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception:
        return False
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("README")
        data = b"no shell in here\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    client.api.import_image_from_data(buf.getvalue(), repository=tag.split(":")[0],
                                      tag=tag.split(":")[1])
    client.close()
    return True


def test_a_docker_sandbox_that_cannot_start_stops_the_task(tmp_path: Path) -> None:
    image = "crew-noshell:test"
    if not _docker_image_without_shell(image):
        pytest.skip("no Docker daemon (set DOCKER_HOST; .ci/sandbox-setup.sh starts one)")
    env = crew_env()
    env["CREW_SANDBOX_IMAGE"] = image
    with StubServer() as stub:
        out = _run_failing(tmp_path, stub, "docker", env)
        assert "docker could not start the sandbox" in out and "/bin/sh" in out
    state = state_of(only_run(tmp_path / "repo"))
    assert state["status"] == "error" and state["tasks"]["triage"]["status"] == "error"
