"""A backend whose every workspace runs the `setup:` commands (`uv sync`, `npm ci`) once,
inside the sandbox, before its first command; network only when `sandbox.setup_network`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crew.tools.sandbox.base import Command, SandboxBackend, SandboxError, SandboxResult

SETUP_OUTPUT_CHARS = 2000  # of a failed setup's output, in the error


class SetupOnce:
    """Wraps `inner`: the first command in a workspace first runs `commands` there through
    `setup` (the same backend, its network as the user allowed, no shares bound so setup can
    create .venv / node_modules itself). A failed setup command is a SandboxError: the task
    stops resumably and no model is asked to fix the environment. Every other attribute is the
    inner backend's."""

    def __init__(self, inner: SandboxBackend, commands: Sequence[str],
                 setup: SandboxBackend) -> None:
        self.inner = inner
        self.commands = tuple(commands)
        self.setup = setup
        self._done: set[Path] = set()
        self._locks: dict[Path, asyncio.Lock] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def prepare(self, workspace: Path) -> None:
        """Run the setup commands in `workspace` unless this run already did."""
        key = workspace.resolve()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._done:
                return
            limit = float(getattr(getattr(self.setup, "limits", None), "timeout_s", 600.0))
            for cmd in self.commands:
                res = await self.setup.run(cmd, workspace=key, timeout=limit)
                if not res.ok:
                    what = "timed out" if res.timed_out else f"exit {res.exit_code}"
                    tail = (res.stdout + res.stderr).strip()[-SETUP_OUTPUT_CHARS:]
                    raise SandboxError(f"setup command {cmd!r} failed in {key} ({what}): {tail}")
            self._done.add(key)

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
        await self.prepare(workspace)
        return await self.inner.run(cmd, workspace=workspace, cwd=cwd, timeout=timeout,
                                    env=env, read_only=read_only, hidden=hidden)
