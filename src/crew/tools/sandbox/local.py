"""The local backend: a plain subprocess with a timeout, rlimits and a scrubbed environment.

It isolates nothing (no filesystem, network or pid isolation) and says so loudly. The process
runner here is shared with the bubblewrap backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from crew.tools.sandbox.base import (
    Capture,
    Command,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    argv,
    inside,
    sandbox_env,
)

log = logging.getLogger(__name__)

WARNING = (
    "crew: the 'local' sandbox isolates NOTHING: commands the agents run can read and change "
    "any file your user can, and reach the network. Install Docker or bubblewrap "
    "(apt-get install bubblewrap) for isolation."
)


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


async def run_process(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    limits: SandboxLimits,
    backend: str,
    preexec: Callable[[], None] | None = None,
) -> SandboxResult:
    """Run `args` in its own process group; on timeout kill the whole group."""
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
            preexec_fn=preexec,
        )
    except OSError as e:
        raise SandboxError(f"{backend} sandbox could not start {args[0]!r}: {e}") from e
    pumps = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err))
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(proc)
        await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    finally:
        # A background child may still hold the pipes open: kill the group, then drain.
        if proc.returncode is not None:
            _kill_group(proc)
        try:
            await asyncio.wait_for(pumps, 5)
        except TimeoutError:
            pumps.cancel()
    code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
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


def _rlimits(
    limits: SandboxLimits, timeout: float, *, nproc: int | None = None
) -> Callable[[], None]:
    """Limits applied in the child. `nproc` caps the user's processes (never enforced on root)."""

    def apply() -> None:  # runs in the child between fork and exec
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = int(timeout) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        fsize = 1 << 30
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


class LocalSandbox:
    """No isolation: a subprocess with rlimits (memory, cpu time, file size) and a clean env."""

    name = "local"
    isolated = False

    def __init__(self, limits: SandboxLimits | None = None, *, warn: bool = True) -> None:
        self.limits = limits or SandboxLimits()
        if warn:
            log.warning(WARNING)

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
        # read_only / hidden cannot be enforced without isolation; the tools still refuse them.
        path = os.environ.get("PATH")
        return await run_process(
            argv(cmd),
            cwd=inside(workspace, cwd),
            env=sandbox_env(env, path=path),
            timeout=timeout,
            limits=self.limits,
            backend=self.name,
            preexec=_rlimits(self.limits, timeout),
        )
