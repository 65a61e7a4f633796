"""`budget:` on a pinned task and on a role (YAML) stops the run when crossed (exit 3, the
report names the limit), and `crew resume --task-budget/--role-budget` raises exactly that
limit and finishes the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from e2e_helpers import ROLE_FILES, crew, only_run, state_of


def _priced(feature: Path) -> None:
    models = feature.parent / "models.yaml"
    cfg = yaml.safe_load(models.read_text())
    for dep in cfg["model_list"]:
        dep["litellm_params"].update(input_cost_per_token=1e-6, output_cost_per_token=2e-6)
        dep["model_info"] = {"max_output_tokens": 500}
    models.write_text(yaml.safe_dump(cfg))


def _resume_command(out: str) -> list[str]:
    line = next(x for x in out.splitlines() if x.strip().startswith("crew resume "))
    return line.split()[1:]


def test_a_task_budget_stops_the_run_and_resume_raises_it(demo: Path) -> None:
    _priced(demo)
    feature = yaml.safe_load(demo.read_text())
    feature["budget"] = {"usd": 5}
    feature["tasks"][0]["budget"] = {"usd": 0.0015}  # threat-model, a debate of several calls
    demo.write_text(yaml.safe_dump(feature))
    repo = demo.parent / "project"
    res = crew("run", str(demo), "--no-trace")
    out = res.stdout + res.stderr
    assert res.returncode == 3, out[-3000:]
    run_dir = only_run(repo)
    state = state_of(run_dir)
    assert (state["status"], state["budget_scope"], state["budget_kind"]) == (
        "budget", "task:threat-model", "usd")
    report = (run_dir / "report.md").read_text()
    assert "| task `threat-model` |" in report and "stopped the run" in report
    args = _resume_command(report)
    assert args[:2] == ["resume", run_dir.name] and args[2] == "--task-budget", args
    assert args[3].startswith("threat-model:usd=")
    assert _resume_command(out) == args  # the terminal says the same
    res = crew(*args, "--repo", str(repo), "--no-trace")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    done = state_of(run_dir)
    assert done["status"] == "passed"
    assert done["budget_overrides"]["task:threat-model"]["usd"] > 0.0015


def test_a_role_budget_stops_the_run_and_resume_raises_it(demo: Path) -> None:
    roles = demo.parent / "roles"
    roles.mkdir()
    shutil.copy(ROLE_FILES / "doc_writer.yaml", roles / "doc_writer.yaml")
    role = yaml.safe_load((roles / "doc_writer.yaml").read_text())
    role["budget"] = {"tokens": 300}
    (roles / "doc_writer.yaml").write_text(yaml.safe_dump(role))
    repo = demo.parent / "project"
    res = crew("run", str(demo), "--no-trace")
    assert res.returncode == 3, (res.stdout + res.stderr)[-3000:]
    run_dir = only_run(repo)
    state = state_of(run_dir)
    assert (state["budget_scope"], state["budget_kind"]) == ("role:doc_writer", "tokens")
    assert state["tasks"]["export-csv"]["status"] == "done"
    args = _resume_command((run_dir / "report.md").read_text())
    assert args[2] == "--role-budget" and args[3].startswith("doc_writer:tokens="), args
    assert int(args[3].split("=")[1]) == 2 * max(300, round(state["budget_needed"])) > 600
    bad = crew("resume", run_dir.name, "--repo", str(repo), "--role-budget", "doc_writr:tokens=9")
    assert bad.returncode == 2 and "did you mean 'doc_writer'" in bad.stderr, bad.stderr
    res = crew("resume", run_dir.name, "--repo", str(repo), "--no-trace",
               "--role-budget", "doc_writer:tokens=100000")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert state_of(run_dir)["status"] == "passed"
