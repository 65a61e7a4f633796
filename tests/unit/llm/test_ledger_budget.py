"""Ledger aggregation and persistence; budget checks, warnings and resume (no litellm)."""

from __future__ import annotations

import json

import pytest

from crew.errors import BudgetExceeded, BudgetKind, UserError
from crew.llm import Budget, BudgetWarning, CallContext, Ledger, LedgerEntry, Limits
from crew.spec.models import BudgetSpec
from crew.testing import ScriptedLLM


def entry(task: str = "t1", role: str = "coder", pattern: str = "single", tokens: int = 100,
          cost: float = 0.01, alias: str = "smart") -> LedgerEntry:
    return LedgerEntry(alias=alias, deployment=f"openai/{alias}", prompt_tokens=tokens - 10,
                       completion_tokens=10, cost_usd=cost, latency_s=0.5, run_id="r",
                       task_id=task, role=role, pattern=pattern)


def test_ledger_aggregates_per_run_task_role_pattern_and_round_trips() -> None:
    ledger = Ledger()
    seen: list[LedgerEntry] = []
    ledger.listeners.append(seen.append)
    ledger.record(entry("t1", "coder", "review_loop", 100, 0.01))
    ledger.record(entry("t1", "reviewer", "review_loop", 50, 0.02, alias="fast"))
    ledger.record(entry("t2", "coder", "single", 30, 0.005))
    assert len(seen) == 3
    assert (ledger.total.calls, ledger.total.tokens) == (3, 180)
    assert ledger.total.cost_usd == pytest.approx(0.035)
    assert ledger.task("t1").tokens == 150 and ledger.role("coder").tokens == 130
    assert ledger.task("nope").calls == 0
    assert {k: v.calls for k, v in ledger.by("pattern").items()} == {"review_loop": 2, "single": 1}
    assert ledger.by("alias")["fast"].cost_usd == pytest.approx(0.02)
    assert ledger.by("run")["r"].prompt_tokens == 150
    restored = Ledger.from_dict(json.loads(json.dumps(ledger.to_dict())))
    assert restored.entries == ledger.entries
    assert restored.task("t1").tokens == 150 and restored.total.cost_usd == pytest.approx(0.035)


def test_budget_before_call_uses_the_estimate_and_after_call_the_actual() -> None:
    budget = Budget(Limits(tokens=300))
    ledger = Ledger()
    ctx = CallContext(task_id="t1")
    budget.check_before(ledger, ctx, est_tokens=300)  # exactly at the limit is fine
    ledger.record(entry(tokens=250))
    with pytest.raises(BudgetExceeded) as info:
        budget.check_before(ledger, ctx, est_tokens=60)
    assert (info.value.scope, info.value.kind, info.value.spent) == ("run", "tokens", 250)
    assert info.value.kind is BudgetKind.TOKENS
    assert str(info.value).startswith("run budget would cross its tokens limit: 250 spent")
    assert info.value.exit_code == 3
    ledger.record(entry(tokens=100))
    with pytest.raises(BudgetExceeded, match="run budget has crossed its tokens limit") as info:
        budget.check_after(ledger, ctx)
    assert info.value.kind is BudgetKind.TOKENS


def test_reservations_of_calls_in_flight_count_per_scope_until_released() -> None:
    budget = Budget(per_task={"*": Limits(tokens=100)})
    ledger = Ledger()
    a = budget.reserve(ledger, CallContext(task_id="a"), est_tokens=60)
    with pytest.raises(BudgetExceeded, match="60 held by calls in flight") as info:
        budget.reserve(ledger, CallContext(task_id="a"), est_tokens=60)
    assert info.value.scope == "task:a"
    b = budget.reserve(ledger, CallContext(task_id="b"), est_tokens=60)  # another scope
    budget.release(a)
    budget.check_before(ledger, CallContext(task_id="a"), est_tokens=100)
    budget.release(b)
    budget.check_before(ledger, CallContext(task_id="b"), est_tokens=100)
    with pytest.raises(BudgetExceeded):
        budget.check_before(ledger, CallContext(task_id="b"), est_tokens=101)


