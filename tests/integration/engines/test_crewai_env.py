"""The crewai engine's import leaves the process environment as it was (no CrewAI test mode,
no process-wide switches), with CrewAI's telemetry off and its first-run trace upload and
stdin prompt disarmed, unless the user turned them on (issue 25: test-only switches out of
production code)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("crewai") is None,
                                 reason="the crewai extra is not installed"),
              pytest.mark.slow]  # imports crewai in a child (~3 s)

SRC = Path(__file__).resolve().parents[3] / "src"
PROBE = """
import json, os
from crew.interop.crewai_adapters import load_crewai
before = dict(os.environ)
load_crewai()
from crewai.telemetry.telemetry import Telemetry
from crewai.events.listeners.tracing.trace_listener import TraceCollectionListener
from crewai.events.listeners.tracing.utils import should_enable_tracing
print(json.dumps({
    "env_changed": sorted(k for k in set(before) | set(os.environ)
                          if k.startswith(("CREWAI_", "OTEL_"))  # (libraries set others)
                          and before.get(k) != os.environ.get(k)),
    "telemetry_ready": Telemetry().ready,
    "first_run_armed": TraceCollectionListener._instance.first_time_handler.is_first_time,
    "cloud_tracing": should_enable_tracing(),
}))
"""


def _probe(home: Path, **env: str) -> dict[str, object]:
    child = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "XDG_"))}
    child.update(HOME=str(home), PYTHONPATH=str(SRC), **env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=child, capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_first_run_imports_crewai_quietly_without_touching_the_environment(
        tmp_path: Path) -> None:
    home = tmp_path / "home"  # a fresh HOME: CrewAI's first run, when it would ask and upload
    home.mkdir()
    got = _probe(home)
    assert got == {"env_changed": [], "telemetry_ready": False, "first_run_armed": False,
                   "cloud_tracing": False}
