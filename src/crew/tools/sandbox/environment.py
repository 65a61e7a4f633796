"""The project's environment inside a sandbox: which host paths a command sees read-only, which
untracked repository directories (.venv, node_modules) appear in every worktree, and which
credentials under the home directory stay hidden whatever a mount covers.

Everything is computed once per run from what the caller passes (the repository, the crew
process's environment and home, the `sandbox:` keys), never looked up by a backend.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crew.errors import UserError

# Untracked repository directories holding a project's installed dependencies; shared into
# every worktree when present (`sandbox: {share: [...]}` replaces the list).
DEFAULT_SHARE = (".venv", "venv", "node_modules")
# Toolchains that live under the home directory, made visible read-only when present.
HOME_TOOLCHAINS = (
    ".cargo/bin", ".rustup", ".local/bin", ".local/share/pipx", ".nvm", ".pyenv", ".rbenv",
    ".volta", ".bun", ".deno", ".sdkman", "go", ".local/go", ".juliaup", ".elan", ".ghcup",
    ".local/share/uv/python", ".local/share/mise", ".asdf",
)
# Where toolchains find themselves: passed through (and bound) when set to a directory; HOME
# is /tmp inside, so rustup's proxies also get RUSTUP_HOME=~/.rustup when it exists.
TOOLCHAIN_VARS = ("RUSTUP_HOME", "CARGO_HOME", "GOROOT", "GOPATH", "GOMODCACHE", "PYENV_ROOT",
                  "NVM_DIR", "VOLTA_HOME", "JAVA_HOME")
# Credentials under the home directory: never readable inside, even below a mount covering
# them (a file reads as empty, a directory is empty).
HOME_CREDENTIALS = (
    ".ssh", ".aws", ".config/gcloud", ".azure", ".kube", ".docker/config.json", ".netrc",
    ".git-credentials", ".pypirc", ".npmrc", ".yarnrc", ".gnupg", ".password-store",
    ".config/gh", ".config/hub", ".cargo/credentials", ".cargo/credentials.toml",
    ".terraform.d/credentials.tfrc.json", ".vault-token", ".pgpass", ".my.cnf",
    ".local/share/keyrings", ".bash_history", ".zsh_history", ".history", ".histfile",
    ".sh_history", ".python_history", ".node_repl_history", ".psql_history",
    ".mysql_history", ".sqlite_history", ".lesshst", ".local/share/fish/fish_history",
)
# Host directories a sandbox already provides (bwrap binds them, an image has its own).
SYSTEM_PREFIXES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


@dataclass(frozen=True)
class SandboxEnvironment:
    """What of the host a sandboxed command sees besides the system and its workspace.

    `ro_paths` are bound read-only at their host path; each `shares` entry (host dir,
    workspace-relative path) is bound read-only into a workspace lacking it (and stays at its
    host path, so a venv's absolute shebangs work); `masked` paths are the credentials
    below a mount, hidden; `path` is PATH inside (None: the backend's default) and `env` adds VIRTUAL_ENV,
    CONDA_PREFIX."""

    ro_paths: tuple[Path, ...] = ()
    shares: tuple[tuple[Path, str], ...] = ()
    masked: tuple[Path, ...] = ()
    credentials: tuple[Path, ...] = ()  # every credential present (the local backend hides all)
    path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # repository-relative import roots of the project's own editable installs ("src", "."):
    # put on PYTHONPATH inside each workspace, so its code is imported, not the checkout's
    python_paths: tuple[str, ...] = ()

    def env_in(self, workspace: str) -> dict[str, str]:
        """`env` for a command whose workspace is at `workspace` inside the sandbox: with
        PYTHONPATH leading to the workspace's copy of each editable install's source (an
        editable install's `.pth` or finder names the user's checkout, which the sandbox does
        not show, or shows unchanged; PYTHONPATH comes before both)."""
        env = dict(self.env)
        if self.python_paths:
            roots = [workspace if rel == "." else f"{workspace}/{rel}"
                     for rel in self.python_paths]
            env["PYTHONPATH"] = os.pathsep.join(
                [*roots, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        return env

    def share_targets(self, workspace: Path) -> list[tuple[Path, Path]]:
        """(host dir, its path in `workspace`) for each share the workspace does not hold
        itself: absent there, or an empty directory (a previous command's mount point)."""
        root = workspace.resolve()
        out: list[tuple[Path, Path]] = []
        for src, rel in self.shares:
            dest = root / rel
            if dest.resolve() == src.resolve() or dest.is_symlink():
                continue
            if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
                continue  # the worktree has its own (e.g. made by `setup:`)
            out.append((src, dest))
        return out

    def describe(self) -> str:
        """One line for the run's output: what is shared and mounted."""
        parts = [f"{len(self.ro_paths)} host paths read-only"]
        if self.shares:
            parts.append("shared into worktrees: " + ", ".join(r for _, r in self.shares))
        if self.masked:
            parts.append(f"{len(self.masked)} credential paths hidden")
        return "; ".join(parts)


def _inside(p: Path, parent: Path) -> bool:
    return p == parent or parent in p.parents


def _system(p: Path) -> bool:
    return any(_inside(p, Path(s)) for s in SYSTEM_PREFIXES)


def _untracked(repo: Path, rel: str) -> bool:
    try:
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "--", rel],
                             capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and not out.stdout.strip()


# where an interpreter's site-packages lies below a shown prefix: a venv or installation,
# pyenv's root (versions/X), conda's (envs/X)
_SITE_PACKAGES = ("lib/python3*/site-packages", "versions/*/lib/python3*/site-packages",
                  "envs/*/lib/python3*/site-packages")
_MAPPING = re.compile(r"^MAPPING\s*(?::[^=\n]*)?=\s*(\{.*?\})\s*$", re.M | re.S)


def editable_sources(prefix: Path) -> list[tuple[Path, Path]]:
    """(source directory, its import root) of each editable install in `prefix`'s
    site-packages: absolute path lines of `*.pth` files (uv, hatchling, flit, setuptools' src
    layout: the directory is its own root) and the MAPPING of setuptools'
    `__editable__*finder.py` (a package's directory; sys.path needs its parent). Without the
    sources an interpreter the sandbox shows fails on its own packages (pytest autoloads
    plugins from every installed distribution)."""
    out: list[tuple[Path, Path]] = []
    sites = [s for pattern in _SITE_PACKAGES for s in sorted(prefix.glob(pattern))]
    for site in sites:
        for pth in sorted(site.glob("*.pth")):
            for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip()
                if line.startswith("/") and Path(line).is_dir():
                    out.append((Path(line), Path(line)))
        for finder in sorted(site.glob("__editable__*finder.py")):
            found = _MAPPING.search(finder.read_text(encoding="utf-8", errors="replace"))
            try:
                mapping = ast.literal_eval(found.group(1)) if found else {}
            except (ValueError, SyntaxError):
                continue
            out += [(Path(v), Path(v).parent) for v in mapping.values()
                    if isinstance(v, str) and v.startswith("/") and Path(v).exists()]
    return list(dict.fromkeys(out))


def venv_home(venv: Path) -> Path | None:
    """The prefix of the interpreter a virtualenv was made from (pyvenv.cfg `home` is its
    bin directory), which must be visible for the venv's python to start."""
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            home = Path(value.strip())
            return home.parent if home.name == "bin" else home
    return None


def _expand(entry: str, home: Path) -> Path:
    if entry == "~" or entry.startswith("~/"):
        return home / entry[2:] if entry != "~" else home
    return Path(entry)


def detect_environment(
    repo: Path | None,
    *,
    environ: Mapping[str, str],
    home: Path,
    share: Sequence[str] | None = None,
    mounts: Sequence[str] = (),
    extra: Sequence[Path] = (),
) -> SandboxEnvironment:
    """The environment a run's sandbox shows: the active VIRTUAL_ENV / CONDA_PREFIX (and a
    venv's base interpreter), the non-system directories of PATH, the toolchains under `home`,
    `mounts` (absolute or ~ paths; UserError when missing) and `extra`, all read-only; the
    repository's untracked `share` directories (None: DEFAULT_SHARE where present); every
    credential under `home` that any of them covers, masked."""
    ro: list[Path] = []
    env: dict[str, str] = {}
    creds = [home / c for c in HOME_CREDENTIALS]

    def add(p: Path, *, explicit: bool = False) -> None:
        if not p.is_absolute() or not p.exists() or _system(p) or p == Path("/"):
            return
        if any(_inside(p, c) or _inside(p.resolve(), c) for c in creds):
            return  # a path inside a credential directory is never bound
        if not explicit and _inside(home, p):
            return  # PATH naming the home itself (or above) would show all of it
        if not any(_inside(p, q) for q in ro):
            ro[:] = [q for q in ro if not _inside(q, p)] + [p]

    if (home / ".rustup").is_dir() and "RUSTUP_HOME" not in environ:
        environ = {**environ, "RUSTUP_HOME": str(home / ".rustup")}
    for var in TOOLCHAIN_VARS:
        value = environ.get(var, "")
        if value and Path(value).is_absolute() and Path(value).is_dir():
            env[var] = value
            add(Path(value))
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = environ.get(var, "")
        if value and Path(value).is_absolute() and Path(value).is_dir():
            env[var] = value
            add(Path(value))
            base = venv_home(Path(value))
            if base is not None:
                add(base)
    for entry in environ.get("PATH", "").split(os.pathsep):
        if entry and Path(entry).is_absolute():
            # a program in <prefix>/bin needs its prefix (lib/, share/): bind the prefix,
            # unless that is the home directory (~/bin) or a system one (/usr/local/bin)
            d = Path(entry)
            prefix = d.parent if d.name == "bin" else d
            add(d if _inside(home, prefix) or _system(prefix) else prefix)
    for rel in HOME_TOOLCHAINS:
        add(home / rel)
    for entry in mounts:
        p = _expand(entry, home)
        if not p.exists():
            raise UserError(f"sandbox mount {entry!r} does not exist ({p})",
                            field="sandbox.mounts",
                            hint="list existing absolute or ~/ paths, or remove the entry")
        add(p, explicit=True)
    for p in extra:
        add(Path(p), explicit=True)
    shares: list[tuple[Path, str]] = []
    if repo is not None:
        root = repo.resolve()
        for rel in DEFAULT_SHARE if share is None else share:
            src = root / rel
            if src.is_dir() and not src.is_symlink() and _untracked(root, rel):
                shares.append((src, rel))
                add(src, explicit=True)
                base = venv_home(src)
                if base is not None:
                    add(base)
            elif share is not None:
                raise UserError(f"sandbox share {rel!r} is not an untracked directory of "
                                f"{root}", field="sandbox.share",
                                hint="name directories such as .venv or node_modules that "
                                "exist in the repository and are not tracked by git")
    python_paths: list[str] = []
    prefixes = list(ro)
    for prefix in prefixes:  # editable installs of the interpreters shown (a shared .venv too)
        for src, import_root in editable_sources(prefix):
            if repo is None or not _inside(src.resolve(), repo.resolve()):
                add(src, explicit=True)  # another project's sources, read-only
            elif not any(_inside(import_root.resolve(), p.resolve()) for p in prefixes):
                # the project's own (`uv sync`, `pip install -e .`): the worktree's copy
                python_paths.append(import_root.resolve().relative_to(repo.resolve()).as_posix())
    present = [c.resolve() if c.is_symlink() else c for c in creds]  # hidden where it leads
    present = [c for c in present if c.exists()]
    masked = [c for c in present if any(_inside(c, q) or _inside(c, q.resolve()) for q in ro)]
    return SandboxEnvironment(
        ro_paths=tuple(ro), shares=tuple(shares), masked=tuple(masked),
        credentials=tuple(present),
        path=environ.get("PATH") or None, env=env,
        python_paths=tuple(dict.fromkeys(python_paths)),
    )
