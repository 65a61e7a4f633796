"""The local backend: a plain subprocess with a timeout, limits and a scrubbed environment.

It does not isolate the filesystem and says so loudly. Where user namespaces are allowed
(`unshare -rn` works) each command also runs without network, in its own pid namespace with
its own /proc (so no /proc/<crew>/environ), with the repository's git directories read-only and
secret files masked. The process runner here is shared with the bubblewrap backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from crew.tools.sandbox.base import (
    Capture,
    Command,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    argv,
    git_dirs,
    inside,
    sandbox_env,
)
from crew.tools.sandbox.environment import SandboxEnvironment
from crew.tools.sandbox.limits import (
    exec_shim,
    make_cgroup,
    shim_failure,
    systemd_prefix,
    systemd_run,
)
from crew.tools.sandbox.masks import DEFAULT_PROTECTED, merged_masks

log = logging.getLogger(__name__)

WARNING = (
    "crew: the 'local' sandbox does not isolate the filesystem: commands the agents run can "
    "read and change any file your user can{net}. Install Docker or bubblewrap "
    "(apt-get install bubblewrap) for isolation."
)
UNSHARE = ("--user", "--map-root-user", "--net", "--pid", "--fork", "--mount", "--mount-proc",
           "--kill-child")
# Runs inside the new namespaces: bind the given paths read-only (`ro P`), mask a file
# (`hide P`) or a directory (`hidedir P`), bind a host directory read-only at a workspace
# path (`share SRC DEST`, through a bind of SRC at DEST), then exec the command. Fails
# closed: a mount that fails stops the command.
_MOUNTS = """set -e
while [ "$1" != "--" ]; do
  case "$1" in
    ro) mount --bind "$2" "$2"; mount -o remount,bind,ro "$2";;
    hide) mount --bind /dev/null "$2";;
    hidedir) mount -t tmpfs -o ro,size=4k none "$2";;
    share) mkdir -p "$3"; mount --bind "$2" "$3"; mount -o remount,bind,ro "$3"; shift;;
  esac
  shift 2
done
shift
exec "$@"
"""


@functools.cache
def unshare_status() -> tuple[bool, str]:
    """(usable, reason): `unshare` can make user, network, pid and mount namespaces here."""
    exe = shutil.which("unshare")
    if not exe:
        return False, "unshare (util-linux) is not installed"
    try:
        # the probe binds /tmp read-only inside (harmless there): mounts must work too
        proc = subprocess.run([exe, *UNSHARE, "--", "/bin/sh", "-c", _MOUNTS, "sh", "ro", "/tmp",
                               "--", "true"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"unshare failed: {e}"
    if proc.returncode != 0:
        return False, f"user namespaces are not available: {proc.stderr.decode().strip()}"
    return True, exe


def _not_dumpable() -> None:
    """Make this process's /proc files (environ, mem) unreadable to its children."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


async def _pump(stream: asyncio.StreamReader | None, cap: Capture) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        cap.feed(chunk)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


DRAIN_S = 2.0  # how long output is still read after the command exited


async def _exited(proc: asyncio.subprocess.Process) -> int:
    """The command's exit code as soon as it exits. `proc.wait()` (Python < 3.12) also waits
    until every copy of its pipes is closed, so a detached child holding one would hold the
    gate: the exit is seen through a pidfd (polled where there is none)."""
    if proc.returncode is not None:
        return proc.returncode
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        done: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not done.done():
                done.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await done
        finally:
            loop.remove_reader(fd)
            os.close(fd)
    while proc.returncode is None:  # the child watcher records the code a moment later
        await asyncio.sleep(0.005 if fd >= 0 else 0.02)
    return proc.returncode


def _close_pipes(proc: asyncio.subprocess.Process) -> None:
    """Close the transport now, on the running loop: left to the garbage collector after the
    loop closed, its pipes raise `Event loop is closed`."""
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()


