"""Each backend runs real commands: exit codes, streams, cwd, workspace writes, timeouts,
truncated output, read-only root, and `auto` selection."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from sandbox_support import ALL, ISOLATED, require_backend

from crew.errors import UserError
from crew.tools.sandbox import SandboxLimits, backend_status, select_sandbox


@pytest.mark.parametrize("name", ALL)
async def test_runs_commands_in_the_workspace(name: str, workspace: Path) -> None:
    sb = require_backend(name)
    (workspace / "sub").mkdir()
    (workspace / "in.txt").write_text("hello\n")
    res = await sb.run(
        "cat ../in.txt; echo oops >&2; echo made > ../out.txt; pwd; exit 7",
        workspace=workspace, cwd="sub", timeout=60,
    )
    assert res.exit_code == 7 and not res.timed_out and not res.ok
    lines = res.stdout.splitlines()
    assert lines[0] == "hello" and lines[1].endswith("/sub")
    assert res.stderr.strip() == "oops"
    assert (workspace / "out.txt").read_text() == "made\n"
    assert res.backend == name


@pytest.mark.parametrize("name", ALL)
async def test_argv_commands_and_extra_env(name: str, workspace: Path) -> None:
    sb = require_backend(name)
    res = await sb.run(["sh", "-c", 'echo "$GREETING $HOME"'], workspace=workspace,
                       env={"GREETING": "hi"}, timeout=60)
    assert res.stdout.strip() == "hi /tmp"


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
async def test_timeout_kills_everything(name: str, workspace: Path) -> None:
    sb = require_backend(name)
    # a background grandchild that would write later must die with the command
    res = await sb.run("(sleep 3; echo late > late.txt) & sleep 60", workspace=workspace,
                       timeout=1.5)
    assert res.timed_out and not res.ok
    assert res.duration_s < 30
    await sb.run("sleep 4", workspace=workspace, timeout=5)  # outlive the grandchild's sleep
    assert not (workspace / "late.txt").exists()


@pytest.mark.parametrize("name", ALL)
async def test_output_is_captured_with_head_and_tail(name: str, workspace: Path) -> None:
    sb = require_backend(name)
    res = await sb.run("echo FIRST; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo LAST",
                       workspace=workspace, timeout=60)
    assert res.ok and res.truncated
    assert res.stdout.startswith("FIRST") and res.stdout.rstrip().endswith("LAST")
    assert "omitted" in res.stdout and len(res.stdout) < 25_000


@pytest.mark.parametrize("name", ISOLATED)
async def test_system_is_read_only_and_tmp_is_private(name: str, workspace: Path) -> None:
    sb = require_backend(name)
    marker = Path("/tmp/crew-sandbox-marker")
    marker.unlink(missing_ok=True)
    res = await sb.run(
        "touch /usr/crew-x 2>&1 || echo ROFS; touch /tmp/crew-sandbox-marker && echo TMPOK",
        workspace=workspace, timeout=60,
    )
    assert "ROFS" in res.stdout and "TMPOK" in res.stdout
    assert not Path("/usr/crew-x").exists() and not marker.exists()


@pytest.mark.parametrize("name", ISOLATED)
async def test_protected_entries_are_read_only_or_hidden(name: str, workspace: Path) -> None:
    sb = require_backend(name)
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[core]\n")
    (workspace / ".env").write_text("TOKEN=sk-hidden-value\n")
    res = await sb.run("echo x >> .git/config; cat .env", workspace=workspace, timeout=60,
                       read_only=[".git"], hidden=[".env"])
    assert "sk-hidden-value" not in res.stdout
    assert (workspace / ".git" / "config").read_text() == "[core]\n"


@pytest.mark.parametrize("name", ALL)
async def test_a_masked_file_reads_as_empty(name: str, workspace: Path) -> None:
    """As the README says: `cat` of a protected file prints nothing and succeeds (under bwrap
    a bound /dev/null was "Permission denied": its binds are nodev)."""
    sb = require_backend(name)
    if name == "local" and not getattr(sb, "namespaces", False):
        pytest.skip("the local backend without namespaces hides nothing (documented)")
    (workspace / ".env").write_text("TOKEN=sk-hidden-value\n")
    res = await sb.run("cat .env; echo rc=$?", workspace=workspace, timeout=60, hidden=[".env"])
    assert (res.stdout, res.stderr) == ("rc=0\n", ""), res


def test_select_sandbox_names(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(UserError, match="unknown sandbox 'dockr' \\(did you mean 'docker'\\?\\)"):
        select_sandbox("dockr")
    with caplog.at_level(logging.WARNING):
        local = select_sandbox("local")
    assert local.name == "local" and not local.isolated
    assert "does not isolate the filesystem" in caplog.text
    expected = next((n for n in ("docker", "bwrap") if backend_status(n)[0]), None)
    if expected is None:
        with pytest.raises(UserError, match="--sandbox local"):
            select_sandbox("auto")
    else:
        assert select_sandbox("auto").name == expected


def test_auto_never_falls_back_to_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither Docker nor bubblewrap: a UserError saying how to get one, before any run."""
    from crew.tools.sandbox import bwrap

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("PATH", "/nonexistent")
    bwrap.bwrap_status.cache_clear()
    try:
        with pytest.raises(UserError) as err:
            select_sandbox("auto")
    finally:
        bwrap.bwrap_status.cache_clear()
    text = str(err.value)
    assert "no isolating sandbox" in text and "apt-get install bubblewrap" in text
    assert "--sandbox local" in text


def test_named_backend_that_is_missing_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(UserError, match="sandbox 'docker' is not available: no Docker daemon"):
        select_sandbox("docker")


@pytest.mark.docker
def test_missing_image_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    require_backend("docker")
    ok, reason = backend_status("docker", image="crew-no-such-image:0")
    assert not ok and "docker build -t crew-no-such-image:0 ." in reason


def test_sandbox_modules_load_lazily() -> None:
    import subprocess

    code = ("import sys, crew.tools.sandbox, crew.agent, crew.tools.registry; "
            "print(sorted(m for m in ('docker', 'litellm', 'git') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ}).stdout.strip()
    assert out == "[]"


def test_limits_default_to_no_network() -> None:
    assert SandboxLimits().network is False
