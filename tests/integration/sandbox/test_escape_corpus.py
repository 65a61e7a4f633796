"""Security acceptance: an escape corpus run for real through the tools, against each backend.

Every attempt is refused with a clear tool error or fails inside the sandbox, and nothing
outside the workspace changes. The local backend joins where it is meaningful (path tools,
timeouts, the scrubbed environment, cleanup); it isolates nothing else by design.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_support import ALL, ISOLATED, LIMITS, require_backend

from crew.llm.types import ToolCall
from crew.tools import OutcomeStatus, ToolContext, ToolOutcome, ToolRegistry
from crew.tools.sandbox.limits import hierarchy


def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture
def setup(tmp_path: Path, workspace: Path) -> Iterator[dict[str, Any]]:
    """A workspace with planted bait, a sentinel directory outside it, and host fingerprints."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched\n")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN FAKE KEY----- sk-ssh-bait\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (workspace / ".env").write_text("OPENAI_API_KEY=sk-planted-env-bait\n")
    (workspace / "app" / "deploy").mkdir(parents=True)
    (workspace / "app" / ".env").write_text("DB_PASSWORD=nested-env-bait\n")
    (workspace / "app" / "deploy" / ".env.production").write_text("TOKEN=deep-env-bait\n")
    (workspace / "etc").symlink_to("/etc")
    (workspace / "src").mkdir()
    (workspace / "src" / "app.py").write_text("print('ok')\n")
    watched = [outside, home, Path("/etc/passwd"), Path("/etc/hostname"), workspace / ".git"]
    before = _digest(watched)
    yield {"outside": outside, "home": home, "ws": workspace}
    assert _digest(watched) == before, "something outside the workspace (or .git) changed"
    assert not Path("/etc/crew-pwned").exists()


def ctx_for(name: str, ws: Path, timeout: float = 30) -> ToolContext:
    return ToolContext(ws, sandbox=require_backend(name), command_timeout=timeout)


async def invoke(ctx: ToolContext, name: str, **args: Any) -> ToolOutcome:
    return await ToolRegistry.builtin().invoke(ToolCall("c", name, json.dumps(args)), ctx)


async def sh(ctx: ToolContext, command: str) -> ToolOutcome:
    return await invoke(ctx, "run_command", command=command)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    ("tool", "args", "reason"),
    [
        ("read_file", {"path": "../../etc/passwd"}, "leads outside the workspace"),
        ("read_file", {"path": "/etc/passwd"}, "absolute paths are not allowed"),
        ("read_file", {"path": "etc/passwd"}, "resolves outside the workspace (through a symlink)"),
        ("write_file", {"path": "etc/crew-pwned", "content": "x"}, "through a symlink"),
        ("write_file", {"path": "../outside/keep.txt", "content": "x"}, "outside the workspace"),
        ("write_file", {"path": ".git/config", "content": "[core]\n"}, "protected (.git)"),
        ("edit_file", {"path": ".git/config", "old_text": "bare", "new_text": "x"}, "protected"),
        ("read_file", {"path": ".env"}, "protected (.env)"),
        ("read_file", {"path": "app/.env"}, "protected (.env)"),
        ("read_file", {"path": "app/deploy/.env.production"}, "protected (.env.*)"),
        ("read_file", {"path": "~/.ssh/id_rsa"}, "'~' is not expanded"),
        ("list_files", {"path": "etc"}, "through a symlink"),
        ("search_code", {"pattern": "root", "path": "etc"}, "through a symlink"),
        ("run_command", {"command": "true", "cwd": "etc"}, "through a symlink"),
    ],
)
async def test_path_escapes_are_refused(
    name: str, setup: dict[str, Any], tool: str, args: dict[str, Any], reason: str
) -> None:
    out = await invoke(ctx_for(name, setup["ws"]), tool, **args)
    assert out.status is OutcomeStatus.ERROR
    assert out.output.startswith("Error: ") and "refused" in out.output and reason in out.output


@pytest.mark.parametrize("name", ISOLATED)
async def test_commands_cannot_read_or_write_outside(
    name: str, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(setup["home"]))
    ctx = ctx_for(name, setup["ws"])
    home, outside = setup["home"], setup["outside"]
    out = await sh(ctx, f"cat ~/.ssh/id_rsa {home}/.ssh/id_rsa; cat .env; cat {outside}/keep.txt")
    assert "sk-ssh-bait" not in out.output and "sk-planted-env-bait" not in out.output
    assert "untouched" not in out.output
    out = await sh(ctx, f"echo x > /etc/crew-pwned; echo x > {outside}/keep.txt; "
                        "echo x >> .git/config; echo x > etc/crew-pwned; echo done")
    assert "done" in out.output  # the command ran; the fixture checks nothing changed


