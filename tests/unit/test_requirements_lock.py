"""requirements/*.txt are uv.lock exported with hashes (what `pip install --require-hashes`
installs): they must say exactly what the lock says. Regenerate after `uv lock` with:

    uv export --locked --no-emit-project -o requirements/base.txt
    uv export --locked --no-emit-project --extra dev --extra autogen --extra crewai \\
        --extra cache --extra ray -o requirements/dev.txt
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, dict[str, object]]:
    data = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {_norm(p["name"]): p for p in data["package"]}


def _requirements(name: str) -> dict[str, tuple[str, set[str]]]:
    """package → (version, hashes) of one exported file (entries span continuation lines)."""
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    out: dict[str, tuple[str, set[str]]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = _PIN.match(entry)
        if m:
            out[_norm(m.group(1))] = (m.group(2), set(_HASH.findall(entry)))
    return out


def _lock_hashes(pkg: dict[str, object]) -> set[str]:
    files = [*pkg.get("wheels", []), *([pkg["sdist"]] if "sdist" in pkg else [])]  # type: ignore[list-item]
    return {str(f["hash"]) for f in files}  # type: ignore[index]


@pytest.mark.parametrize("name", ["base.txt", "dev.txt"])
def test_every_requirement_is_pinned_to_the_locked_version_and_hashes(name: str) -> None:
    lock = _lock()
    reqs = _requirements(name)
    assert reqs, name
    for pkg, (version, hashes) in reqs.items():
        assert pkg in lock, f"{name}: {pkg} is not in uv.lock"
        assert version == lock[pkg]["version"], f"{name}: {pkg}=={version}, uv.lock has " \
                                                f"{lock[pkg]['version']}"
        assert hashes and hashes <= _lock_hashes(lock[pkg]), f"{name}: {pkg} hashes differ"


def test_dev_holds_the_whole_lock_and_base_the_core() -> None:
    lock = _lock()
    dev, base = _requirements("dev.txt"), _requirements("base.txt")
    assert set(dev) == set(lock) - {"crew"}
    assert set(base) < set(dev)
    core = {_norm(str(d["name"])) for d in lock["crew"]["dependencies"]}  # type: ignore[union-attr]
    assert core <= set(base)
    assert not {"crewai", "autogen-agentchat", "pytest", "redis", "fastapi", "ray"} & set(base)  # extras stay optional


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_the_files_are_exactly_what_uv_exports() -> None:
    for name, extras in (("base.txt", []), ("dev.txt", ["dev", "autogen", "crewai", "cache", "ray"])):
        args = ["uv", "export", "--locked", "--no-emit-project", "--no-header", "-q"]
        for e in extras:
            args += ["--extra", e]
        fresh = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        kept = (ROOT / "requirements" / name).read_text(encoding="utf-8")
        body = "\n".join(x for x in kept.splitlines() if not x.startswith("#  ") and
                         not x.startswith("# This file"))
        assert body.strip() == fresh.strip(), f"requirements/{name} is stale: regenerate it"
