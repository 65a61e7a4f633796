"""Every performance figure of issue 16 in one run, as ratios beside their goals:

  cold start   `crew --help` (goal < 0.1 s), `import crew` … beside `python -c pass`
               (benchmarks/startup.py, the console script)
  patterns     the three peer workloads, fresh process each, stub at 200 ms: run window ÷
               critical path (the goal) and the whole process, crew beside --legacy
  tokens       cl100k prompt tokens per workload and prefix reuse (benchmarks/tokens.py)
  prefix reuse multi-turn agent, debate, offline demo (benchmarks/prefix_reuse.py)
  memory       peak RSS of a fresh offline demo (goal < 250 MB)
  knowledge    two features on one repository: the second run with and without the first's
               notes (benchmarks/knowledge.py)
  peers        crew beside AutoGen and CrewAI on the same workloads (benchmarks/peers.py;
               a framework not installed is reported as skipped)
The machine may be loaded by other work: compare the ratios side by side, not seconds.
Run: .venv/bin/python benchmarks/all.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import knowledge
import patterns
import peers
import prefix_reuse
import startup
import tokens


def demo_peak_rss_mb() -> float:
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "crew", "demo", f"{d}/demo", "--no-trace",
                        "--sandbox", "local"], check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    print("== cold start (medians of 5 fresh processes)")
    env = {**os.environ, "COLUMNS": "80"}
    cold = startup.measure({"now": env}, 5)
    base = cold[("now", "python -c pass")][0]
    for name, _ in startup.commands():
        wall, cpu = cold[("now", name)]
        print(f"{name:24} {wall * 1000:7.0f} ms (CPU {cpu * 1000:5.0f} ms)  "
              f"{wall / base:5.1f}x python -c pass"
              + ("  (goal < 100 ms)" if name == "crew --help" else ""))
    print("== memory")
    rss = demo_peak_rss_mb()
    print(f"offline demo peak RSS {rss:.0f} MB (goal < 250 MB){'  MET' if rss < 250 else ''}")
    print("== tokens")
    tokens.report(asyncio.run(tokens.measure()))
    print("== prefix reuse (goal >= 70% in multi-turn tasks)")
    prefix_reuse.measure()
    print(f"== patterns: fresh process, stub 200 ms, median of {a.repeats}")
    for legacy in (False, True):
        patterns.report(patterns.measure(0.2, a.repeats, legacy), "legacy" if legacy else "crew")
    print("== repository knowledge: run 2 with run 1's notes, and without")
    knowledge.report(knowledge.measure())
    print(f"== peers side by side: same workloads and texts, fresh process, median of {a.repeats}")
    peers.report(peers.measure(0.2, a.repeats))


if __name__ == "__main__":
    main()
