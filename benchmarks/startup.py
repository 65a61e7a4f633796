"""Cold start of `crew --help`, `-h`, `--version`, `import crew` and `crew validate` beside
`python -c pass`: wall and CPU medians, and ratios to `python -c pass` (goal: `crew --help`
< 0.1 s, i.e. about 3x `python -c pass` on a 2-core VM).

Run: python benchmarks/startup.py [--runs N] [--before SRC]
Each command runs in a fresh interpreter (that is what a user waits for); the commands take
turns, round after round, so a busy machine slows them alike. `crew` is the console script
next to this interpreter (`python -m crew` beside it). `--before SRC` adds a column for
another checkout's `src` folder, measured in the same rounds with PYTHONPATH=SRC (its parent
must hold the built-in library and pyproject.toml: a worktree of main, or
`git archive main src roles patterns tasks crews pyproject.toml | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FEATURE = REPO / "examples" / "todo-csv" / "feature.yaml"


def commands() -> list[tuple[str, list[str]]]:
    py = sys.executable
    script = shutil.which("crew", path=str(Path(py).parent)) or ""
    crew = [script] if script else [py, "-m", "crew"]
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import crew'", [py, "-c", "import crew"]),
        ("crew --help", [*crew, "--help"]),
        ("crew -h", [*crew, "-h"]),
        ("crew --version", [*crew, "--version"]),
        ("python -m crew --help", [py, "-m", "crew", "--help"]),
        ("crew validate --spec-only", [*crew, "validate", "--spec-only", str(FEATURE)]),
    ]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system of the child) seconds of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(variants: dict[str, dict[str, str]], runs: int) -> dict[tuple[str, str], list[float]]:
    """Median wall and CPU per (variant, command); every round runs each once."""
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_no in range(runs + 1):  # round 0 warms the OS file cache, not counted
        for name, cmd in commands():
            for variant, env in variants.items():
                wall, cpu = timed(cmd, env)
                if round_no:
                    samples.setdefault((variant, name), []).append((wall, cpu))
    return {key: [statistics.median(w for w, _ in s), statistics.median(c for _, c in s)]
            for key, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--before", type=Path, metavar="SRC",
                        help="Another checkout's src folder, measured beside this one.")
    args = parser.parse_args()
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("PYTHONPATH", None)
    variants = {"now": env}
    if args.before:
        variants = {"before": {**env, "PYTHONPATH": str(args.before.resolve())}, "now": env}
    results = measure(variants, args.runs)
    print(f"medians of {args.runs} fresh processes; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    head = "".join(f" | {v + ' wall ms':>14} {'cpu ms':>7} {'÷ python':>8}" for v in variants)
    print(f"{'command':26}{head}")
    for name, _ in commands():
        cells = []
        for variant in variants:
            wall, cpu = results[(variant, name)]
            base = results[(variant, "python -c pass")][0]
            cells.append(f" | {wall * 1000:14.1f} {cpu * 1000:7.1f} {wall / base:7.1f}x")
        print(f"{name:26}{''.join(cells)}")


if __name__ == "__main__":
    main()
