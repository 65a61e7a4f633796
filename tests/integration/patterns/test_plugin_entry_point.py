"""A pattern kind from a `crew.patterns` entry point: found by the registry, accepted by
`crew validate` in a feature that uses it, and run from that feature through the replay model.

The plugin (tests/plugins/crew_echo_pattern) is never installed into the venv: the test copies
it beside a hand-made *.dist-info and puts that folder on a subprocess's PYTHONPATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "crew_echo_pattern"

RUN = """
import asyncio, json, sys
from pathlib import Path
from crew.llm import LLM
from crew.patterns import context_for_task, default_registry
from crew.spec.resolve import resolve_feature

feature = Path(sys.argv[1])
resolved = resolve_feature(feature)
llm = LLM.from_file(feature.parent / "models.yaml")
template, ctx = context_for_task(resolved, "greet", llm, run_id="run1")
reg = default_registry()
res = asyncio.run(reg.run(template, ctx))
print(json.dumps({"kinds": reg.kinds(), "cls": reg.get("echo").__module__,
                  "result": res.model_dump(mode="json"),
                  "ledger": [[e.role, e.pattern, e.task_id] for e in llm.ledger.entries]}))
"""


def site_with_plugin(tmp: Path) -> Path:
    site = tmp / "site"
    shutil.copytree(PLUGIN, site / "crew_echo_pattern",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dist = site / "crew_echo_pattern-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crew-echo-pattern\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[crew.patterns]\necho = crew_echo_pattern:EchoPattern\n")
    return site


def project(tmp: Path) -> Path:
    d = tmp / "proj"
    for sub in ("patterns", "crews", "replay"):
        (d / sub).mkdir(parents=True)
    (d / "patterns" / "shout.yaml").write_text(textwrap.dedent("""\
        kind: echo
        description: Echo the one role's answer.
        params: {prefix: ECHO}
        termination: guard
        """))
    (d / "crews" / "echo-team.yaml").write_text(textwrap.dedent("""\
        supervisor: supervisor
        members: [coder]
        patterns: [shout]
        defaults: {pattern: shout}
        """))
    (d / "models.yaml").write_text(textwrap.dedent("""\
        model_list:
          - model_name: smart
            litellm_params: {model: replay/demo, replay_script: replay/script.yaml}
        """))
    (d / "replay" / "script.yaml").write_text(
        "answers:\n  - {role: coder, pattern: echo, task: greet, content: hello there}\n")
    (d / "feature.yaml").write_text(textwrap.dedent("""\
        title: Greet
        goal: Say hello.
        crew: crews/echo-team.yaml
        models: models.yaml
        tasks:
          - id: greet
            title: Say hello
            pattern: shout
            roles: [coder]
        """))
    return d / "feature.yaml"


def run(args: list[str], site: Path | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_entry_point_kind_validates_and_runs_from_a_feature(tmp_path: Path) -> None:
    site, feature = site_with_plugin(tmp_path), project(tmp_path)
    ok = run(["-m", "crew", "validate", "--spec-only", str(feature)], site, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "(feature)" in ok.stdout
    out = run(["-c", RUN, str(feature)], site, tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert "echo" in data["kinds"] and data["cls"] == "crew_echo_pattern"
    res = data["result"]
    assert res["kind"] == "echo" and res["outcome"] == "done"
    assert res["summary"] == "ECHO: hello there"  # the template's params reached the plugin
    assert data["ledger"] == [["coder", "echo", "greet"]]


def test_without_the_plugin_the_kind_is_unknown(tmp_path: Path) -> None:
    feature = project(tmp_path)
    bad = run(["-m", "crew", "validate", str(feature)], None, tmp_path)
    assert bad.returncode == 2
    assert "unknown pattern kind 'echo'" in bad.stdout + bad.stderr
