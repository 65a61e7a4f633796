"""Cold start of `crew --help` and `crew validate` beside `python -c pass`, as ratios.

Run: python benchmarks/startup.py [--runs N]
Each command runs in a fresh interpreter (that is what a user waits for); medians reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FEATURE = REPO / "examples" / "todo-csv" / "feature.yaml"


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs + 1):  # first run warms the OS file cache, not counted
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    py = sys.executable
    base = median_seconds([py, "-c", "pass"], args.runs)
    rows = [
        ("python -c pass", base),
        ("python -c 'import crew'", median_seconds([py, "-c", "import crew"], args.runs)),
        ("crew --help", median_seconds([py, "-m", "crew", "--help"], args.runs)),
        ("crew validate feature", median_seconds([py, "-m", "crew", "validate", str(FEATURE)],
                                                 args.runs)),
    ]
    print(f"{'command':28} {'median ms':>10} {'÷ python':>9}")
    for name, secs in rows:
        print(f"{name:28} {secs * 1000:10.1f} {secs / base:8.1f}x")


if __name__ == "__main__":
    main()