@pytest.mark.parametrize("name", ISOLATED)
async def test_no_network_inside(name: str, setup: dict[str, Any]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    probe = (
        "import socket\n"
        f"for host, port in [('127.0.0.1', {port}), ('10.255.255.1', 80)]:\n"
        "    s = socket.socket(); s.settimeout(3)\n"
        "    try:\n"
        "        s.connect((host, port)); print('CONNECTED', host)\n"
        "    except OSError as e:\n"
        "        print('BLOCKED', host, type(e).__name__)\n"
    )
    (setup["ws"] / "probe.py").write_text(probe)
    try:
        out = await sh(ctx_for(name, setup["ws"]), "python3 probe.py")
        assert "BLOCKED 127.0.0.1" in out.output and "BLOCKED 10.255.255.1" in out.output
        assert "CONNECTED" not in out.output
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever reached the host's listener
    finally:
        listener.close()


def _survivors(mark: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[:2] == [b"sleep", mark.encode()]:
                found.append(int(entry.name))
    return found


FORK_BOMB = """
import subprocess, time
spawned = failed = 0
for _ in range(200):  # bounded: harmless to the host even if no limit held
    try:
        subprocess.Popen(["sleep", "MARK"])
        spawned += 1
    except OSError:
        failed += 1
        if failed >= 5:
            break
print("SPAWNED", spawned, "FAILED", failed, flush=True)
time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
async def test_fork_bomb_is_bounded_and_cleaned_up(name: str, setup: dict[str, Any]) -> None:
    # the children's argv is unique to this test run, so concurrent runs cannot interfere
    mark = f"31.{random.randrange(10**8):08d}"
    (setup["ws"] / "bomb.py").write_text(FORK_BOMB.replace("MARK", mark))
    ctx = ctx_for(name, setup["ws"], timeout=8)
    out = await sh(ctx, "python3 bomb.py")
    assert out.output.startswith("timed out after 8s"), out.output
    spawned = int(out.output.split("SPAWNED ")[1].split()[0])
    if name != "local" or hierarchy() is not None:  # bwrap as root too: a cgroup's pids.max
        assert spawned < LIMITS.pids, out.output  # the pids limit stopped it
    # whatever was spawned died with the timeout: nothing survives on the host
    assert _survivors(mark) == []


@pytest.mark.parametrize("name", ALL)
async def test_memory_hog_hits_the_limit(name: str, setup: dict[str, Any]) -> None:
    (setup["ws"] / "hog.py").write_text(
        "b = bytearray(1024 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\nprint('ALLOCATED')\n"
    )
    out = await sh(ctx_for(name, setup["ws"]), "python3 hog.py")
    assert "ALLOCATED" not in out.output
    assert "exit code 0" not in out.output
    assert "MemoryError" in out.output or "out of memory" in out.output or "137" in out.output


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
async def test_endless_loop_times_out(name: str, setup: dict[str, Any]) -> None:
    out = await sh(ctx_for(name, setup["ws"], timeout=2), "while :; do :; done")
    assert out.is_error and out.output.startswith("timed out after 2s; the command was killed")


@pytest.mark.parametrize("name", ALL)
async def test_host_secrets_are_not_visible_inside(
    name: str, setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "OPENAI_API_KEY": "sk-host-secret-openai-0001",
        "ANTHROPIC_API_KEY": "sk-ant-host-secret-0002",
        "AWS_SECRET_ACCESS_KEY": "host-secret-aws-0003",
        "LANGFUSE_SECRET_KEY": "sk-lf-host-secret-0004",
    }
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    out = await sh(ctx_for(name, setup["ws"]), "env; cat /proc/self/environ | tr '\\0' '\\n'")
    assert "PATH=" in out.output
    for k, v in secrets.items():
        assert v not in out.output and k not in out.output


@pytest.mark.parametrize("name", ISOLATED)
async def test_no_capabilities_no_privileges_only_loopback(name: str, setup: dict[str, Any]) -> None:
    out = await sh(ctx_for(name, setup["ws"]),
                   "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
                   "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "
                   "mknod disk b 8 0 2>/dev/null && echo MKNOD-OK; mount -t tmpfs x /mnt 2>/dev/null "
                   "&& echo MOUNT-OK; echo end")
    assert "CapEff:\t0000000000000000" in out.output  # also when crew runs as root
    assert "NoNewPrivs:\t1" in out.output
    interfaces = out.output.split("[stdout]\n")[1].splitlines()[2:-1]
    assert interfaces == ["lo"]
    assert "MKNOD-OK" not in out.output and "MOUNT-OK" not in out.output
    assert not (setup["ws"] / "disk").exists()


@pytest.mark.parametrize("name", ALL)
async def test_nested_secret_files_read_empty_inside(name: str, setup: dict[str, Any]) -> None:
    """A tracked app/.env printed through run_command under bwrap and docker (issue 15)."""
    ctx = ctx_for(name, setup["ws"])
    if name == "local" and not getattr(ctx.sandbox, "namespaces", False):
        pytest.skip("local without user namespaces cannot mask files")
    out = await sh(ctx, "cat .env app/.env app/deploy/.env.production; "
                        "find . -name '.env*' -exec cat {} +; echo done")
    assert "done" in out.output
    for bait in ("sk-planted-env-bait", "nested-env-bait", "deep-env-bait"):
        assert bait not in out.output


PARENT = """
import asyncio, sys
from pathlib import Path
from crew.tools.sandbox.local import LocalSandbox

async def main() -> None:
    sb = LocalSandbox(warn=False)
    probe = ("cat /proc/$PPID/environ; for f in /proc/[0-9]*/environ; do cat $f; done; "
             "echo; echo ppid=$PPID")
    res = await sb.run(probe, workspace=Path(sys.argv[1]), timeout=30)
    print(res.stdout.replace("\\0", " "))
    print("namespaces", sb.namespaces)

asyncio.run(main())
"""


async def test_local_cannot_read_crews_environment(setup: dict[str, Any]) -> None:
    """/proc/<parent>/environ under local: crew's own environment (API keys) stays closed."""
    import subprocess
    import sys

    secret = "sk-crew-parent-environ-0123456789"
    env = {**os.environ, "OPENAI_API_KEY": secret}
    proc = subprocess.run([sys.executable, "-c", PARENT, str(setup["ws"])], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    assert "ppid=" in proc.stdout, proc.stderr
    if "namespaces False" in proc.stdout and os.getuid() == 0:
        pytest.skip("no user namespaces, and root reads any process's environ")
    assert secret not in proc.stdout
    if "namespaces True" in proc.stdout:
        assert "ppid=0" in proc.stdout  # own pid namespace: crew is not even visible
