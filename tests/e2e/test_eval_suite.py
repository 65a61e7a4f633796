"""`crew eval` end to end against the stub OpenAI-compatible server (LiteLLM's real HTTP path):
per-variant pass rates, $, tokens and calls equal the runs' own ledgers; the hidden checks are
never in the crew's repo or answers; a suite budget stop exits 3 and `--resume` finishes it
without asking any model call twice."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from e2e_helpers import crew
from eval_suite import (
    CALL_USD,
    CASES,
    EXPECTED_PASS,
    VARIANTS,
    answers,
    enqueue_all,
    ledger_totals,
    make_suite,
    run_dirs,
)

from crew.testing import StubServer

SANDBOX = "bwrap" if shutil.which("bwrap") else "local"
ORDER = [(c, v) for c in CASES for v in VARIANTS]  # max_parallel 1: runs in suite order


def _eval(*args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    res = crew("eval", *args, "--json", "--no-trace", "--sandbox", SANDBOX)
    assert res.returncode in (0, 3), res.stdout[-3000:] + res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, res.stdout[-3000:]  # one JSON object and nothing else
    return res, json.loads(lines[0])


def _check_against_ledgers(out: dict, eval_dir: Path) -> None:
    runs = run_dirs(eval_dir)
    for r in out["results"]:
        usd, tokens, calls = ledger_totals(runs[f"{r['case']}--{r['variant']}--1"])
        assert r["run_id"] == runs[f"{r['case']}--{r['variant']}--1"].name
        assert (r["usd"], r["tokens"], r["calls"]) == (pytest.approx(usd), tokens, calls)
    for v in out["variants"]:
        mine = [runs[k] for k in runs if k.split("--")[1] == v["id"]]
        totals = [ledger_totals(d) for d in mine]
        assert v["usd"] == pytest.approx(sum(t[0] for t in totals), abs=1e-6)
        assert v["tokens"] == sum(t[1] for t in totals)
        assert v["calls"] == sum(t[2] for t in totals)


def test_suite_results_match_ledgers_and_hidden_stays_hidden(tmp_path: Path) -> None:
    with StubServer() as stub:
        suite = make_suite(tmp_path, stub_url=stub.url)
        enqueue_all(stub, ORDER)
        res, out = _eval(str(suite))
        assert res.returncode == 0
        assert stub.pending() == 0
        requests = list(stub.requests)
    eval_dir = tmp_path / ".crew-eval" / out["eval_id"]
    assert eval_dir.is_dir()
    got = {(r["case"], r["variant"]): r["passed"] for r in out["results"]}
    assert got == EXPECTED_PASS
    rates = {v["id"]: v["pass_rate"] for v in out["variants"]}
    assert rates == {"single": pytest.approx(2 / 3, abs=1e-3), "review": 1.0}
    calls = {v: sum(len(answers(c, v)) for c in CASES) for v in VARIANTS}
    assert {v["id"]: v["calls"] for v in out["variants"]} == calls
    assert {v["id"]: v["usd"] for v in out["variants"]} == {
        v: pytest.approx(n * CALL_USD) for v, n in calls.items()}
    _check_against_ledgers(out, eval_dir)
    # hidden/ was never in a case repo, a run's worktree or anything the model was sent
    for key, run in run_dirs(eval_dir).items():
        repo = eval_dir / "work" / key
        assert not (repo / "hidden").exists()
        tree = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only",
                               json.loads((run / "state.json").read_text())["branch"]],
                              capture_output=True, text=True, check=True).stdout
        assert "hidden" not in tree and "test_hidden" not in tree
        # ... but the checks ran on a clone of the branch with hidden/ copied in
        assert (repo.parent / f"{key}.checks" / "hidden" / "test_hidden.py").is_file()
    sent = json.dumps([r.body["messages"] for r in requests])
    assert "HiddenTest" not in sent and "test_hidden.py" in sent  # asked for, never shown
    peek = [r.body["messages"] for r in requests
            if any(m.get("role") == "tool" for m in r.body["messages"])
            and "hidden/test_hidden.py" in json.dumps(r.body["messages"])]
    assert peek, "the peek case's tool results reached the model"
    tool_out = [m["content"] for m in peek[0] if m.get("role") == "tool"]
    assert any("greet.py" in str(t) for t in tool_out)  # the listing of the repo
    assert not any("hidden/" in str(t).replace("hidden/test_hidden.py", "") for t in tool_out)


def test_suite_budget_stop_then_resume(tmp_path: Path) -> None:
    with StubServer() as stub:
        # about 2.5 runs' worth of calls: the stop falls inside a run
        suite = make_suite(tmp_path, stub_url=stub.url, budget_usd=CALL_USD * 9)
        enqueue_all(stub, ORDER)
        res, out = _eval(str(suite))
        assert res.returncode == 3, res.stderr[-2000:]
        assert f"--resume {out['eval_id']}" in res.stderr
        statuses = [r["status"] for r in out["results"]]
        assert "stopped" in statuses and len(out["results"]) < len(ORDER)
        spent = sum(r["usd"] for r in out["results"])
        # reserved before each call: only a call's output beyond its estimate may cross it
        assert spent <= CALL_USD * 9 + CALL_USD
        before = {r["case"] + r["variant"]: r for r in out["results"]
                  if r["status"] != "stopped"}
        res, out2 = _eval(str(suite), "--resume", out["eval_id"], "--budget-usd", "10")
        assert res.returncode == 0, res.stderr[-3000:]
        assert out2["eval_id"] == out["eval_id"]
        assert stub.pending() == 0  # every scripted answer served once: nothing asked twice
    assert {(r["case"], r["variant"]): r["passed"] for r in out2["results"]} == EXPECTED_PASS
    for r in out2["results"]:
        if r["case"] + r["variant"] in before:  # finished cases were kept, not re-run
            assert r == before[r["case"] + r["variant"]]
    _check_against_ledgers(out2, tmp_path / ".crew-eval" / out["eval_id"])
    assert sum(v["calls"] for v in out2["variants"]) == sum(
        len(answers(c, v)) for c, v in ORDER)


def test_bad_suite_is_exit_2_and_creates_nothing(tmp_path: Path) -> None:
    suite = make_suite(tmp_path, stub_url="http://127.0.0.1:9/v1")
    text = suite.read_text().replace("pattern: review_loop", "patern: review_loop")
    suite.write_text(text)
    res = crew("eval", str(suite), "--no-trace")
    assert res.returncode == 2
    assert "unknown field 'patern'" in res.stderr and "did you mean 'pattern'" in res.stderr
    assert "suite.yaml:" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / ".crew-eval").exists()
    res = crew("eval", str(suite.with_name("nope.yaml")), "--no-trace")
    assert res.returncode == 2 and not (tmp_path / ".crew-eval").exists()
