"""Budgets where the user sets them: `budget:` on a pinned task, a task template and a role
(YAML, validated), a USD limit over a model without a price (refused at `crew validate` and
`crew run`, exit 2, nothing created), `--task-budget`/`--role-budget` values, and the run's
minutes counted from its start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from crew.errors import BudgetExceeded, UserError
from crew.llm import Budget, CallContext, Ledger, Limits
from crew.run.budgets import parse_scope_budget
from crew.testing import StubServer
from shared_helpers import CliResult, committed_repo, crew_in_process, git


def crew(*args: str, cwd: Path) -> CliResult:
    return crew_in_process(*args, cwd=cwd)


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    """A reachable local model server (validate refuses an unreachable api_base)."""
    with StubServer() as s:
        yield s


def _feature(root: Path, *, budget: dict[str, float], price: bool = False,
             task_budget: dict[str, float] | None = None, url: str) -> Path:
    committed_repo(root / "project", {"app.py": "x = 1\n"})
    params: dict[str, object] = {"model": "openai/my-local", "api_base": url,
                                 "api_key": "sk-stub-not-a-key"}
    if price:
        params.update(input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    (root / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": params} for a in ("smart", "fast")]}))
    task: dict[str, object] = {"id": "one", "title": "Do it", "roles": ["coder"],
                               "pattern": "single"}
    if task_budget:
        task["budget"] = task_budget
    (root / "feature.yaml").write_text(yaml.safe_dump({
        "title": "T", "goal": "G", "repo": "project", "models": "models.yaml",
        "budget": budget, "tasks": [task]}))
    return root / "feature.yaml"


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_usd_budget_over_an_unpriced_model_is_refused(tmp_path: Path, command: str,
                                                        server: StubServer) -> None:
    feature = _feature(tmp_path, budget={"tokens": 10_000}, task_budget={"usd": 0.5},
                       url=server.url)
    args = [command, str(feature)] + (["--sandbox", "local", "--no-trace"]
                                      if command == "run" else [])
    res = crew(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "openai/my-local" in res.stderr and "no known price" in res.stderr
    assert "input_cost_per_token" in res.stderr and "tokens" in res.stderr
    assert "models.yaml" in res.stderr and "Traceback" not in res.stderr
    project = tmp_path / "project"
    assert not (project / ".crew" / "runs").exists() or not any(
        (project / ".crew" / "runs").iterdir())
    assert git(project, "branch", "--list", "crew/*") == ""


def test_a_priced_model_or_a_token_budget_validates(tmp_path: Path, server: StubServer) -> None:
    feature = _feature(tmp_path / "a", budget={"usd": 1}, price=True, task_budget={"usd": 0.1},
                       url=server.url)
    assert crew("validate", str(feature), cwd=tmp_path).returncode == 0
    feature = _feature(tmp_path / "b", budget={"tokens": 1000}, task_budget={"tokens": 100},
                       url=server.url)
    res = crew("validate", str(feature), cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_a_role_budget_takes_usd_and_tokens_not_minutes(tmp_path: Path,
                                                       server: StubServer) -> None:
    feature = _feature(tmp_path, budget={"tokens": 1000}, url=server.url)
    roles = tmp_path / "roles"
    roles.mkdir()
    role = {"title": "Coder", "goal": "g", "instructions": "i", "budget": {"minutes": 3}}
    (roles / "coder.yaml").write_text(yaml.safe_dump(role))
    res = crew("validate", str(feature), cwd=tmp_path)
    assert res.returncode == 2 and "budget.minutes" in res.stderr, res.stderr
    role["budget"] = {"tokens": 3000}
    (roles / "coder.yaml").write_text(yaml.safe_dump(role))
    res = crew("validate", str(feature), cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_flag_values_name_a_known_scope_and_kind() -> None:
    assert parse_scope_budget("--task-budget", "one:usd=0.5,minutes=3", ["one"]) == (
        "task:one", {"usd": 0.5, "minutes": 3.0})
    assert parse_scope_budget("--role-budget", "coder:tokens=2000", ["coder"]) == (
        "role:coder", {"tokens": 2000})
    for flag, value, match in (("--task-budget", "one", "NAME:KIND=VALUE"),
                               ("--task-budget", "onee:usd=1", "did you mean 'one'"),
                               ("--role-budget", "coder:minutes=3", "usd, tokens"),
                               ("--task-budget", "one:usd=-1", "positive")):
        with pytest.raises(UserError, match=match):
            parse_scope_budget(flag, value, ["one", "coder"] if "role" in flag else ["one"])


def test_run_minutes_count_from_the_run_s_start_not_crew_s_start_up() -> None:
    now = [0.0]
    budget = Budget(Limits(minutes=1), clock=lambda: now[0])  # built by the checks
    now[0] = 50.0  # imports, sandbox, workspace ...
    budget.start()  # the runner begins
    now[0] = 100.0
    budget.check_before(Ledger(), CallContext())  # 50 s of the run, not 100
    assert budget.elapsed_s() == pytest.approx(50)
    now[0] = 111.0
    with pytest.raises(BudgetExceeded):
        budget.check_before(Ledger(), CallContext())


def test_task_template_budgets_reach_planned_tasks_and_overrides_win(tmp_path: Path) -> None:
    from crew.run.budgets import scoped_limits
    from crew.run.state import PlannedTask
    from crew.spec.library import builtin_library_dir
    from crew.spec.resolve import resolve_feature

    feature = _feature(tmp_path, budget={"usd": 1}, price=True, task_budget={"tokens": 500},
                       url="http://127.0.0.1:9/v1")  # resolved only: never called
    template = yaml.safe_load((builtin_library_dir() / "tasks" / "implement.yaml").read_text())
    template["budget"] = {"usd": 0.2, "minutes": 5}
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "implement.yaml").write_text(yaml.safe_dump(template))
    resolved = resolve_feature(feature)
    planned = [PlannedTask(id="x", title="X", template="implement", pattern="review_loop"),
               PlannedTask(id="y", title="Y", pattern="single")]
    per_task, per_role = scoped_limits(resolved, planned,
                                       {"task:x": {"usd": 0.5}, "role:coder": {"tokens": 9}})
    assert per_task["one"] == Limits(tokens=500)  # the pinned task's own
    assert per_task["x"] == Limits(usd=0.5, minutes=5)  # template's, usd raised on resume
    assert "y" not in per_task
    assert per_role == {"coder": Limits(tokens=9)}
