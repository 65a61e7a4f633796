"""Per-command resource limits that real programs survive.

Memory and processes are capped with a transient cgroup per command where this machine lets
crew make one: cgroup v2 (`memory.max`, `memory.swap.max`, `pids.max`, `cpu.max`) or the v1
`memory`, `pids` and `cpu` controllers. Where it cannot (an unprivileged user without a
delegated cgroup), `systemd-run --user --scope` wraps the command when it works, and otherwise
RLIMIT_DATA / RLIMIT_NPROC are the fallback. Never RLIMIT_AS: every thread reserves address
space (stacks, malloc arenas), so an address-space cap kills threaded programs that use little.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from crew.tools.sandbox.base import SandboxLimits

CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
_counter = itertools.count()


@dataclass(frozen=True)
class Hierarchy:
    """Where this process's cgroups live: v2 (one dir) or v1 (one dir per controller)."""

    version: int
    dirs: dict[str, Path]  # controller -> the cgroup directory this process is in


def _own_cgroups() -> dict[str, str]:
    """controller (or '' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            for name in names.split(",") if names else [""]:
                out[name] = path
    return out


def _mounts() -> list[tuple[str, Path, str, set[str]]]:
    """(fstype, mount point, mount root, super options) of every cgroup mount."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(rfields) >= 3 and rfields[0] in ("cgroup", "cgroup2"):
                found.append((rfields[0], Path(fields[4]), fields[3], set(rfields[2].split(","))))
    return found


def _join(mount: Path, root: str, own: str) -> Path:
    rel = own[len(root):] if root != "/" and own.startswith(root) else own
    return mount / rel.lstrip("/")


@functools.cache
def hierarchy() -> Hierarchy | None:
    """This process's writable cgroups for memory and pids (v2 preferred), or None."""
    own = _own_cgroups()
    mounts = _mounts()
    for fstype, mount, root, _ in mounts:
        if fstype != "cgroup2" or "" not in own:
            continue
        base = _join(mount, root, own[""])
        h = _v2_parent(base, mount)
        if h is not None:
            return h
    dirs: dict[str, Path] = {}
    for fstype, mount, root, opts in mounts:
        for ctl in CONTROLLERS:
            if fstype == "cgroup" and ctl in opts and ctl in own and ctl not in dirs:
                d = _join(mount, root, own[ctl])
                if d.is_dir() and os.access(d, os.W_OK):
                    dirs[ctl] = d
    if "memory" in dirs or "pids" in dirs:
        return Hierarchy(1, dirs)
    return None


def _v2_parent(base: Path, mount: Path) -> Hierarchy | None:
    """A v2 cgroup under which crew may create children with memory and pids enabled: this
    process's own cgroup when its subtree already delegates them, else the mount's root."""
    for parent in (base, mount):
        try:
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
            available = set((parent / "cgroup.controllers").read_text().split())
        except OSError:
            continue
        if not os.access(parent, os.W_OK) or not {"memory", "pids"} <= available:
            continue
        missing = [c for c in CONTROLLERS if c in available and c not in enabled]
        if missing:
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text(
                    " ".join(f"+{c}" for c in missing))
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if {"memory", "pids"} <= enabled:
            return Hierarchy(2, {c: parent for c in CONTROLLERS if c in enabled})
    return None


