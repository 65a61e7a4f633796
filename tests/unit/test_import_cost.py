"""`import crew`, `crew --help` and `crew validate` must not load heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("litellm", "langfuse", "opentelemetry", "docker", "crewai", "autogen_agentchat", "git")
CRUD = Path(__file__).parents[2] / "crews" / "software-team.yaml"

PROBE = """
import json, sys
sys.argv = ["crew", *json.loads(sys.argv[1])]
try:
    from crew.cli.app import main
    main()
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
sys.stderr.write("HEAVY=" + json.dumps(heavy))
"""


def loaded_after(args: list[str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(args)],
                          capture_output=True, text=True, timeout=60)
    marker = proc.stderr.rsplit("HEAVY=", 1)
    assert len(marker) == 2, proc.stderr
    return list(json.loads(marker[1]))


def test_import_crew_is_light() -> None:
    code = f"import sys, crew; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("args", [["--help"], ["validate", str(CRUD)], ["roles"],
                                  ["schema", "feature"]])
def test_cli_commands_are_light(args: list[str]) -> None:
    assert loaded_after(args) == []
