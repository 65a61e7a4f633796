"""Every command crew prints works where it is printed: the demo run from a directory outside
the repository stops on its token budget, and the printed `crew resume … --budget-tokens N`,
`crew show` and `crew clean` commands, run from that same directory, work. The resume runs
the feature as frozen at the start (an edit of the original since is ignored)."""

from __future__ import annotations

import re
from pathlib import Path

from e2e_helpers import crew, git, only_run, state_of

UNIT_TESTS = "python3 -m unittest discover -s tests -q"


def printed(text: str, command: str) -> list[str]:
    """The `crew <command> …` commands printed (between backticks) in `text`."""
    return [m.split() for m in re.findall(rf"`(crew {command} [^`]+)`", text)]


def test_printed_commands_work_from_where_they_were_printed(demo: Path, tmp_path: Path
                                                            ) -> None:
    repo = demo.parent / "project"
    cwd = tmp_path / "elsewhere"  # not inside any repository
    cwd.mkdir()
    res = crew("run", str(demo), "--no-trace", "--budget-tokens", "6500", cwd=cwd)
    assert res.returncode == 3, res.stdout[-3000:] + res.stderr[-3000:]
    run_dir = only_run(repo)
    stopped = state_of(run_dir)
    assert stopped["status"] == "budget" and "tokens limit" in stopped["stop_reason"]
    assert stopped["budget_kind"] == "tokens"  # recorded from the exception, not its text
    # the stop names the flag of the limit that was hit, with a higher value
    [resume] = printed(res.stdout, "resume")
    assert resume[:3] == ["crew", "resume", run_dir.name] and resume[3] == "--budget-tokens"
    # twice the larger of the limit and what the refused call needed (its worst case included)
    assert int(resume[4]) == 2 * max(6500, round(stopped["budget_needed"])) > 13000
    assert "--budget-usd" not in res.stdout
    assert " ".join(resume) in (run_dir / "report.md").read_text()
    # the original feature changes after the start: the resume must not see it
    original = demo.read_text()
    demo.write_text(original.replace(UNIT_TESTS, "python3 -c 'raise SystemExit(3)'"))
    assert UNIT_TESTS not in demo.read_text()

    res = crew(*resume[1:], "--no-trace", cwd=cwd)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    after = state_of(run_dir)
    assert after["status"] == "passed" and after["budget_tokens"] == int(resume[4])
    assert after["budget_kind"] is None
    assert [g["command"] for g in after["gates"]] == [UNIT_TESTS]  # the frozen feature's
    assert (run_dir / "feature.yaml").read_text() == original

    # the view's last line says what the summary says: counts, cost, tokens, calls, time
    footer = next(x for x in res.stdout.splitlines() if x.startswith("tasks: ") and " of " in x)
    summary_tasks = next(x for x in res.stdout.splitlines() if x.startswith("tasks: ")
                         and " of " not in x)
    summary_cost = next(x for x in res.stdout.splitlines() if x.startswith("cost $"))
    assert footer == summary_tasks.split(" · ")[0] + " of 3 · " + summary_cost

    # a finished run keeps its branch and nothing else
    branch = after["branch"]
    assert git(repo, "branch", "--list", "crew/*").split() == [branch]
    assert "crew/" not in git(repo, "worktree", "list")
    assert "removed 4 worktrees" in res.stdout

    [show] = printed(res.stdout, "show")
    shown = crew(*show[1:], cwd=cwd)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "export-csv" in shown.stdout

    [clean] = [m.split() for m in re.findall(r"^crew clean \S+$", (run_dir / "report.md")
                                             .read_text(), re.MULTILINE)]  # a code block
    cleaned = crew(*clean[1:], cwd=cwd)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert f"removed run directory {run_dir}" in cleaned.stdout
    assert f"kept branch {branch}: not merged into your HEAD" in cleaned.stdout
    assert not run_dir.exists()
    assert git(repo, "branch", "--list", "crew/*").split() == [branch]


def test_a_failed_plan_only_run_does_not_say_the_plan_was_saved(tmp_path: Path) -> None:
    """`crew run --plan-only` whose planning failed printed "plan saved; run it with
    `crew resume ...`" beside the error: no plan existed."""
    from tool_project import run_crew

    from crew.cli.demo import make_demo

    feature = make_demo(tmp_path / "demo")
    (feature.parent / "replay.yaml").write_text("answers: []\n")  # no answer for the plan
    res = run_crew("run", str(feature), "--plan-only", "--sandbox", "local", "--no-trace")
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "ReplayMismatchError" in out, out
    assert "plan saved" not in out, out
