"""The run report (report.md) and the terminal summary, rendered from a checkpoint + ledger."""

from __future__ import annotations

import re

from crew.errors import BudgetKind
from crew.llm.ledger import Ledger, LedgerEntry
from crew.run.report import format_duration, render_report, render_summary
from crew.run.state import GateResult, PlannedTask, RunState

BRANCH = "crew/add-csv-export-r42"
BASE = "0123456789abcdef0123456789abcdef01234567"

PLAN = [
    PlannedTask(id="impl", title="Implement | export", pattern="review_loop",
                roles=["coder", "reviewer"]),
    PlannedTask(id="tests", title="Write tests", pattern="committee",
                roles=["tester", "reviewer"], depends_on=["impl"]),
]


def entry(task: str, prompt: int, completion: int, cost: float, role: str = "coder"
          ) -> LedgerEntry:
    return LedgerEntry(alias="smart", deployment="openai/gpt-4o", prompt_tokens=prompt,
                       completion_tokens=completion, cost_usd=cost, latency_s=0.1,
                       run_id="r42", task_id=task, role=role)


def ledger() -> Ledger:
    return Ledger([entry("impl", 100, 20, 0.0125), entry("impl", 200, 50, 0.003, "reviewer"),
                   entry("tests", 300, 30, 0.004), entry("", 40, 10, 0.001, "supervisor")])


def state(status: str = "passed", **kw: object) -> RunState:
    s = RunState(run_id="r42", feature_path="feature.yaml", feature_title="Add CSV export",
                 repo="/repo", branch=BRANCH, base=BASE, status=status,  # type: ignore[arg-type]
                 wall_s=125.4, sandbox_used="bwrap", **kw)  # type: ignore[arg-type]
    s.order = ["impl", "tests"]
    s.task("impl").status = "done"
    s.task("impl").outcome = "approved"
    s.task("impl").commit = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    s.task("tests").status = "done"
    s.task("tests").commit = "ffeeddccbbaa99887766554433221100ffeeddcc"
    return s