@functools.cache
def systemd_run() -> str | None:
    """`systemd-run` when a user scope with limits can be started here, else None."""
    exe = shutil.which("systemd-run")
    if not exe or os.getuid() == 0:
        return None
    try:
        ok = subprocess.run([exe, "--user", "--scope", "--quiet", "-p", "TasksMax=64", "true"],
                            capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if ok else None


def systemd_prefix(limits: SandboxLimits) -> list[str]:
    """The argv prefix that runs a command in a transient systemd scope with `limits`."""
    exe = systemd_run() or "systemd-run"
    return [exe, "--user", "--scope", "--quiet", "--collect",
            "-p", f"MemoryMax={limits.memory_mb}M", "-p", "MemorySwapMax=0",
            "-p", f"TasksMax={limits.pids}", "-p", f"CPUQuota={int(limits.cpus * 100)}%", "--"]


def mechanism() -> str:
    """How limits are enforced here: 'cgroup v2', 'cgroup v1', 'systemd-run' or 'rlimits'."""
    h = hierarchy()
    if h is not None:
        return f"cgroup v{h.version}"
    return "systemd-run" if systemd_run() else "rlimits"


@dataclass
class Cgroup:
    """One command's transient cgroup(s): made before the command, removed after it."""

    version: int
    dirs: dict[str, Path] = field(default_factory=dict)  # controller -> its directory

    @property
    def paths(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))

    def oom_killed(self) -> bool:
        """Whether the kernel killed something in here for lack of memory."""
        d = self.dirs.get("memory")
        if d is None:
            return False
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError, ValueError):
            for line in (d / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        return False

    def close(self) -> None:
        """Kill whatever is left inside, then remove the directories."""
        for d in self.paths:
            with contextlib.suppress(OSError):
                (d / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + 5
        for d in self.paths:
            while True:
                pids = _pids(d)
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    d.rmdir()
                if not d.exists() or time.monotonic() > deadline:
                    break
                time.sleep(0.01)


def _pids(d: Path) -> list[int]:
    try:
        return [int(x) for x in (d / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def make_cgroup(limits: SandboxLimits) -> Cgroup | None:
    """A new cgroup with `limits`, or None when this machine gives crew none."""
    h = hierarchy()
    if h is None:
        return None
    name = f"crew-{os.getpid()}-{next(_counter)}"
    cg = Cgroup(h.version)
    try:
        for ctl, parent in h.dirs.items():
            d = parent / name
            if d not in cg.paths:
                d.mkdir()
            cg.dirs[ctl] = d
        _write_limits(cg, limits)
    except OSError:
        cg.close()
        return None
    return cg


def _write_limits(cg: Cgroup, limits: SandboxLimits) -> None:
    mem = limits.memory_mb * 1024 * 1024
    quota = max(1000, int(limits.cpus * CPU_PERIOD_US))
    d = cg.dirs
    if cg.version == 2:
        if "memory" in d:
            (d["memory"] / "memory.max").write_text(str(mem))
            with contextlib.suppress(OSError):  # absent without swap accounting
                (d["memory"] / "memory.swap.max").write_text("0")
        if "pids" in d:
            (d["pids"] / "pids.max").write_text(str(limits.pids))
        if "cpu" in d:
            (d["cpu"] / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
        return
    if "memory" in d:
        (d["memory"] / "memory.limit_in_bytes").write_text(str(mem))
        with contextlib.suppress(OSError):  # memory + swap; absent without swap accounting
            (d["memory"] / "memory.memsw.limit_in_bytes").write_text(str(mem))
    if "pids" in d:
        (d["pids"] / "pids.max").write_text(str(limits.pids))
    if "cpu" in d:
        with contextlib.suppress(OSError):
            (d["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (d["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))


# The exec shim: a fresh interpreter (isolated, no site) that joins the cgroup(s), sets the
# rlimits and execs the command. It runs after fork+exec, so crew's own threads and locks are
# never touched between fork and exec (`preexec_fn` is documented unsafe with threads).
# argv: cg=<cgroup.procs file>... | <RLIMIT name>=<value>... -- command...
SHIM_MARK = "crew-exec-shim: "
SHIM_EXIT = 125
_SHIM = """import os,sys,resource as r
a=sys.argv[1:];i=a.index('--');cmd=a[i+1:]
try:
 for o in a[:i]:
  k,_,v=o.partition('=')
  if k=='cg':
   fd=os.open(v,os.O_WRONLY);os.write(fd,str(os.getpid()).encode());os.close(fd)
  else:
   n=int(v);r.setrlimit(getattr(r,'RLIMIT_'+k),(n,n))
 os.execvp(cmd[0],cmd)
except (OSError,ValueError) as e:
 sys.stderr.write('%s%s: %s\\n'%(MARK,cmd[0] if cmd else '',e));sys.exit(EXIT)
""".replace("MARK", repr(SHIM_MARK)).replace("EXIT", str(SHIM_EXIT))


def exec_shim(
    limits: SandboxLimits, timeout: float, *, cgroup: Cgroup | None, nproc: int | None,
    python: str | None = None,
) -> list[str]:
    """The argv prefix that joins `cgroup`, sets the rlimits, then execs the command after it.
    RLIMIT_DATA caps memory and RLIMIT_NPROC (`nproc`, never enforced on root) processes only
    when the cgroup does not. `python`: the interpreter running the shim (this one)."""
    mem = limits.memory_mb * 1024 * 1024
    by_cgroup = set(cgroup.dirs) if cgroup is not None else set()
    opts = [f"cg={d / 'cgroup.procs'}" for d in (cgroup.paths if cgroup is not None else [])]
    if "memory" not in by_cgroup:
        opts.append(f"DATA={mem}")
    if nproc is not None and "pids" not in by_cgroup:
        opts.append(f"NPROC={nproc}")
    cpu = int(timeout * max(1.0, limits.cpus)) + 5  # CPU seconds summed over threads
    opts += [f"CPU={cpu}", "CORE=0", f"FSIZE={1 << 30}"]
    return [python or sys.executable, "-I", "-S", "-c", _SHIM, *opts, "--"]


def shim_failure(exit_code: int, stderr: str) -> str | None:
    """The shim's own error (it could not join the cgroup, set a limit or exec), else None."""
    if exit_code != SHIM_EXIT or not stderr.startswith(SHIM_MARK):
        return None
    return stderr[len(SHIM_MARK):].split("\n", 1)[0]
