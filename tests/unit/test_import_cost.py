"""`import crew`, `crew --help` and `crew validate` must not load heavy libraries."""

from __future__ import annotations

import json
import re
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


def test_validate_of_a_feature_checks_its_router_without_litellm(tmp_path: Path) -> None:
    """`crew validate FEATURE` on `crew init`'s files: the router config is checked from
    litellm's installed files (crew.llm.offline_check), litellm is never imported; a
    variable the models file names, unset, is still reported at its line."""
    import os

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    env = {**os.environ, "OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-y"}
    subprocess.run([sys.executable, "-m", "crew", "init", str(tmp_path)], check=True,
                   capture_output=True, env=env)
    feature = str(tmp_path / "feature.yaml")
    probe = [sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(["validate", feature])]
    ok = subprocess.run(probe, capture_output=True, text=True, timeout=120, env=env,
                        cwd=tmp_path)
    assert "ok " in ok.stdout, ok.stderr
    assert "litellm" not in json.loads(ok.stderr.rsplit("HEAVY=", 1)[1])  # git: the repo check
    del env["OPENAI_API_KEY"]
    bad = subprocess.run(probe, capture_output=True, text=True, timeout=120, env=env,
                         cwd=tmp_path)
    assert re.search(r"models\.yaml:\d+:\d+: model_list\[1\]\.litellm_params\.api_key: "
                     r"environment variable OPENAI_API_KEY is not set", bad.stderr), bad.stderr
    assert "litellm" not in json.loads(bad.stderr.rsplit("HEAVY=", 1)[1])