def table_rows(md: str, header_start: str) -> list[list[str]]:
    lines = md.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[i:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_passed_run_report_has_tasks_costs_gates_totals_and_merge() -> None:
    s = state(gates=[GateResult(name="pytest", command="pytest -q", exit_code=0, passed=True,
                                output="3 passed", duration_s=1.5)])
    s.task("impl").rounds = 2
    md = render_report(s, PLAN, ledger())
    assert md.startswith("# Add CSV export\n")
    assert "`r42`" in md and "passed" in md.splitlines()[3]
    rows = table_rows(md, "| Task |")
    header, body = rows[0], rows[2:]
    assert all(len(r) == len(header) == 9 for r in rows)  # the '|' in a title is escaped
    impl, tests, other = body
    assert impl == ["`impl`", "Implement \\| export", "review_loop", "coder, reviewer",
                    "done (approved)", "2", "`a1b2c3d4`", "0.0155", "370"]
    assert tests[2:] == ["committee", "tester, reviewer", "done", "", "`ffeeddcc`", "0.0040",
                         "330"]
    assert other[1] == "Planning and other calls" and other[7:] == ["0.0010", "50"]
    gate = table_rows(md, "| Gate |")[2]
    assert gate == ["pytest", "`pytest -q`", "1", "✅ passed", "0", "1.5s"]
    assert "<details>" not in md
    totals = table_rows(md, "| Cost (USD) |")[2]
    assert totals == ["0.0205", "750 (640 + 110)", "4", "2m 05s"]
    assert f"git merge --no-ff {BRANCH}" in md and "git log --oneline 01234567.." in md
    assert "cd /repo" in md and f"git branch -d {BRANCH}" in md  # runnable from anywhere
    assert "crew show r42" in md and "crew clean r42" in md
    assert "crew resume" not in md
    assert render_report(s, PLAN, ledger()) == md  # deterministic


def test_failed_gate_shows_exit_code_and_output_tail_in_details() -> None:
    output = "\n".join(f"line {n}" for n in range(100)) + "\n```\nE   assert 1 == 2\nFAILED"
    s = state("failed", stop_reason="1 gate failed after 2 fix rounds", fix_rounds=2, gates=[
        GateResult(name="pytest", command="pytest -q", exit_code=1, passed=False,
                   output=output, attempt=1),
        GateResult(name="pytest", command="pytest -q", exit_code=1, passed=False,
                   output="still FAILED", attempt=3)])
    md = render_report(s, PLAN, ledger())
    assert "❌ failed: 1 gate failed after 2 fix rounds" in md
    assert [r[2:5] for r in table_rows(md, "| Gate |")[2:]] == [
        ["1", "❌ failed", "1"], ["3", "❌ failed", "1"]]
    assert md.count("<details>") == 2 and "exit 1, last lines" in md
    block = md.split("<details>")[1].split("</details>")[0]
    assert "E   assert 1 == 2" in block and "line 99" in block
    assert "line 10\n" not in block  # only the tail
    assert "````text" in block  # the fence outgrows the backticks in the output
    assert "Fix rounds after failed gates: 2." in md
    summary = render_summary(s, ledger())
    assert summary[0] == ("✘ failed: Add CSV export (run r42): "
                          "1 gate failed after 2 fix rounds")
    assert "1/1 gates failed" in summary[1]  # the last attempt decides


def test_budget_stop_offers_resume_with_a_higher_budget() -> None:
    s = state("budget", stop_reason="run budget of $0.02 reached")
    s.task("tests").status = "budget"
    s.task("tests").commit = None
    md = render_report(s, PLAN, ledger(), limit_usd=0.02)
    assert "budget exhausted (resumable): run budget of $0.02 reached" in md
    assert "crew resume r42 --budget-usd 0.05" in md  # 2 × max(limit, $0.0205 spent)
    assert "No gate ran (the run stopped before them)." in md
    lines = render_summary(s, ledger(), limit_usd=0.02)
    assert 3 <= len(lines) <= 5
    assert lines[-2] == "resume with `crew resume r42 --budget-usd 0.05`"
    assert lines[-1].startswith("conversation: `crew show r42`")
    assert "1 done, 1 budget" in lines[1]
    assert "git merge" not in md and "git merge" not in "\n".join(lines)  # not finished


def test_budget_stop_without_a_known_usd_limit_explains_x() -> None:
    md = render_report(state("budget", stop_reason="token budget reached"), PLAN, ledger())
    assert "crew resume r42 --budget-usd X" in md
    assert "X: a new USD limit, above the $0.0205 spent so far." in md
    s = state("budget", budget_usd=1.0)  # a --budget-usd override kept in the checkpoint
    assert "crew resume r42 --budget-usd 2.00" in render_report(s, PLAN, ledger())


def test_interrupted_run_resumes_without_budget_flag_and_failed_task_error_listed() -> None:
    s = state("interrupted", stop_reason="Ctrl-C")
    s.task("tests").status = "interrupted"
    s.task("impl").error = "RuntimeError: model kept\nrepeating itself"
    md = render_report(s, PLAN, ledger())
    assert "```sh\ncrew resume r42\n```" in md
    assert "- `impl`: RuntimeError: model kept repeating itself" in md
    summary = render_summary(s, ledger())
    assert summary[2] == "cost $0.0205 · 750 tokens · 4 LLM calls · 2m 05s"
    assert summary[3] == "resume with `crew resume r42`"
    assert "git merge" not in "\n".join(summary) and "git merge" not in md


def test_tasks_added_during_the_run_are_reported_after_the_plan() -> None:
    s = state()
    s.order.append("fix-gate-1")
    s.task("fix-gate-1").status = "done"
    ledger_ = Ledger([entry("fix-gate-1", 10, 5, 0.5)])
    rows = table_rows(render_report(s, PLAN, ledger_), "| Task |")[2:]
    assert [r[0] for r in rows] == ["`impl`", "`tests`", "`fix-gate-1`"]
    assert rows[2][7:] == ["0.5000", "15"]


def test_format_duration() -> None:
    assert [format_duration(x) for x in (0, 9.94, 59.9, 60, 125.4, 3723)] == [
        "0.0s", "9.9s", "59.9s", "1m 00s", "2m 05s", "1h 02m 03s"]


def test_degraded_decisions_are_listed_in_the_report_and_the_summary() -> None:
    from crew.patterns.decisions import DecisionKind, Degraded, DegradedReason

    s = state("failed")
    s.degraded = [Degraded(decision=DecisionKind.RUN_PLAN, reason=DegradedReason.SINGLE_TASK,
                           role="supervisor", task="plan", error="no valid PlanOut",
                           excerpt="I would | rather not")]
    s.task("tests").status = "no_consensus"
    s.task("tests").degraded = [Degraded(
        decision=DecisionKind.BALLOT, reason=DegradedReason.ABSTAINED, role="tester", round=2,
        task="tests", error="no valid Ballot", excerpt="hmm"), Degraded(
        decision=DecisionKind.VOTE, reason=DegradedReason.PROVIDER_DOWN, role="coder", round=1,
        task="tests", error="ProviderError: 503")]
    md = render_report(s, PLAN, ledger())
    assert "## Degraded decisions" in md and "3 decision(s)" in md
    rows = table_rows(md, "| Task | Decision |")[2:]
    assert rows == [
        ["`plan`", "run_plan", "supervisor", "", "the goal as one task", "no valid PlanOut",
         "I would \\| rather not"],
        ["`tests`", "ballot", "tester", "2", "abstained", "no valid Ballot", "hmm"],
        ["`tests`", "vote", "coder", "1", "abstained (the provider failed after retries)",
         "ProviderError: 503", ""]]
    assert md.index("## Degraded decisions") < md.index("## Gates")
    assert any("3 decision(s) degraded" in line for line in render_summary(s, ledger()))
    assert "Degraded decisions" not in render_report(state(), PLAN, ledger())


def test_a_passed_run_offers_its_branch_for_merging_from_the_repository() -> None:
    lines = render_summary(state(), ledger())
    assert lines[3] == f"branch {BRANCH}: merge it in /repo with `git merge --no-ff {BRANCH}`"


def test_each_budget_dimension_names_its_own_resume_flag() -> None:
    tokens = state("budget", limits={"usd": None, "tokens": 500, "minutes": None},
                   budget_kind=BudgetKind.TOKENS,
                   stop_reason="stopped by the budget: run budget would cross its tokens "
                               "limit: 480 spent + 90 estimated for the next call > 500 tokens")
    md = render_report(tokens, PLAN, ledger())
    assert "crew resume r42 --budget-tokens 1500" in md  # 2 × max(500 limit, 750 spent)
    assert "--budget-usd" not in md
    assert render_summary(tokens, ledger())[-2] == "resume with `crew resume r42 --budget-tokens 1500`"
    minutes = state("budget", limits={"minutes": 1.0}, budget_kind=BudgetKind.MINUTES,
                    stop_reason="the stop reason's text is not read")
    assert "crew resume r42 --budget-minutes 5" in render_report(minutes, PLAN, ledger())
    unknown = state("budget", budget_kind=BudgetKind.TOKENS, stop_reason="…")
    md = render_report(unknown, PLAN, ledger())
    assert "crew resume r42 --budget-tokens X" in md
    assert "X: a new token limit, above the 750 spent so far." in md


def test_a_rejected_plan_says_so_and_offers_nothing_to_merge() -> None:
    s = state("rejected", stop_reason="the plan was rejected; nothing ran")
    for ts in s.tasks.values():
        ts.status, ts.commit, ts.outcome = "pending", None, None
    md = render_report(s, PLAN, ledger())
    assert "✋ plan rejected: the plan was rejected; nothing ran" in md
    assert "No gate ran (the plan was rejected)." in md
    assert "no acceptance commands" not in md
    assert "git merge" not in md and "Nothing to merge: the plan was rejected." in md
    summary = render_summary(s, ledger())
    assert summary[0].startswith("✋ plan rejected: Add CSV export (run r42)")
    assert f"branch {BRANCH}: not offered for merging (the plan was rejected)" in summary


def test_failed_or_empty_runs_are_never_offered_for_merging() -> None:
    failed = state("failed", stop_reason="acceptance gates fail")
    md = render_report(failed, PLAN, ledger())
    assert "git merge" not in md
    assert "Not offered for merging: the run failed." in md and f"{BRANCH}" in md
    empty = state()
    for ts in empty.tasks.values():
        ts.commit = None
    md = render_report(empty, PLAN, ledger())
    assert "git merge" not in md and "Nothing to merge: the run committed nothing." in md
    assert "not offered for merging (the run committed nothing)" in "\n".join(
        render_summary(empty, ledger()))


def test_review_rounds_requested_changes_and_multi_line_commands() -> None:
    s = state(gates=[GateResult(name="setup and test", command="pip install -e .\npytest -q",
                                exit_code=0, passed=True)])
    s.task("impl").rounds = 2
    s.task("impl").reviews = ["round 1, reviewer: todo.py:12: export drops the header row"]
    md = render_report(s, PLAN, ledger())
    assert "Changes reviewers requested:" in md
    assert "- `impl`: round 1, reviewer: todo.py:12: export drops the header row" in md
    gate = table_rows(md, "| Gate |")[2]
    assert gate[1] == "(below)"
    assert "setup and test:\n\n```sh\npip install -e .\npytest -q\n```" in md


def test_review_lines_from_verdicts_and_a_leads_redo_list() -> None:
    from crew.run.report import review_lines

    votes = [{"round": 1, "role": "reviewer", "approved": False, "summary": "no",
              "changes": [{"file": "todo.py", "line": 12, "problem": "drops the\nheader",
                           "fix": "write it"}]},
             {"round": 1, "role": "supervisor", "approved": False,
              "redo": [{"id": "s2", "feedback": "tests miss the empty list"}]},
             {"round": 2, "role": "reviewer", "approved": True, "changes": []},
             {"round": 1, "gate": "pytest -q", "passed": True}]
    assert review_lines(votes) == ["round 1, reviewer: todo.py:12: drops the header",
                                   "round 1, supervisor: s2: tests miss the empty list"]
