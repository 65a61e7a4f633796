"""Budgets of tasks and roles. Their limits come from YAML — a pinned task's `budget:`, else
its task template's; a role's `budget:` (usd, tokens) — and from `crew resume --task-budget
ID:KIND=VALUE` / `--role-budget NAME:KIND=VALUE`, kept in state.json so a later resume keeps
them. A task or role limit that is hit stops the run like the run's own (exit 3); the resume
command it prints raises exactly that limit. Also: the refusal of a USD limit over a model
without a price, and the report's Budgets section."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from crew.errors import Problem, UserError

if TYPE_CHECKING:
    from crew.llm import Budget, Ledger, Limits
    from crew.run.state import PlannedTask, RunState
    from crew.spec.resolve import ResolvedFeature

SCOPE_FLAGS = {"task": "--task-budget", "role": "--role-budget"}
KINDS = ("usd", "tokens", "minutes")


def scoped_limits(resolved: ResolvedFeature, plan: Iterable[PlannedTask] = (),
                  overrides: Mapping[str, Mapping[str, float]] | None = None
                  ) -> tuple[dict[str, Limits], dict[str, Limits]]:
    """(per_task, per_role) limits: YAML first (a pinned task's own, else its template's, for
    the feature's tasks and for `plan`'s), then `overrides` ({"task:ID": {"usd": 0.5}})."""
    from crew.llm import Limits

    templates = {n: t.spec.budget for n, t in resolved.templates.items() if t.spec.budget}
    per_task: dict[str, Limits] = {}
    for t in resolved.feature.spec.tasks:
        spec = t.budget or templates.get(t.template or "")
        if spec is not None:
            per_task[t.id] = Limits.of(spec)
    for pt in plan:
        if pt.id not in per_task and pt.template in templates:
            per_task[pt.id] = Limits.of(templates[pt.template])
    per_role = {name: Limits.of(r.spec.budget) for name, r in resolved.roles.items()
                if r.spec.budget is not None}
    for scope, kinds in (overrides or {}).items():
        kind, _, name = scope.partition(":")
        table = per_task if kind == "task" else per_role
        table[name] = Limits.of({**dataclasses.asdict(table.get(name, Limits())), **kinds})
    return per_task, per_role


def parse_scope_budget(flag: str, value: str, known: Iterable[str]) -> tuple[str, dict[str, float]]:
    """`export-csv:usd=0.5,tokens=20000` → ("task:export-csv", {...}); UserError when malformed
    or naming an unknown task/role."""
    scope = "task" if flag == SCOPE_FLAGS["task"] else "role"
    example = f"{flag} {'export-csv' if scope == 'task' else 'coder'}:usd=0.50"
    name, sep, rest = value.partition(":")
    known = sorted(known)
    if not sep or not name or not rest:
        raise UserError(f"{value!r}: expected NAME:KIND=VALUE", field=flag,
                        hint=f"e.g. `{example}` (KIND: usd, tokens"
                             f"{', minutes' if scope == 'task' else ''})")
    if name not in known:
        from crew.spec.suggest import did_you_mean

        raise UserError(f"no {scope} {name!r} in this run{did_you_mean(name, known)}",
                        field=flag, hint=f"{scope}s: " + ", ".join(known))
    kinds: dict[str, float] = {}
    for part in rest.split(","):
        kind, _, number = part.partition("=")
        kind = kind.strip()
        allowed = KINDS if scope == "task" else KINDS[:2]
        try:
            amount = float(number)
        except ValueError:
            amount = math.nan
        if kind not in allowed or not amount > 0 or not math.isfinite(amount):
            raise UserError(f"{value!r}: {part!r} is not KIND=VALUE with a positive "
                            "value", field=flag,
                            hint=f"KIND is one of {', '.join(allowed)}; e.g. `{example}`")
        kinds[kind] = int(amount) if kind == "tokens" else amount
    return f"{scope}:{name}", kinds


def usd_limited(budget: Budget) -> bool:
    """Whether a USD limit applies to the run, a task or a role."""
    return budget.run.usd is not None or any(
        lim.usd is not None for lim in [*budget.per_task.values(), *budget.per_role.values()])


def unpriced_problems(resolved: ResolvedFeature, llm: Any, budget: Budget) -> list[Problem]:
    """A USD limit (run, task or role) over a model with no price would count its calls as $0:
    refused, with the two ways out."""
    if not usd_limited(budget):
        return []
    problems = []
    for alias in sorted({r.spec.model for r in resolved.roles.values()}):
        for model in llm.unpriced(alias):
            problems.append(resolved.locate_models_problem(Problem(
                f"a USD budget is set but model {model!r} (alias {alias!r}) has no known "
                "price: its calls would count as $0", file=llm.source, field="model_list",
                hint="give it a price in litellm_params (input_cost_per_token: 3e-06, "
                     "output_cost_per_token: 1.5e-05; 0 for a free local server), or limit "
                     "tokens instead of usd (budget: {tokens: N})")))
    return problems


def resume_flag(state: RunState, ledger: Ledger) -> str | None:
    """`--task-budget ID:KIND=NEW` after a task or role limit stopped the run (None after a
    run or suite limit): twice the larger of the limit and what the scope spent."""
    scope, limit = state.budget_scope, state.budget_limit
    if not scope or scope == "run" or state.budget_kind is None or limit is None:
        return None
    limit = max(limit, state.budget_needed)
    kind = state.budget_kind.value
    what, _, name = scope.partition(":")
    if what not in SCOPE_FLAGS:  # "suite": crew eval's own resume raises it
        return None
    spent = ledger.task(name) if what == "task" else ledger.role(name)
    if kind == "tokens":
        value = str(2 * max(int(limit), spent.tokens))
    elif kind == "minutes":
        value = f"{math.ceil(2 * limit)}"
    else:
        value = f"{math.ceil(max(limit, spent.cost_usd) * 200) / 100:.2f}"
    return f"{SCOPE_FLAGS[what]} {name}:{kind}={value}"


def budgets_section(state: RunState, ledger: Ledger) -> list[str]:
    """The report's table of every task and role limit and what was spent of it."""
    limits: dict[str, dict[str, float | None]] = state.budget.get("limits") or {}
    rows = []
    for scope, lim in sorted(limits.items()):
        what, _, name = scope.partition(":")
        if what not in SCOPE_FLAGS:
            continue
        spent = ledger.task(name) if what == "task" else ledger.role(name)
        cells = []
        for kind, used in (("usd", f"${spent.cost_usd:.4f}"), ("tokens", f"{spent.tokens:,}")):
            if lim.get(kind) is not None:
                cells.append(f"{used} of {_amount(kind, lim[kind])}")
        if lim.get("minutes") is not None:
            cells.append(f"{_amount('minutes', lim['minutes'])}")
        stop = " ⏸ stopped the run" if state.budget_scope == scope else ""
        rows.append(f"| {what} `{name}` | {'; '.join(cells)}{stop} |")
    if not rows:
        return []
    return ["## Budgets", "", "| Scope | Spent of limit |", "|---|---|", *rows, ""]


def _amount(kind: str, value: float | None) -> str:
    if kind == "usd":
        return f"${value:g}"
    if kind == "tokens":
        return f"{int(value or 0):,} tokens"
    return f"{value:g} min"
