"""The pieces of `crew eval` that need no run: the shared suite budget inside a run's Budget,
the Wilson interval, suite.yaml errors, the case repo and the variant's spec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from crew.errors import BudgetExceeded, UserError
from crew.eval.results import eval_json, wilson
from crew.eval.suite import load_suite
from crew.eval.workdir import make_repo, write_spec
from crew.llm.budget import Budget, Limits, SharedBudget
from crew.llm.ledger import Ledger, LedgerEntry
from crew.llm.types import CallContext

CTX = CallContext(run_id="r", task_id="t", role="coder")


def _call(ledger: Ledger, usd: float, tokens: int = 100) -> None:
    ledger.record(LedgerEntry(alias="smart", deployment="m", prompt_tokens=tokens,
                              completion_tokens=0, cost_usd=usd, latency_s=0.0, task_id="t"))


def test_runs_share_the_suite_budget_and_its_stop_latches() -> None:
    pool = SharedBudget(usd=1.0)
    a, b = Budget(Limits(), shared=pool), Budget(Limits(usd=5.0), shared=pool)
    la, lb = Ledger(), Ledger()
    held_a = a.reserve(la, CTX, est_tokens=10, est_usd=0.4)
    held_b = b.reserve(lb, CTX, est_tokens=10, est_usd=0.4)
    with pytest.raises(BudgetExceeded) as e:  # 0.8 held by the two runs' calls in flight
        a.reserve(la, CTX, est_tokens=10, est_usd=0.3)
    assert e.value.scope == "suite" and "suite budget" in str(e.value)
    with pytest.raises(BudgetExceeded):  # latched: even a small call is refused now
        b.reserve(lb, CTX, est_tokens=1, est_usd=0.001)
    _call(la, 0.25)
    a.check_after(la, CTX)
    a.release(held_a)
    b.release(held_b)
    assert pool.snapshot()["spent_usd"] == pytest.approx(0.25)


def test_shared_spending_counts_only_new_calls_of_a_resumed_run() -> None:
    pool = SharedBudget(usd=1.0, spent_usd=0.5)  # the eval counted the run's earlier 0.5
    ledger = Ledger()
    _call(ledger, 0.5)  # restored from ledger.jsonl
    budget = Budget(Limits(), shared=pool)
    budget.release(budget.reserve(ledger, CTX, est_tokens=1, est_usd=0.1))
    _call(ledger, 0.2)
    budget.check_after(ledger, CTX)
    assert pool.snapshot()["spent_usd"] == pytest.approx(0.7)
    pool.stop("interrupted")
    with pytest.raises(BudgetExceeded, match="suite stopped: interrupted"):
        budget.reserve(ledger, CTX, est_tokens=1, est_usd=0.0)


def test_wilson_interval_and_json_shape() -> None:
    low, high = wilson(2, 3)
    assert low == pytest.approx(0.2077, abs=1e-3) and high == pytest.approx(0.9385, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0) and wilson(5, 5)[1] == 1.0
    out = eval_json("e1", ["a"], [{"case": "c", "variant": "a", "repeat": 1, "passed": True,
                                   "status": "passed", "usd": 0.5, "tokens": 10, "calls": 2,
                                   "wall_s": 1.0, "run_id": "r1", "checks": []}])
    assert set(out) == {"eval_id", "variants", "results"}
    assert set(out["variants"][0]) >= {"id", "pass_rate", "usd", "tokens", "calls", "wall_s"}
    assert set(out["results"][0]) == {"case", "variant", "repeat", "passed", "status", "usd",
                                      "tokens", "calls", "wall_s", "run_id",
                                      "failed_tests"}


def _suite(tmp_path: Path, text: str) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "f.yaml").write_text("title: t\ngoal: g\nmodels: m.yaml\n")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "replay/x", "replay_script": "r.yaml"}}
        for a in ("smart", "fast")]}))
    p = tmp_path / "suite.yaml"
    p.write_text(text)
    return p


def test_suite_errors_name_file_line_and_field(tmp_path: Path) -> None:
    p = _suite(tmp_path, "cases:\n  - id: a\n    repo: proj\n    feature: f.yaml\n"
                         "    checks: [make test]\n    hiden: h\nvariants:\n  - {id: v}\n"
                         "  - {id: v, models: nope.yaml}\n")
    with pytest.raises(UserError) as e:
        load_suite(p)
    text = "\n".join(x.render() for x in e.value.problems)
    assert "suite.yaml:6" in text and "did you mean 'hidden'" in text
    p.write_text("cases:\n  - id: a\n    repo: proj\n    feature: f.yaml\n    checks: [make test]\n"
                 "variants:\n  - {id: v}\n  - {id: v, models: nope.yaml}\n")
    with pytest.raises(UserError) as e:
        load_suite(p, check_features=False)
    text = "\n".join(x.render() for x in e.value.problems)
    assert "suite.yaml:8" in text and "duplicate id 'v'" in text and "nope.yaml" in text
    p.write_text("cases:\n  - id: a\n    repo: proj\n    feature: f.yaml\n    checks: [make test]\n"
                 "variants:\n  - {id: v}\n")
    with pytest.raises(UserError) as e:
        load_suite(p, ["w"], check_features=False)
    assert "unknown variant 'w'" in e.value.problems[0].render()


def test_case_repo_leaves_hidden_out_and_spec_sets_the_default_pattern(tmp_path: Path) -> None:
    src = tmp_path / "case"
    (src / "hidden").mkdir(parents=True)
    (src / "hidden" / "t.py").write_text("secret test")
    (src / "a.py").write_text("x = 1\n")
    make_repo(src, tmp_path / "work", src / "hidden")
    files = subprocess.run(["git", "-C", str(tmp_path / "work"), "ls-files"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert files == ["a.py"] and not (tmp_path / "work" / "hidden").exists()
    (src / "feature.yaml").write_text("title: t\ngoal: g\nmodels: m.yaml\n")
    spec = write_spec(src / "feature.yaml", tmp_path / "spec", crew=None, pattern="single",
                      models=None)
    data = yaml.safe_load(spec.read_text())
    crew = yaml.safe_load((spec.parent / data["crew"]).read_text())
    assert crew["defaults"]["pattern"] == "single" and crew["name"] == "software-team"
    assert Path(data["models"]) == (src / "m.yaml").resolve()


def test_a_suite_token_limit_stop_names_the_token_limit_and_spend() -> None:
    pool = SharedBudget(usd=10.0, tokens=1_000, spent_tokens=900)
    budget = Budget(Limits(), shared=pool)
    with pytest.raises(BudgetExceeded) as e:
        budget.reserve(Ledger(), CTX, est_tokens=200, est_usd=0.01)
    assert e.value.kind == "tokens" and "tokens limit" in str(e.value)
    assert (e.value.limit, e.value.spent) == (1_000, 900)
