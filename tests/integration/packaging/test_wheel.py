"""The built-in library ships inside the wheel and is found from an installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]

PROBE = """
import crew, sys
from pathlib import Path
from crew.spec.library import builtin_library_dir
from crew.spec.validate import validate_path
lib = builtin_library_dir()
assert Path(crew.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), crew.__file__
files = [p for d in ("roles", "patterns", "tasks", "crews") for p in sorted((lib / d).glob("*.yaml"))]
for p in files:
    validate_path(p)
print(lib)
print(len(files))
"""


@pytest.mark.slow
def test_library_loads_from_installed_wheel(tmp_path: Path) -> None:
    """The wheel built offline (hatchling from the dev set, no build isolation) carries the
    library and the demo files; installed on its own, it finds them inside the package."""
    pytest.importorskip("hatchling", reason="hatchling is in the dev set (requirements/dev.txt)")
    dist, target = tmp_path / "dist", tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                            "--outdir", str(dist), str(REPO)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("crew-*.whl"))
    with zipfile.ZipFile(wheel) as z:  # a pure-Python wheel: unpacking is installing
        z.extractall(target)
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(target)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lib, count = proc.stdout.split()
    assert Path(lib) == (target / "crew" / "library").resolve()
    assert int(count) == 17
    demo = target / "crew" / "library" / "examples" / "todo-csv"
    assert (demo / "feature.yaml").is_file() and (demo / "project" / "todo.py").is_file()


def test_library_found_from_editable_checkout() -> None:
    from crew.spec.library import builtin_library_dir

    lib = builtin_library_dir()
    assert (lib / "roles" / "coder.yaml").is_file()
    assert (lib / "crews" / "software-team.yaml").is_file()
