"""A library user's process leaves quickly after its work: once crew has loaded litellm, an exit
handler freezes the heap, so the interpreter's final collections skip litellm's objects (the
time it saves is measured in benchmarks/peers.py, never asserted here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import atexit, gc, sys
atexit.register(lambda: sys.stdout.write(f"frozen={gc.get_freeze_count()}\\n"))  # runs last
from crew.llm._litellm import load_litellm
load_litellm()
print("loaded")
"""


@pytest.mark.slow
def test_the_heap_is_frozen_at_exit_once_litellm_is_loaded() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out[0] == "loaded"
    assert int(out[1].removeprefix("frozen=")) > 10_000  # litellm's objects, not a handful


def test_without_litellm_nothing_is_frozen() -> None:
    script = SCRIPT.replace("from crew.llm._litellm import load_litellm\nload_litellm()\n", "")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["loaded", "frozen=0"]
