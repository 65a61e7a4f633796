"""Where a case runs: a fresh git repo per case x variant x repeat, and the variant's spec.

`<eval dir>/work/<key>/` is the case repo (a copy of the case directory, the hidden directory
left out, committed as one commit; or a clone of a git bundle); the run's own directory lands
in it (`.crew/runs/<run-id>/`). `<eval dir>/specs/<key>/` holds the feature as the variant
runs it: the case's feature.yaml with `crew:`/`models:` made absolute or replaced, beside links
to the library folders next to the original (roles/, patterns/, tasks/, crews/), and, when the
variant sets a default pattern, a copy of the crew with that default.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from crew.errors import UserError
from crew.spec.library import Library
from crew.spec.models import KIND_DIRS

_SKIP = {".git", ".crew", ".crew-eval", "__pycache__"}
_GIT_ENV = {"GIT_AUTHOR_NAME": "crew eval", "GIT_AUTHOR_EMAIL": "eval@crew.invalid",
            "GIT_COMMITTER_NAME": "crew eval", "GIT_COMMITTER_EMAIL": "eval@crew.invalid",
            "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE":
            "2000-01-01T00:00:00Z"}


def git(cwd: Path, *args: str) -> str:
    import os

    env = {**os.environ, **_GIT_ENV}
    res = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
                          *args], cwd=cwd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise UserError(f"git {' '.join(args[:2])} failed: {res.stderr.strip()[:300]}",
                        file=str(cwd))
    return res.stdout


def make_repo(source: Path, dest: Path, hidden: Path | None) -> None:
    """A fresh git repo at `dest` holding `source` (a directory, `hidden` and VCS folders left
    out, one commit on `main`) or a clone of `source` (a git bundle)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_file():
        git(dest.parent, "clone", "--quiet", str(source), str(dest))
        return

    def ignore(folder: str, names: list[str]) -> set[str]:
        out = {n for n in names if n in _SKIP}
        if hidden is not None:
            out |= {n for n in names if (Path(folder) / n).resolve() == hidden}
        return out

    shutil.copytree(source, dest, ignore=ignore, symlinks=True)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "add", "-A")
    git(dest, "commit", "--quiet", "--allow-empty", "-m", "case")


def crew_file_for(feature: Path, crew: str) -> Path:
    """The crew file a feature would load for `crew` (a name beside it or built in, or a path)."""
    if crew.endswith((".yaml", ".yml")):
        path = (feature.parent / crew).resolve()
        if not path.is_file():
            raise UserError(f"crew file {crew!r} not found", field="crew")
        return path
    found = Library.beside(feature).find("crew", crew)
    if found is None:
        from crew.spec.suggest import did_you_mean

        names = Library.beside(feature).names("crew")
        raise UserError(f"unknown crew {crew!r}{did_you_mean(crew, names)}", field="crew")
    return found


def write_spec(feature: Path, dest: Path, *, crew: str | None, pattern: str | None,
               models: Path | None) -> Path:
    """The feature as the variant runs it (see the module docstring); returns its path."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    data: dict[str, Any] = yaml.safe_load(feature.read_text(encoding="utf-8")) or {}
    here = Library.beside(feature).roots[0]
    for folder in KIND_DIRS.values():
        if (here / folder).is_dir():
            (dest / folder).symlink_to(here / folder, target_is_directory=True)
    data["repo"] = "."  # the case repo is passed to the run
    data.setdefault("knowledge", "off")  # runs are measured alone: no notes from another run
    if models is not None:
        data["models"] = str(models)
    elif data.get("models"):
        data["models"] = str((feature.parent / data["models"]).resolve())
    crew_ref = crew or str(data.get("crew") or "software-team")
    if crew_ref.endswith((".yaml", ".yml")):
        crew_ref = str((feature.parent / crew_ref).resolve())
    if pattern:
        src = crew_file_for(feature, crew_ref)
        spec: dict[str, Any] = yaml.safe_load(src.read_text(encoding="utf-8")) or {}
        name = str(spec.get("name") or src.stem)
        spec["name"] = name
        spec.setdefault("defaults", {})["pattern"] = pattern
        if pattern not in spec.get("patterns", []):
            spec["patterns"] = [*spec.get("patterns", []), pattern]
        if isinstance(spec.get("models"), str):
            spec["models"] = str((src.parent / spec["models"]).resolve())
        (dest / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False),
                                           encoding="utf-8")
        crew_ref = f"{name}.yaml"
    data["crew"] = crew_ref
    out = dest / "feature.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out
