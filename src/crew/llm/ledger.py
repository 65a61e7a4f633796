"""The ledger: what each LLM call cost, and running totals per run, task, role and pattern.

Serialisable with to_dict()/from_dict() so a run's checkpoint persists it and a resumed run
keeps counting (budgets read these totals).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Dimension = Literal["run", "task", "role", "pattern", "alias", "deployment", "purpose"]
_DIM_FIELD = {"run": "run_id", "task": "task_id", "role": "role", "pattern": "pattern",
              "alias": "alias", "deployment": "deployment", "purpose": "purpose"}


@dataclass(frozen=True)
class LedgerEntry:
    """One LLM call."""

    alias: str  # what the caller asked for
    deployment: str  # what answered, after fallbacks (LiteLLM model string, e.g. openai/gpt-4o)
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    run_id: str = ""
    task_id: str = ""
    role: str = ""
    pattern: str = ""
    purpose: str = ""
    turn: int = 0
    at: float = 0.0  # unix time the answer arrived

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Totals:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, e: LedgerEntry) -> None:
        self.calls += 1
        self.prompt_tokens += e.prompt_tokens
        self.completion_tokens += e.completion_tokens
        self.cost_usd += e.cost_usd
        self.latency_s += e.latency_s


class Ledger:
    """Append-only record of LLM calls with O(1) totals for the run, each task and each role."""

    def __init__(self, entries: list[LedgerEntry] | None = None) -> None:
        self.entries: list[LedgerEntry] = []
        self.total = Totals()
        self._by_task: dict[str, Totals] = {}
        self._by_role: dict[str, Totals] = {}
        self.listeners: list[Callable[[LedgerEntry], None]] = []
        for e in entries or ():
            self._add(e)

    def record(self, entry: LedgerEntry) -> None:
        """Add one call and tell the listeners (e.g. the tracer)."""
        self._add(entry)
        for listener in self.listeners:
            listener(entry)

    def _add(self, e: LedgerEntry) -> None:
        self.entries.append(e)
        self.total.add(e)
        self._by_task.setdefault(e.task_id, Totals()).add(e)
        self._by_role.setdefault(e.role, Totals()).add(e)

    def task(self, task_id: str) -> Totals:
        return self._by_task.get(task_id) or Totals()

    def role(self, role: str) -> Totals:
        return self._by_role.get(role) or Totals()

    def by(self, dimension: Dimension) -> dict[str, Totals]:
        """Totals grouped by run, task, role, pattern, alias, deployment or purpose."""
        attr = _DIM_FIELD[dimension]
        out: dict[str, Totals] = {}
        for e in self.entries:
            out.setdefault(getattr(e, attr), Totals()).add(e)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "entries": [asdict(e) for e in self.entries]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        names = {f.name for f in fields(LedgerEntry)}
        return cls([LedgerEntry(**{k: v for k, v in e.items() if k in names})
                    for e in data.get("entries", [])])


def entry_now(**kw: Any) -> LedgerEntry:
    return LedgerEntry(at=time.time(), **kw)
