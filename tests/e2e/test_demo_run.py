"""The offline demo, end to end, as a user runs it: `crew run` in a subprocess on a real git
repo, with the replay model through the real Router and the gate in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_helpers import DEMO_TASKS, crew, crew_env, git, only_run, state_of, task_commits

from shared_helpers import crew_in_process


def test_demo_run_builds_the_feature_on_a_branch(demo: Path) -> None:
    repo = demo.parent / "project"
    main_before = git(repo, "rev-parse", "main")
    readme_before = (repo / "README.md").read_text()

    res = crew("run", str(demo), "--no-trace")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run_dir = only_run(repo)
    state = state_of(run_dir)
    assert state["status"] == "passed"
    branch = state["branch"]
    assert branch.startswith("crew/add-csv-export-to-the-todo-cli-")

    # every task done; the plan kept the pinned debate and added the planned tasks
    plan = json.loads((run_dir / "plan.json").read_text())["tasks"]
    assert [t["id"] for t in plan] == list(DEMO_TASKS)
    assert [t["pattern"] for t in plan] == ["debate", "supervisor_worker", "review_loop"]
    assert all(state["tasks"][t]["status"] == "done" for t in DEMO_TASKS)

    # one commit per unit of work, none twice; the feature's code is on the branch
    commits = task_commits(repo, branch)
    assert sorted(commits) == sorted(set(commits))
    assert set(commits) == {"export-csv-s1", "export-csv-s2", "docs"}
    assert "def export_csv" in git(repo, "show", f"{branch}:todo.py")
    assert "export --format csv" in git(repo, "show", f"{branch}:README.md")

    # the gate ran in the sandbox and passed
    assert [(g["name"], g["passed"]) for g in state["gates"]] == [("unit tests", True)]

    # the report is written and printed: tasks, gate, cost, branch and how to merge
    report = (run_dir / "report.md").read_text()
    for text in (*DEMO_TASKS, "supervisor_worker", "unit tests", branch, "git merge"):
        assert text in report
    assert branch in res.stdout

    # what the run learned (the replay's distil answer) is kept for the next run, outside git
    notes = (repo / ".crew" / "knowledge.md").read_text()
    assert f"runs the tests (no pytest needed) [run {state['run_id']}]" in notes
    assert "## Knowledge" in report and "CLI errors exit 2" in report
    shown = crew("knowledge", "show", "--repo", str(repo))
    assert shown.returncode == 0 and "CLI errors exit 2" in shown.stdout

    # the user's branch, index and working tree are untouched
    assert git(repo, "rev-parse", "main") == main_before
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "README.md").read_text() == readme_before

    # `crew runs` lists it
    runs = crew("runs", "--repo", str(repo), "--json")
    row = json.loads(runs.stdout.splitlines()[0])
    assert row["run_id"] == state["run_id"] and row["status"] == "passed"


def test_json_mode_prints_only_json(demo: Path) -> None:
    res = crew("run", str(demo), "--no-trace", "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines[-1]["type"] == "crew.result" and lines[-1]["status"] == "passed"
    types = {x["type"] for x in lines}
    assert {"task.start", "generation.end", "tool.end"} <= types


def test_plan_only_then_resume_runs_the_saved_plan(demo: Path) -> None:
    repo = demo.parent / "project"
    res = crew("plan", str(demo))
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = only_run(repo)
    assert state_of(run_dir)["status"] == "planning"
    assert "export-csv" in res.stdout + res.stderr
    res = crew("resume", run_dir.name, "--repo", str(repo), "--no-trace")
    assert res.returncode == 0, res.stderr[-3000:]
    assert state_of(run_dir)["status"] == "passed"


def test_approve_plan_no_stops_and_yes_runs(demo: Path) -> None:
    repo = demo.parent / "project"
    base = ["run", str(demo), "--no-trace", "--approve-plan"]
    no = crew_in_process(*base, input="n\n", env=crew_env())
    assert no.returncode == 5 and "Run this plan?" in no.stdout + no.stderr
    run_dir = only_run(repo)
    assert state_of(run_dir)["status"] == "rejected"
    assert git(repo, "log", "--format=%H", state_of(run_dir)["branch"], "^main") == ""
    yes = crew_in_process(*base, input="y\n", env=crew_env())
    assert yes.returncode == 0, yes.stdout[-3000:] + yes.stderr[-3000:]


def test_crew_demo_makes_the_project_and_runs_it(tmp_path: Path) -> None:
    """The README's first command ends in `crew demo DIR`: a fresh repo, the run, passed."""
    dest = tmp_path / "crew-demo"
    res = crew("demo", str(dest), "--no-trace", "--json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    result = json.loads(res.stdout.splitlines()[-1])
    assert result["type"] == "crew.result" and result["status"] == "passed"
    repo = dest / "project"
    assert git(repo, "log", "--format=%s", "main").strip() == "todo: the sample project"
    assert "def export_csv" in git(repo, "show", f"{result['branch']}:todo.py")
    again = crew("demo", str(dest))  # passed already: refused, a new folder suggested
    assert again.returncode == 2 and "already passed" in again.stderr
    assert f"crew demo {dest}-2" in again.stderr
    assert "Traceback" not in again.stderr
