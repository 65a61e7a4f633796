"""`crew eval --ray` on a local Ray cluster this module starts (loopback, 2 CPUs): the same
suite gives the same per-case outcomes, costs and calls as the local run, with the replay
model; the suite budget is one actor, so a stop on Ray exits 3 too."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_suite import EXPECTED_PASS, make_suite

ray = pytest.importorskip("ray", reason="crew[ray] is not installed")

SANDBOX = "bwrap" if shutil.which("bwrap") else "local"
# one pytest-xdist worker runs both tests, so the module's Ray cluster starts once
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "90")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1",
                 runtime_env={"env_vars": {"LITELLM_LOCAL_MODEL_COST_MAP": "True",
                                           "LANGFUSE_TRACING_ENABLED": "false"}})
    except Exception:
        ray.shutdown()  # a failed start leaves Ray's helper processes behind otherwise
        raise
    try:
        yield
    finally:
        ray.shutdown()


def _outcomes(results: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(r["case"], r["variant"]): (r["passed"], r["status"], r["calls"], r["tokens"],
                                        round(r["usd"], 9)) for r in results}


def _run(suite: Path, **kw: Any) -> Any:
    from crew.eval.engine import EvalOptions, run_eval

    return run_eval(suite, EvalOptions(sandbox=SANDBOX, trace=False, **kw))


def test_ray_gives_the_local_outcomes(cluster: None, tmp_path: Path) -> None:
    local = _run(make_suite(tmp_path / "local"), max_parallel=2)
    on_ray = _run(make_suite(tmp_path / "ray"), max_parallel=2, ray=True)
    assert local.exit_code == on_ray.exit_code == 0
    assert {k: v[0] for k, v in _outcomes(local.results).items()} == EXPECTED_PASS
    assert _outcomes(on_ray.results) == _outcomes(local.results)
    # the workers wrote their runs where the driver made the case repos (the shared path)
    for r in on_ray.results:
        runs = on_ray.directory / "work" / f"{r['case']}--{r['variant']}--1" / ".crew" / "runs"
        assert (runs / r["run_id"] / "ledger.jsonl").is_file()


def test_ray_suite_budget_actor_stops_and_resume_finishes(cluster: None, tmp_path: Path) -> None:
    suite = make_suite(tmp_path, budget_usd=0.05)
    first = _run(suite, max_parallel=2, ray=True)
    assert first.exit_code == 3
    assert any(r["status"] == "stopped" for r in first.results)
    assert sum(r["usd"] for r in first.results) <= 0.05 + 2 * 0.013  # two calls in flight
    done = _run(suite, max_parallel=2, ray=True, resume=first.eval_id, budget_usd=10.0)
    assert done.exit_code == 0
    assert {k: v[0] for k, v in _outcomes(done.results).items()} == EXPECTED_PASS
