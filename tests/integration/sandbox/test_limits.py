"""Limits that real programs survive: a threaded test suite passes under the default limits,
a too-large allocation fails cleanly, a fork bomb stays below the pids limit (root included),
and no backend caps address space (RLIMIT_AS)."""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_support import ALL, ISOLATED, LIMITS, require_backend

from crew.tools.sandbox import SandboxError, SandboxLimits
from crew.tools.sandbox.limits import (
    Cgroup,
    exec_shim,
    hierarchy,
    mechanism,
    shim_failure,
    systemd_prefix,
)

THREADED_SUITE = """
import threading, unittest

class Threads(unittest.TestCase):
    def test_32_threads_allocate(self):
        done = []
        def work(i):
            block = bytearray(16 * 1024 * 1024)      # 16 MiB each, touched
            block[::4096] = b"x" * len(block[::4096])
            done.append(len(block))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(done), 32)

    def test_thread_pool(self):
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=32) as pool:
            self.assertEqual(sum(pool.map(lambda n: n * n, range(1000))), 332833500)
"""


def _limits(**kw: object) -> SandboxLimits:
    return SandboxLimits(**{"output_chars": 20_000, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ALL)
async def test_threaded_suite_passes_with_default_limits(name: str, workspace: Path) -> None:
    sb = require_backend(name, _limits())
    (workspace / "test_threads.py").write_text(THREADED_SUITE)
    # unittest: the host's python3 under bwrap may lack pytest; the image has both
    res = await sb.run("python3 -m unittest -v test_threads", workspace=workspace, timeout=120)
    assert res.ok, res.stdout + res.stderr
    assert "Ran 2 tests" in res.stderr and res.stderr.rstrip().endswith("OK")


@pytest.mark.parametrize("name", ALL)
async def test_two_gib_with_a_one_gib_limit_fails_cleanly(name: str, workspace: Path) -> None:
    sb = require_backend(name, _limits(memory_mb=1024))
    (workspace / "big.py").write_text(
        "b = bytearray(2 * 1024 ** 3)\nb[::4096] = b'x' * len(b[::4096])\nprint('ALLOCATED')\n")
    res = await sb.run("python3 big.py", workspace=workspace, timeout=120)
    out = res.stdout + res.stderr
    assert not res.ok and not res.timed_out and "ALLOCATED" not in out
    assert "MemoryError" in out or "out of memory (limit 1024 MiB)" in out, out
    again = await sb.run("echo alive", workspace=workspace, timeout=60)  # still usable
    assert again.ok and again.stdout.strip() == "alive"


BOMB = """
import subprocess, time
spawned = 0
for _ in range(400):
    try:
        subprocess.Popen(["sleep", "MARK"]); spawned += 1
    except OSError:
        break
print("SPAWNED", spawned, flush=True)
"""


@pytest.mark.parametrize("name", ISOLATED)
async def test_fork_bomb_stays_below_the_default_pids(name: str, workspace: Path) -> None:
    """As root too: bwrap alone allowed 400 of 400; the per-command cgroup caps it."""
    if name == "bwrap" and hierarchy() is None and os.getuid() == 0:
        pytest.skip("no writable cgroup here: as root nothing but the timeout bounds bwrap")
    sb = require_backend(name, _limits())
    mark = f"47.{random.randrange(10**8):08d}"
    (workspace / "bomb.py").write_text(BOMB.replace("MARK", mark))
    res = await sb.run("python3 bomb.py", workspace=workspace, timeout=60)
    spawned = int(res.stdout.split("SPAWNED ")[1].split()[0])
    assert spawned < 256, res.stdout
    out = subprocess.run(["pgrep", "-f", f"sleep {mark}"], capture_output=True, text=True)
    assert out.stdout.strip() == ""  # the cgroup's leftovers were killed with it


def test_the_child_gets_no_address_space_cap(tmp_path: Path) -> None:
    limits = SandboxLimits(memory_mb=512)
    shim = exec_shim(limits, 10, cgroup=None, nproc=None)
    out = subprocess.run([*shim, sys.executable, "-c", "import resource as r; "
                          "print(r.getrlimit(r.RLIMIT_AS)[0], r.getrlimit(r.RLIMIT_DATA)[0])"],
                         capture_output=True, text=True, check=True)
    as_cap, data_cap = (int(x) for x in out.stdout.split())
    assert as_cap == resource.RLIM_INFINITY
    assert data_cap == 512 * 1024 * 1024  # the fallback when no cgroup holds memory


def test_mechanism_and_systemd_scope() -> None:
    assert mechanism() in ("cgroup v1", "cgroup v2", "systemd-run", "rlimits")
    prefix = systemd_prefix(SandboxLimits(memory_mb=1024, cpus=1.5, pids=99))
    assert prefix[1:4] == ["--user", "--scope", "--quiet"] and prefix[-1] == "--"
    assert {"MemoryMax=1024M", "TasksMax=99", "CPUQuota=150%", "MemorySwapMax=0"} <= set(prefix)


def test_no_cgroup_is_left_behind() -> None:
    h = hierarchy()
    if h is None:
        pytest.skip("no writable cgroup here")
    for d in h.dirs.values():
        mine = [p for p in d.iterdir() if p.name.startswith(f"crew-{os.getpid()}-")]
        assert mine == []


def test_the_exec_shim_sets_the_limits_then_execs(tmp_path: Path) -> None:
    """Issue 24 item 5: limits are applied by a fresh process that then execs the command,
    not by Python code between fork and exec (`preexec_fn`)."""
    shim = exec_shim(SandboxLimits(memory_mb=300), 10, cgroup=None, nproc=77)
    out = subprocess.run([*shim, "sh", "-c", "ulimit -d; ulimit -p 2>/dev/null || ulimit -u; "
                          "ulimit -c; echo $$"], capture_output=True, text=True, check=True)
    data_kb, nproc, core, _pid = out.stdout.split()
    assert (int(data_kb), int(nproc), int(core)) == (300 * 1024, 77, 0)
    bogus = Cgroup(2, {"memory": tmp_path / "no-such-cgroup"})
    bad = subprocess.run([*exec_shim(LIMITS, 10, cgroup=bogus, nproc=None), "true"],
                         capture_output=True, text=True)
    failed = shim_failure(bad.returncode, bad.stderr)
    assert bad.returncode == 125 and failed is not None and "no-such-cgroup" in failed, bad.stderr


async def test_a_program_that_cannot_start_is_a_sandbox_error(tmp_path: Path) -> None:
    from crew.tools.sandbox.local import LocalSandbox

    sb = LocalSandbox(LIMITS, warn=False, namespaces=False)
    with pytest.raises(SandboxError, match="could not start /nonexistent/prog"):
        await sb.run(["/nonexistent/prog"], workspace=tmp_path)