async def run_process(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    limits: SandboxLimits,
    backend: str,
    nproc: int | None = None,
) -> SandboxResult:
    """Run `args` in its own process group under `limits` (a transient cgroup, else rlimits,
    both applied by the exec shim: no Python runs in the child between fork and exec); on
    timeout kill the whole group and everything left in the cgroup."""
    timeout = limits.cap(timeout)
    cgroup = make_cgroup(limits)
    if cgroup is None and await asyncio.to_thread(lambda: systemd_run() is not None):
        args = [*systemd_prefix(limits), *args]
    args = [*exec_shim(limits, timeout, cgroup=cgroup, nproc=nproc), *args]
    out, err = Capture(limits.output_chars), Capture(limits.output_chars)
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        if cgroup is not None:
            cgroup.close()
        raise SandboxError(f"{backend} sandbox could not start its exec shim: {e}") from e
    pumps = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err))
    timed_out = oom = False
    try:
        await asyncio.wait_for(_exited(proc), timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(proc)
        await _exited(proc)
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    finally:
        # A background child may still hold the pipes open: kill the group, then drain; a
        # child that left the group (setsid) keeps them open: stop reading after DRAIN_S.
        if proc.returncode is not None:
            _kill_group(proc)
        if cgroup is not None:
            oom = cgroup.oom_killed()
            await asyncio.shield(asyncio.to_thread(cgroup.close))
        try:
            await asyncio.wait_for(asyncio.shield(pumps), DRAIN_S)
        except TimeoutError:
            pumps.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumps
        finally:
            _close_pipes(proc)
    if oom:
        err.feed(f"\n[killed: out of memory (limit {limits.memory_mb} MiB)]\n".encode())
    code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    failed = shim_failure(code, err.text())
    if failed:
        raise SandboxError(f"{backend} sandbox could not start {failed}")
    return SandboxResult(
        exit_code=code,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=timed_out,
        duration_s=time.monotonic() - start,
        backend=backend,
        truncated=bool(out.dropped or err.dropped),
    )


def user_process_count() -> int:
    """How many processes the current user runs (RLIMIT_NPROC counts them all)."""
    uid, n = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                n += entry.stat().st_uid == uid
    return n


class LocalSandbox:
    """No filesystem isolation: a subprocess with limits and a clean env; without network,
    pid namespace, read-only git dirs and masked secrets where user namespaces allow."""

    name = "local"
    isolated = False

    def __init__(self, limits: SandboxLimits | None = None, *, warn: bool = True,
                 namespaces: bool | None = None,
                 protected: Sequence[str] = DEFAULT_PROTECTED,
                 environment: SandboxEnvironment | None = None) -> None:
        """`namespaces`: None uses them when available; False never (plain subprocesses).
        `protected`: patterns of paths kept read-only (.git, .crew) or masked (secrets);
        `environment`: its shares and hidden credentials (with namespaces) and variables."""
        self.limits = limits or SandboxLimits()
        self.environment = environment or SandboxEnvironment()
        self.protected = tuple(protected)
        ok, reason = unshare_status()
        self.namespaces = ok if namespaces is None else namespaces and ok
        if not self.namespaces:
            _not_dumpable()  # at least /proc/<crew>/environ stays closed
            if not self.limits.network:
                log.warning("crew: local sandbox without namespaces (%s): commands can reach "
                            "the network", reason)
        if warn:
            net = "" if self.namespaces and not self.limits.network else ", and reach the network"
            log.warning(WARNING.format(net=net))

    def wrap(self, args: list[str], workspace: Path, read_only: Sequence[str],
             hidden: Sequence[str]) -> list[str]:
        """`args` run inside the namespaces, with git dirs and `read_only` bound read-only
        and `hidden` masked (public for tests)."""
        if not self.namespaces:
            return args
        root = workspace.resolve()
        opts = [o for o in UNSHARE if not (self.limits.network and o == "--net")]
        mounts: list[str] = []
        for d in git_dirs(root):
            mounts += ["ro", str(d)]
        for rel in read_only:
            p = root / rel
            if p.exists() and not p.is_symlink():
                mounts += ["ro", str(p)]
        for rel in hidden:
            p = root / rel
            if p.is_file() and not p.is_symlink():
                mounts += ["hide", str(p)]
        for src, dest in self.environment.share_targets(root):
            mounts += ["share", str(src), str(dest)]
        for m in self.environment.credentials:
            mounts += ["hidedir" if m.is_dir() else "hide", str(m)]
        exe = unshare_status()[1]
        return [exe, *opts, "--", "/bin/sh", "-c", _MOUNTS, "sh", *mounts, "--", *args]

    async def run(
        self,
        cmd: Command,
        *,
        workspace: Path,
        cwd: str = ".",
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
        read_only: Sequence[str] = (),
        hidden: Sequence[str] = (),
    ) -> SandboxResult:
        path = self.environment.path or os.environ.get("PATH")
        env = {**self.environment.env_in(str(workspace.resolve())), **(env or {})}
        if self.namespaces:
            read_only, hidden = merged_masks(workspace, self.protected, read_only, hidden)
        return await run_process(
            self.wrap(argv(cmd), workspace, read_only, hidden),
            cwd=inside(workspace, cwd),
            env=sandbox_env(env, path=path),
            timeout=timeout,
            limits=self.limits,
            backend=self.name,
        )