def test_budget_warns_once_at_80_percent_per_scope() -> None:
    budget = Budget(Limits(usd=1.0), per_role={"coder": Limits(tokens=1000)})
    warnings: list[BudgetWarning] = []
    budget.listeners.append(warnings.append)
    ledger = Ledger()
    ctx = CallContext(task_id="t", role="coder")
    ledger.record(entry(tokens=500, cost=0.79))
    budget.check_after(ledger, ctx)
    assert warnings == []
    ledger.record(entry(tokens=350, cost=0.02))
    budget.check_after(ledger, ctx)
    ledger.record(entry(tokens=10, cost=0.01))
    budget.check_after(ledger, ctx)
    assert [(w.scope, w.kind) for w in warnings] == [("run", "usd"), ("role:coder", "tokens")]
    assert warnings[0].limit == 1.0 and warnings[0].spent == pytest.approx(0.81)


def test_per_task_and_per_role_limits_with_wildcards() -> None:
    budget = Budget(per_task={"*": {"tokens": 200}, "big": {"tokens": 1000}},
                    per_role={"reviewer": {"usd": 0.05}})
    ledger = Ledger()
    ledger.record(entry(task="small", tokens=150))
    ledger.record(entry(task="big", role="reviewer", tokens=150, cost=0.04))
    with pytest.raises(BudgetExceeded, match="task:small"):
        budget.check_before(ledger, CallContext(task_id="small"), est_tokens=60)
    budget.check_before(ledger, CallContext(task_id="big"), est_tokens=60)
    with pytest.raises(BudgetExceeded, match="role:reviewer"):
        budget.check_before(ledger, CallContext(task_id="big", role="reviewer"), est_usd=0.02)
    assert not budget.needs_estimate(CallContext())
    assert budget.needs_estimate(CallContext(task_id="x"))
    with pytest.raises(UserError, match="minutes"):
        Budget(per_role={"coder": {"minutes": 3}})


def test_wall_minutes_and_resume_keep_the_time_already_spent() -> None:
    now = [1000.0]
    budget = Budget.from_spec(BudgetSpec(minutes=10), clock=lambda: now[0])
    ledger, ctx = Ledger(), CallContext()
    now[0] += 9 * 60
    budget.check_before(ledger, ctx)
    saved = json.loads(json.dumps(budget.to_dict()))
    resumed = Budget.from_spec(BudgetSpec(minutes=10), clock=lambda: now[0])
    resumed.restore(saved)
    now[0] += 61
    with pytest.raises(BudgetExceeded) as info:
        resumed.check_before(ledger, ctx)
    assert info.value.kind is BudgetKind.MINUTES and info.value.spent == pytest.approx(10 + 1 / 60)
    assert "run budget has crossed its minutes limit" in str(info.value)


def test_task_minutes_count_from_the_task_s_first_call() -> None:
    now = [0.0]
    budget = Budget(per_task={"*": {"minutes": 1}}, clock=lambda: now[0])
    ledger = Ledger()
    now[0] = 500.0
    budget.check_before(ledger, CallContext(task_id="late"))
    now[0] = 530.0
    budget.check_before(ledger, CallContext(task_id="late"))
    now[0] = 561.0
    with pytest.raises(BudgetExceeded, match="task:late"):
        budget.check_before(ledger, CallContext(task_id="late"))


async def test_a_budget_stop_in_a_scripted_run_is_recorded_in_the_ledger() -> None:
    llm = ScriptedLLM([{"content": "a", "usage": {"prompt_tokens": 80, "completion_tokens": 30}},
                       "never"], budget=Budget(Limits(tokens=100)), max_output=10)
    with pytest.raises(BudgetExceeded, match="has crossed its tokens limit"):
        await llm.complete("smart", [])
    assert llm.ledger.total.tokens == 110  # the call happened and is paid for
    with pytest.raises(BudgetExceeded, match="would cross"):
        await llm.complete("smart", [])
    assert len(llm.calls) == 1
