"""The sandbox protocol, its result type, limits, the environment allowlist and output capture."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from crew.errors import InfrastructureError

Command = str | Sequence[str]

# Host variables copied into a sandbox when set. Nothing else crosses: API keys, tokens, cloud
# credentials and the like never reach a sandboxed command.
ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SANDBOX_HOME = "/tmp"


class SandboxError(InfrastructureError):
    """A sandbox backend could not run a command at all (not: the command failed). An
    infrastructure failure: it stops the task, it is never shown to the model."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of every command (DESIGN.md's `sandbox:` section). Docker enforces them
    itself; bwrap and local through `limits.py` (a cgroup per command, else rlimits)."""

    memory_mb: int = 2048
    cpus: float = 2.0
    pids: int = 256
    timeout_s: float = 600.0  # no command runs longer, whatever timeout its caller asks for
    network: bool = False
    tmp_mb: int = 256
    output_chars: int = 30_000  # per stream, kept as head + tail

    def cap(self, timeout: float) -> float:
        """`timeout` bounded by `timeout_s`."""
        return min(timeout, self.timeout_s)

    def describe(self) -> str:
        """One line for logs and the report."""
        net = "on" if self.network else "off"
        return (f"memory {self.memory_mb} MiB, {self.cpus:g} CPUs, {self.pids} processes, "
                f"timeout {self.timeout_s:g}s, network {net}")


@dataclass(frozen=True)
class SandboxResult:
    """What a command did. `exit_code` is -signal when killed; `timed_out` when the timeout hit."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    backend: str = ""
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class SandboxBackend(Protocol):
    """Runs one command with the workspace mounted read-write and nothing else writable.

    `cwd` is relative to the workspace. `read_only` paths (relative) stay read-only inside and
    `hidden` paths (relative files) read as empty, where the backend can enforce it.
    """

    name: str
    isolated: bool  # False only for the local backend

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
    ) -> SandboxResult: ...


def command_timeout(sandbox: object | None, default: float = 300.0) -> float:
    """The longest a tool's command may run: the sandbox's `timeout_s` (YAML `sandbox:
    timeout_s`, `--timeout-s`), passed on explicitly to every tool context."""
    limits = getattr(sandbox, "limits", None)
    return float(limits.timeout_s) if isinstance(limits, SandboxLimits) else default


def sandbox_env(extra: Mapping[str, str] | None = None, *, path: str | None = None) -> dict[str, str]:
    """The environment inside a sandbox: the allowlist, HOME=/tmp, and the caller's `extra`."""
    env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        PATH=path or DEFAULT_PATH,
        HOME=SANDBOX_HOME,
        TMPDIR="/tmp",
        PYTHONDONTWRITEBYTECODE="1",
        GIT_TERMINAL_PROMPT="0",
    )
    if extra:
        env.update(extra)
    return env


def git_dirs(workspace: Path) -> list[Path]:
    """The host directories a worktree's git needs outside it (bound read-only inside).

    A worktree's `.git` is a file `gitdir: <repo>/.git/worktrees/<name>`; that directory names
    the shared `<repo>/.git` in its `commondir`. A plain repository (a `.git` directory inside
    the workspace) needs nothing more.
    """
    dot = workspace / ".git"
    if not dot.is_file() or dot.is_symlink():
        return []
    try:
        text = dot.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return []
    if not text.startswith("gitdir:"):
        return []
    gitdir = (workspace / text[len("gitdir:"):].strip()).resolve()
    if not gitdir.is_dir():
        return []
    common = gitdir
    with contextlib.suppress(OSError, UnicodeDecodeError):
        common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    root = workspace.resolve()
    found: list[Path] = []
    for d in (common, gitdir):
        if not d.is_dir() or d == Path("/") or d == root or d in root.parents:
            continue  # never a directory holding the workspace itself
        if not any(d == f or f in d.parents for f in found):
            found.append(d)
    return found


def argv(cmd: Command) -> list[str]:
    """A shell string runs under /bin/sh -c; a sequence runs as is."""
    if isinstance(cmd, str):
        return ["/bin/sh", "-c", cmd]
    if not cmd:
        raise SandboxError("empty command")
    return [str(c) for c in cmd]


def inside(workspace: Path, cwd: str) -> Path:
    """`cwd` (relative) resolved inside the workspace; refuses escapes."""
    root = workspace.resolve()
    target = (root / cwd).resolve()
    if target != root and root not in target.parents:
        raise SandboxError(f"working directory {cwd!r} is outside the workspace")
    return target


@dataclass
class Capture:
    """Keeps the head and the tail of a stream, whatever its size, counting what it drops."""

    limit: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def feed(self, data: bytes) -> None:
        half = max(1, self.limit // 2)
        room = half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail += data
        if len(self.tail) > half:
            cut = len(self.tail) - half
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes omitted ...]\n{tail}"
        return head + tail


def cap_text(text: str, limit: int) -> tuple[str, bool]:
    """`text` kept to about `limit` characters (head + tail), and whether it was cut."""
    if len(text) <= limit:
        return text, False
    half = max(1, limit // 2)
    omitted = len(text) - 2 * half
    return f"{text[:half]}\n[... {omitted} characters omitted ...]\n{text[-half:]}", True
