"""The bubblewrap backend: every namespace unshared (network included), the system read-only,
home directories and /tmp replaced by empty tmpfs, only the workspace writable."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from crew.tools.sandbox.base import (
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
from crew.tools.sandbox.local import run_process, user_process_count
from crew.tools.sandbox.masks import DEFAULT_PROTECTED, merged_masks

# Bound read-only when present. Everything else of the host (/home, /root, /var, /opt, /srv,
# /mnt, /run, ...) is simply absent inside.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Host files that must not be readable even though /etc is bound.
MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers")
_EMPTY: list[str] = []  # the empty file `empty_file` made (at most one per process)


def empty_file() -> str:
    """A read-only empty regular file on the host, bound over each masked file so that it
    reads as empty. /dev/null would not do: bwrap binds with `nodev`, and opening a device
    node there is "Permission denied". Made once per process (again if something removed or
    filled it) and removed at exit."""
    if _EMPTY and os.path.isfile(_EMPTY[0]) and os.path.getsize(_EMPTY[0]) == 0:
        return _EMPTY[0]
    fd, path = tempfile.mkstemp(prefix="crew-empty-")
    os.close(fd)
    os.chmod(path, 0o444)
    atexit.register(_remove, path)
    _EMPTY[:] = [path]
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


@functools.cache
def bwrap_status() -> tuple[bool, str]:
    """(usable, reason): bwrap is installed and can create its namespaces here."""
    exe = shutil.which("bwrap")
    if not exe:
        return False, "bubblewrap is not installed (apt-get install bubblewrap)"
    try:
        proc = subprocess.run(
            [exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap failed to start: {e}"
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip()
        return False, f"bwrap cannot create namespaces here: {msg}"
    return True, exe


class BwrapSandbox:
    """bubblewrap: --unshare-all, --die-with-parent, --new-session, no capabilities, a
    scrubbed environment."""

    name = "bwrap"
    isolated = True

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        extra_ro_binds: Sequence[Path] = (),
        protected: Sequence[str] = DEFAULT_PROTECTED,
        environment: SandboxEnvironment | None = None,
    ) -> None:
        """`extra_ro_binds`: host paths to make visible read-only (e.g. a virtualenv);
        `protected`: patterns of paths kept read-only (.git, .crew) or masked (secrets);
        `environment`: the project's environment (host paths, shares, hidden credentials)."""
        self.limits = limits or SandboxLimits()
        self.protected = tuple(protected)
        self.extra_ro_binds = tuple(Path(p) for p in extra_ro_binds)
        self.environment = environment or SandboxEnvironment()

    def command(
        self,
        cmd: Command,
        *,
        workspace: Path,
        cwd: Path,
        read_only: Sequence[str] = (),
        hidden: Sequence[str] = (),
    ) -> list[str]:
        """The full bwrap argv (public for tests and for `crew doctor`)."""
        ok, exe = bwrap_status()
        if not ok:
            raise SandboxError(exe)
        root = workspace.resolve()
        # --cap-drop ALL matters when crew runs as root: bwrap would otherwise keep root's
        # capabilities inside (mknod, mount, ...).
        args = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--hostname", "crew-sandbox"]
        if self.limits.network:
            args.append("--share-net")
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                args += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                args += ["--ro-bind", d, d]
        empty = empty_file()
        for f in MASKED_FILES:
            if os.path.exists(f):
                args += ["--ro-bind", empty, f]
        args += ["--dev", "/dev", "--proc", "/proc"]
        args += ["--size", str(self.limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        envt = self.environment
        binds = [*self.extra_ro_binds, *envt.ro_paths]
        binds = [b for b in binds if b.resolve() != root]  # the workspace stays writable
        within = [b for b in binds if root in b.resolve().parents]
        for extra in sorted((b for b in binds if b not in within), key=lambda b: len(b.parts)):
            args += ["--ro-bind", str(extra), str(extra)]
        for gd in git_dirs(root):  # a worktree's git, read-only: status works, commit does not
            args += ["--ro-bind", str(gd), str(gd)]
        args += ["--bind", str(root), str(root)]
        for extra in within:  # e.g. the repository's own .venv when the workspace is the repo
            args += ["--ro-bind", str(extra), str(extra)]
        for src, dest in envt.share_targets(root):  # .venv, node_modules in every worktree
            args += ["--ro-bind", str(src), str(dest)]
        for rel in read_only:
            p = root / rel
            if p.exists() and not p.is_symlink():
                args += ["--ro-bind", str(p), str(p)]
        for rel in hidden:
            p = root / rel
            if p.is_file() and not p.is_symlink():
                args += ["--ro-bind", empty, str(p)]
        for masked in envt.masked:  # credentials stay unreadable below any mount
            if masked.is_dir():
                args += ["--tmpfs", str(masked), "--remount-ro", str(masked)]
            else:
                args += ["--ro-bind", empty, str(masked)]
        args += ["--chdir", str(cwd), "--", *argv(cmd)]
        return args

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
        read_only, hidden = merged_masks(workspace, self.protected, read_only, hidden)
        args = self.command(
            cmd, workspace=workspace, cwd=inside(workspace, cwd),
            read_only=read_only, hidden=hidden,
        )
        # bwrap has no limits of its own: run_process puts it in a transient cgroup (pids.max
        # bounds a fork bomb, root included); without one, RLIMIT_NPROC bounds an ordinary user.
        nproc = None if os.getuid() == 0 else user_process_count() + self.limits.pids
        inner = self.environment.env_in(str(workspace.resolve()))
        res = await run_process(
            args,
            cwd=workspace.resolve(),
            env=sandbox_env({**inner, **(env or {})},
                            path=self.environment.path or os.environ.get("PATH")),
            timeout=timeout,
            limits=self.limits,
            backend=self.name,
            nproc=nproc,
        )
        failed = setup_failure(res)
        if failed:
            raise SandboxError(f"bwrap could not start the sandbox: {failed}")
        return res


def setup_failure(res: SandboxResult) -> str | None:
    """bubblewrap's own error when it failed before running the command, else None. bwrap
    reports setup failures (a mount refused, namespaces denied, the command not executable)
    as `bwrap: <reason>` on stderr with exit code 1, before the command could print anything;
    the probe at startup (`bwrap_status`) does not mount /proc or tmpfs, so these can still
    happen on every command, e.g. in an unprivileged container."""
    if res.exit_code != 1 or res.timed_out or res.stdout:
        return None
    first = res.stderr.lstrip().split("\n", 1)[0]
    return first[len("bwrap: "):].strip() or first if first.startswith("bwrap: ") else None
