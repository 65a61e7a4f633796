"""A run that exhausts its budget stops cleanly (exit 3, resumable); `crew resume` with more
budget completes it without redoing finished work."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from e2e_helpers import crew, only_run, state_of, task_commits, task_starts


def _priced(feature: Path) -> None:
    """Give the replay deployments a price, so the run spends dollars, and a maximum output
    (each call reserves its worst case: without one crew would send and reserve 4096)."""
    models = feature.parent / "models.yaml"
    cfg = yaml.safe_load(models.read_text())
    for dep in cfg["model_list"]:
        dep["litellm_params"].update(input_cost_per_token=1e-5, output_cost_per_token=3e-5)
        dep["model_info"] = {"max_output_tokens": 400}
    models.write_text(yaml.safe_dump(cfg))


def test_budget_stop_then_resume_with_more(demo: Path) -> None:
    _priced(demo)
    repo = demo.parent / "project"
    res = crew("run", str(demo), "--no-trace", "--budget-usd", "0.04")
    assert res.returncode == 3, res.stdout[-3000:] + res.stderr[-3000:]
    run_dir = only_run(repo)
    stopped = state_of(run_dir)
    assert stopped["status"] == "budget"
    # said once: "budget exhausted (resumable): run budget would cross …", not
    # "…(resumable): stopped by the budget: run budget would cross …"
    assert "stopped by the budget" not in res.stdout + res.stderr
    assert "would cross" in res.stdout + res.stderr
    assert "ledger" not in stopped  # an append-only file of its own
    costs = [json.loads(x)["cost_usd"] for x in (run_dir / "ledger.jsonl").read_text().splitlines()]
    assert stopped["spent"]["calls"] == len(costs)
    # each call reserved its worst case first: the limit is never crossed (10%: the prompt
    # estimate's error)
    assert 0 < sum(costs) <= 0.04 * 1.1
    assert "crew resume" in (run_dir / "report.md").read_text()
    done_before = {t for t, s in stopped["tasks"].items() if s["status"] == "done"}

    res = crew("resume", run_dir.name, "--repo", str(repo), "--no-trace", "--budget-usd", "1")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    after = state_of(run_dir)
    assert after["status"] == "passed" and after["budget_usd"] == 1.0
    starts = task_starts(run_dir)
    assert all(starts[t] == 1 for t in done_before)
    commits = task_commits(repo, after["branch"])
    assert sorted(commits) == sorted(set(commits))
    assert set(commits) == {"export-csv-s1", "export-csv-s2", "docs"}
