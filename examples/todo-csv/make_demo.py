"""Make the offline demo in DEST: the sample project as a fresh git repo, plus the feature,
models and replay files, so `crew run DEST/feature.yaml` works with no key and no network.

    python examples/todo-csv/make_demo.py /tmp/todo-demo
    crew run /tmp/todo-demo/feature.yaml
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("feature.yaml", "models.yaml", "replay.yaml")


def make_demo(dest: Path) -> Path:
    """Create the demo in `dest` (which must not exist or be empty); returns feature.yaml."""
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"error: {dest} is not empty; pick a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(HERE / name, dest / name)
    project = dest / "project"
    shutil.copytree(HERE / "project", project,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "todos.json"))
    env = {"GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@example.invalid",
           "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@example.invalid",
           }
    env = {**os.environ, **env}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["commit", "-q", "-m", "todo: the sample project"]):
        subprocess.run(["git", *args], cwd=project, check=True, env=env)
    return dest / "feature.yaml"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python examples/todo-csv/make_demo.py DEST")
    feature = make_demo(Path(sys.argv[1]))
    print(f"demo ready: crew run {feature}")
