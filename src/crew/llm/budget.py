"""Budgets: usd, tokens and wall minutes per run; optional usd/tokens/minutes per task and
usd/tokens per role. Checked before each call (an estimate) and after it (the ledger's actual).
Each admitted call's estimate stays reserved until it is recorded or fails, so calls running in
parallel are counted against the limits before any of them has been recorded.

Crossing a limit raises crew.errors.BudgetExceeded (a run turns it into a clean, resumable stop,
exit 3). Reaching `warn_at` (80%) of a limit calls each listener once per scope and kind.
Per-task and per-role limits are keyed by id/name; the key "*" applies to every task or role.
A task's minutes count from its first LLM call; the run's from `start()` (the runner calls it
when the run begins: crew's own start-up, imports and checks are not the run's time).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crew.errors import BudgetExceeded, BudgetKind, UserError
from crew.llm.ledger import Ledger, Totals
from crew.llm.types import CallContext

log = logging.getLogger("crew.llm.budget")


@dataclass(frozen=True)
class Limits:
    usd: float | None = None
    tokens: int | None = None
    minutes: float | None = None

    @property
    def empty(self) -> bool:
        return self.usd is None and self.tokens is None and self.minutes is None

    @classmethod
    def of(cls, v: Limits | Mapping[str, Any] | Any) -> Limits:
        """From Limits, a mapping, or anything with usd/tokens/minutes (crew.spec Budget)."""
        if isinstance(v, Limits):
            return v
        get = v.get if isinstance(v, Mapping) else lambda k: getattr(v, k, None)
        return cls(get("usd"), get("tokens"), get("minutes"))


@dataclass(frozen=True)
class Reservation:
    """The estimate of one call in flight, held per scope until Budget.release."""

    scopes: tuple[str, ...]
    tokens: int
    usd: float
    shared: int | None = None  # the ticket of a SharedBudget reservation


class BudgetPool(Protocol):
    """Limits shared by several runs (`crew eval`'s suite budget): a `SharedBudget` in one
    process, a proxy to a Ray actor across a cluster."""

    def reserve(self, tokens: int, usd: float) -> int: ...
    def spend(self, tokens: int, usd: float) -> None: ...
    def release(self, ticket: int) -> None: ...


class SharedBudget:
    """usd/tokens limits across runs: each call reserves its estimate before it starts
    (raising BudgetExceeded with scope "suite"), reports its actual spending after, and
    releases the estimate. Once a reservation is refused (or `stop` is called) every later
    one is refused too, so the runs sharing it stop at their next call."""

    def __init__(self, usd: float | None = None, tokens: int | None = None, *,
                 spent_usd: float = 0.0, spent_tokens: int = 0) -> None:
        self.usd, self.tokens = usd, tokens
        self.spent_usd, self.spent_tokens = spent_usd, spent_tokens
        self.stopped: str | None = None  # "suite budget ..." or "suite stopped: <reason>"
        self._kind = BudgetKind.USD
        self._held: dict[int, tuple[int, float]] = {}
        self._next = 0
        self._lock = threading.Lock()

    def reserve(self, tokens: int, usd: float) -> int:
        with self._lock:
            if self.stopped is None:
                held_t = sum(t for t, _ in self._held.values())
                held_u = sum(u for _, u in self._held.values())
                for kind, limit, spent, held, est in (
                        (BudgetKind.USD, self.usd, self.spent_usd, held_u, usd),
                        (BudgetKind.TOKENS, self.tokens, self.spent_tokens, held_t, tokens)):
                    if limit is not None and spent + held + est > limit:
                        self._kind = kind
                        self.stopped = (f"suite budget would cross its {kind} limit: {spent:g}"
                                        f" spent + {held:g} held + {est:g} estimated > "
                                        f"{limit:g} {kind}")
                        break
            if self.stopped is not None:
                tokens_hit = self._kind is BudgetKind.TOKENS
                raise BudgetExceeded(
                    self.stopped, scope="suite", kind=self._kind,
                    limit=float((self.tokens if tokens_hit else self.usd) or 0),
                    spent=float(self.spent_tokens) if tokens_hit else self.spent_usd)
            self._next += 1
            self._held[self._next] = (tokens, usd)
            return self._next

    def spend(self, tokens: int, usd: float) -> None:
        with self._lock:
            self.spent_tokens += tokens
            self.spent_usd += usd

    def release(self, ticket: int) -> None:
        with self._lock:
            self._held.pop(ticket, None)

    def stop(self, reason: str) -> None:
        """Refuse every later reservation (e.g. on Ctrl-C: the runs stop at their next call)."""
        with self._lock:
            self.stopped = self.stopped or f"suite stopped: {reason}"

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"usd": self.usd, "tokens": self.tokens, "spent_usd": self.spent_usd,
                    "spent_tokens": self.spent_tokens, "stopped": self.stopped}


@dataclass(frozen=True)
class BudgetWarning:
    scope: str  # "run", "task:<id>", "role:<name>"
    kind: str  # "usd", "tokens", "minutes"
    limit: float
    spent: float


class Budget:
    """Limits for one run. Spending is read from a Ledger's totals; the Budget itself only
    holds the estimates of calls in flight (see `reserve`)."""

    def __init__(self, run: Limits | Mapping[str, Any] | None = None, *,
                 per_task: Mapping[str, Limits | Mapping[str, Any]] | None = None,
                 per_role: Mapping[str, Limits | Mapping[str, Any]] | None = None,
                 warn_at: float = 0.8, elapsed_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 shared: BudgetPool | None = None) -> None:
        self.run = Limits.of(run) if run is not None else Limits()
        self._lock = threading.Lock()
        self.per_task: dict[str, Limits] = {}
        self.per_role: dict[str, Limits] = {}
        self.set_scoped(per_task or {}, per_role or {})
        self.warn_at = warn_at
        self.listeners: list[Callable[[BudgetWarning], None]] = []
        self._clock = clock
        self._elapsed0 = elapsed_s  # a resumed run passes the seconds already used
        self._started = clock()
        self._task_started: dict[str, float] = {}
        self._warned: set[tuple[str, str]] = set()
        self._held: dict[str, list[float]] = {}  # scope → [tokens, usd] reserved in flight
        self.shared = shared  # limits shared with other runs (crew eval's suite budget)
        self._shared_seen: tuple[int, float] | None = None  # ledger totals already reported

    @classmethod
    def from_spec(cls, spec: Any, **kw: Any) -> Budget:
        """From feature.yaml's `budget` (crew.spec.models.BudgetSpec)."""
        return cls(Limits.of(spec), **kw)

    def set_scoped(self, per_task: Mapping[str, Limits | Mapping[str, Any]],
                   per_role: Mapping[str, Limits | Mapping[str, Any]]) -> None:
        """Replace the task and role limits (a run adds its planned tasks' once planned)."""
        roles = {k: Limits.of(v) for k, v in per_role.items()}
        for name, lim in roles.items():
            if lim.minutes is not None:
                raise UserError("a role budget cannot limit minutes", field=f"per_role.{name}",
                                hint="limit usd or tokens, or give the task minutes")
        with self._lock:
            self.per_task = {k: Limits.of(v) for k, v in per_task.items()}
            self.per_role = roles

    def start(self) -> None:
        """The run begins now: its minutes count from here (plus any a resume carried)."""
        self._started = self._clock()

    # ------------------------------------------------------------------ queries
    def elapsed_s(self) -> float:
        return self._elapsed0 + self._clock() - self._started

    def _scopes(self, ledger: Ledger, ctx: CallContext) -> list[tuple[str, Limits, Totals]]:
        scopes = [("run", self.run, ledger.total)] if not self.run.empty else []
        if self.per_task and ctx.task_id:
            lim = self.per_task.get(ctx.task_id) or self.per_task.get("*")
            if lim:
                scopes.append((f"task:{ctx.task_id}", lim, ledger.task(ctx.task_id)))
        if self.per_role and ctx.role:
            lim = self.per_role.get(ctx.role) or self.per_role.get("*")
            if lim:
                scopes.append((f"role:{ctx.role}", lim, ledger.role(ctx.role)))
        return scopes

    def needs_estimate(self, ctx: CallContext) -> bool:
        """Whether any usd/tokens limit applies to this caller (else skip token counting)."""
        if self.run.usd is not None or self.run.tokens is not None or self.shared is not None:
            return True
        return any(lim.usd is not None or lim.tokens is not None
                   for _, lim, _ in self._scopes(Ledger(), ctx))

    def remaining_tokens(self, ledger: Ledger, ctx: CallContext) -> float:
        left = float("inf")
        for _, lim, spent in self._scopes(ledger, ctx):
            if lim.tokens is not None:
                left = min(left, lim.tokens - spent.tokens)
        return left

    # ------------------------------------------------------------------ checks
    def check_before(self, ledger: Ledger, ctx: CallContext, *, est_tokens: int = 0,
                     est_usd: float = 0.0) -> None:
        """Raise BudgetExceeded if this call (estimated) would cross a limit, counting the
        estimates of calls in flight."""
        with self._lock:
            self._check_before(ledger, ctx, est_tokens, est_usd)
            self._sync_shared(ledger)
        if self.shared is not None:
            self.shared.release(self.shared.reserve(est_tokens, est_usd))

    def reserve(self, ledger: Ledger, ctx: CallContext, *, est_tokens: int = 0,
                est_usd: float = 0.0) -> Reservation:
        """check_before, then hold the estimate until `release` (atomically: parallel calls
        cannot all pass on the same spending)."""
        with self._lock:
            scopes = self._check_before(ledger, ctx, est_tokens, est_usd)
            self._sync_shared(ledger)
            ticket = None
            if self.shared is not None:  # raises before anything of ours is held
                ticket = self.shared.reserve(est_tokens, est_usd)
            for scope in scopes:
                held = self._held.setdefault(scope, [0.0, 0.0])
                held[0] += est_tokens
                held[1] += est_usd
        return Reservation(tuple(scopes), est_tokens, est_usd, ticket)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation once its call is recorded in the ledger or has failed."""
        if reservation.shared is not None and self.shared is not None:
            self.shared.release(reservation.shared)
        with self._lock:
            for scope in reservation.scopes:
                held = self._held.get(scope)
                if held is None:
                    continue
                held[0] -= reservation.tokens
                held[1] -= reservation.usd
                if held[0] <= 0 and held[1] <= 1e-12:
                    del self._held[scope]

    def _check_before(self, ledger: Ledger, ctx: CallContext, est_tokens: int,
                      est_usd: float) -> list[str]:
        now = self._clock()
        if ctx.task_id and ctx.task_id not in self._task_started:
            self._task_started[ctx.task_id] = now
        scopes = []
        for scope, lim, spent in self._scopes(ledger, ctx):
            scopes.append(scope)
            held_tokens, held_usd = self._held.get(scope, (0.0, 0.0))
            self._check(scope, BudgetKind.TOKENS, lim.tokens, spent.tokens, est_tokens,
                        "would cross", held_tokens)
            self._check(scope, BudgetKind.USD, lim.usd, spent.cost_usd, est_usd, "would cross",
                        held_usd)
            if lim.minutes is not None:
                used = (self.elapsed_s() if scope == "run" else
                        now - self._task_started.get(ctx.task_id, now))
                self._check(scope, BudgetKind.MINUTES, lim.minutes, used / 60, 0,
                            "has crossed")
        return scopes

    def check_after(self, ledger: Ledger, ctx: CallContext) -> None:
        """Warn at warn_at; raise BudgetExceeded if the actual spending crossed a limit."""
        with self._lock:
            self._sync_shared(ledger)
        for scope, lim, spent in self._scopes(ledger, ctx):
            for kind, limit, value in ((BudgetKind.TOKENS, lim.tokens, spent.tokens),
                                       (BudgetKind.USD, lim.usd, spent.cost_usd)):
                if limit is None:
                    continue
                self._check(scope, kind, limit, value, 0, "has crossed")
                if value >= self.warn_at * limit and (scope, kind) not in self._warned:
                    self._warned.add((scope, kind))
                    w = BudgetWarning(scope, kind, float(limit), float(value))
                    log.warning("budget: %s %s at %.0f%% (%g of %g)", scope, kind,
                                100 * value / limit, value, limit)
                    for listener in self.listeners:
                        listener(w)

    def _sync_shared(self, ledger: Ledger) -> None:
        """Report to the shared budget what the ledger recorded since the last report (the
        first look only takes the baseline: a resumed run's earlier spending is counted by
        whoever built the shared budget)."""
        if self.shared is None:
            return
        now = (ledger.total.tokens, ledger.total.cost_usd)
        seen, self._shared_seen = self._shared_seen, now
        if seen is not None and now != seen:
            self.shared.spend(now[0] - seen[0], now[1] - seen[1])

    @staticmethod
    def _check(scope: str, kind: BudgetKind, limit: float | None, spent: float, est: float,
               verb: str, held: float = 0.0) -> None:
        if limit is None or spent + held + est <= limit:
            return
        what = (f"{spent:g} spent" + (f" + {held:g} held by calls in flight" if held else "")
                + (f" + {est:g} estimated for the next call" if est else ""))
        raise BudgetExceeded(
            f"{scope} budget {verb} its {kind} limit: {what} > {limit:g} {kind}",
            scope=scope, kind=kind, limit=float(limit), spent=float(spent),
            needed=float(spent + held + est))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps (and the report shows: every limit by scope)."""
        limits = {"run": dataclasses.asdict(self.run)} if not self.run.empty else {}
        for prefix, table in (("task", self.per_task), ("role", self.per_role)):
            limits.update({f"{prefix}:{k}": dataclasses.asdict(v) for k, v in table.items()})
        return {"elapsed_s": self.elapsed_s(), "warned": sorted(map(list, self._warned)),
                "limits": limits}

    def restore(self, data: Mapping[str, Any]) -> None:
        """Continue a checkpointed run: minutes already used and warnings already given."""
        self._elapsed0, self._started = float(data.get("elapsed_s", 0.0)), self._clock()
        self._warned = {(str(s), str(k)) for s, k in data.get("warned", [])}
