"""The real-repository suite (examples/eval-real) end to end, offline: each case's replay of
upstream's change, made through crew's own tools, passes the hidden upstream tests; the wrong
patch fails them and the results name the failed tests. The SWE-bench importer's shipped
sample becomes a suite whose checks run: the gold patch passes, no change fails."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from e2e_helpers import crew

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "examples" / "eval-real"
SAMPLE = ROOT / "examples" / "swebench-sample"


def _sandbox() -> str:
    """bwrap where it is installed: the cases' checks run the host's python (with pytest) and
    node, which the sandbox shows read-only at their paths (the project's environment, issue
    24); else the local backend (the replays are ours)."""
    return "bwrap" if shutil.which("bwrap") else "local"


def _eval(suite: Path) -> dict:
    res = crew("eval", str(suite), "--json", "--no-trace", "--sandbox", _sandbox())
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, res.stdout[-3000:] + res.stderr[-3000:]  # one JSON object
    (line,) = lines
    return json.loads(line)


def _base_name(test: str) -> str:
    """`tests/x.py::Class::test_y[p]` -> test_y; a TAP name stays as it is."""
    return re.sub(r"\[.*\]$", "", test.split("::")[-1])


@pytest.mark.slow
def test_real_suite_replays_pass_and_wrong_patches_fail_naming_tests(tmp_path: Path) -> None:
    suite_dir = tmp_path / "eval-real"
    shutil.copytree(REAL, suite_dir)
    spec = yaml.safe_load((suite_dir / "suite.yaml").read_text())
    cases = [c["id"] for c in spec["cases"]]
    assert len(cases) >= 8
    out = _eval(suite_dir / "suite.yaml")
    got = {(r["case"], r["variant"]): r for r in out["results"]}
    assert set(got) == {(c, v) for c in cases for v in ("replay", "wrong")}
    rates = {v["id"]: v["pass_rate"] for v in out["variants"]}
    assert rates == {"replay": 1.0, "wrong": 0.0}
    for case in cases:
        good, bad = got[(case, "replay")], got[(case, "wrong")]
        assert (good["passed"], good["status"], good["failed_tests"]) == (True, "passed", []), \
            good
        assert (bad["passed"], bad["status"]) == (False, "failed"), bad
        hidden = "".join(p.read_text() for p in (suite_dir / "cases" / case / "hidden")
                         .rglob("*") if p.is_file())
        assert bad["failed_tests"], f"{case}: the wrong patch's report names no failed test"
        for name in bad["failed_tests"]:  # upstream's tests of the change, by name
            assert _base_name(name) in hidden, (case, name)
    eval_dir = suite_dir / ".crew-eval" / out["eval_id"]
    state = json.loads((eval_dir / "eval.json").read_text())
    for key, r in state["results"].items():
        checks = {c["name"]: c for c in r["checks"]}
        assert set(checks) == {"fail-to-pass", "pass-to-pass"}
        # the wrong patches miss the change but keep the rest of the suite green
        assert checks["pass-to-pass"]["passed"], (key, checks["pass-to-pass"]["output"])
        # upstream's tests never reached the crew's branch
        repo = eval_dir / "work" / key
        branch = r["run_id"] and json.loads(
            (repo / ".crew" / "runs" / r["run_id"] / "state.json").read_text())["branch"]
        tree = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", branch],
                              capture_output=True, text=True, check=True).stdout.split()
        assert not any(p.startswith("hidden/") for p in tree)


@pytest.mark.slow
def test_swebench_sample_imports_and_its_checks_run(tmp_path: Path) -> None:
    suite_dir = tmp_path / "sample-suite"
    res = crew("import", "swebench", str(SAMPLE / "instances.jsonl"), "--clones",
               str(SAMPLE / "clones"), "-o", str(suite_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"crew eval {suite_dir / 'suite.yaml'}" in res.stdout
    out = _eval(suite_dir / "suite.yaml")
    got = {(r["case"], r["variant"]): r for r in out["results"]}
    rows = [json.loads(x) for x in (SAMPLE / "instances.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and len(got) == 6
    for row in rows:
        cid = row["instance_id"]
        assert got[(cid, "gold")]["passed"], got[(cid, "gold")]
        assert not got[(cid, "no-change")]["passed"]
        # the fail-to-pass tests ran and failed without the fix, named as SWE-bench names them
        assert got[(cid, "no-change")]["failed_tests"] == json.loads(row["FAIL_TO_PASS"])
