"""Make the offline demo in DEST (same as `crew demo DEST`, without running it): the sample
project as a fresh git repo, plus the feature, models and replay files.

    python examples/todo-csv/make_demo.py /tmp/todo-demo
    crew run /tmp/todo-demo/feature.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

from crew.cli.demo import make_demo as _make_demo

HERE = Path(__file__).resolve().parent


def make_demo(dest: Path) -> Path:
    """Create the demo in `dest` (which must not exist or be empty); returns feature.yaml."""
    return _make_demo(dest, HERE)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python examples/todo-csv/make_demo.py DEST")
    feature = make_demo(Path(sys.argv[1]))
    print(f"demo ready: crew run {feature}")
