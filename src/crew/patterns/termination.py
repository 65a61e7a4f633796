"""Composable termination conditions, autogen-style: `MaxRounds(3) | Approved()`.

A pattern fills a `RoundState` after each round and asks its condition whether to stop. A
condition answers with a `Fired` value (which `Stop`s fired, e.g. approved and tests_pass), or
None. `build_termination` turns a template's expression (`approved | max_rounds | guard`) into
the same objects, taking `max_rounds` from the pattern's params. There is no budget condition:
a budget stop (BudgetExceeded) always ends a pattern with outcome budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from crew.errors import UserError
from crew.spec.models import parse_termination

_TOKEN = re.compile(r"\s*(\(|\)|\||&|[a-z_]+)\s*")


class Stop(StrEnum):
    """A termination condition's name."""

    MAX_ROUNDS = "max_rounds"
    CONSENSUS = "consensus"
    APPROVED = "approved"
    TESTS_PASS = "tests_pass"
    GUARD = "guard"


@dataclass(frozen=True)
class Fired:
    """The conditions that fired together (one for `|`, all parts for `&`), in order."""

    stops: tuple[Stop, ...]

    def __contains__(self, stop: object) -> bool:
        return stop in self.stops

    @property
    def label(self) -> str:
        """`approved&tests_pass`: PatternResult.stopped_by."""
        return "&".join(s.value for s in self.stops)

    def to_state(self) -> list[str]:
        return [s.value for s in self.stops]

    @classmethod
    def of(cls, *stops: Stop) -> Fired:
        return cls(tuple(dict.fromkeys(stops)))

    @classmethod
    def from_state(cls, value: Any) -> Fired | None:
        """From a checkpoint: a list of names."""
        if not value:
            return None
        return cls.of(*(Stop(n) for n in value))


@dataclass
class RoundState:
    """What a pattern knows after a round; conditions read it."""

    round: int = 0
    approved: bool = False
    consensus: bool = False
    tests_passed: bool | None = None  # None: no gate ran
    guard_stopped: bool = False


class Condition:
    """A stop condition. Combine with `|` (either) and `&` (both)."""

    def fired(self, state: RoundState) -> Fired | None:
        """What fired, or None to go on."""
        raise NotImplementedError

    def names(self) -> set[Stop]:
        return set()

    def __or__(self, other: Condition) -> Condition:
        return AnyOf(self, other)

    def __and__(self, other: Condition) -> Condition:
        return AllOf(self, other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class AnyOf(Condition):
    def __init__(self, *parts: Condition) -> None:
        self.parts = parts

    def fired(self, state: RoundState) -> Fired | None:
        for p in self.parts:
            hit = p.fired(state)
            if hit is not None:
                return hit
        return None

    def names(self) -> set[Stop]:
        return set().union(*(p.names() for p in self.parts))

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.parts)) + ")"


class AllOf(Condition):
    def __init__(self, *parts: Condition) -> None:
        self.parts = parts

    def fired(self, state: RoundState) -> Fired | None:
        hits = [p.fired(state) for p in self.parts]
        if any(h is None for h in hits):
            return None
        return Fired.of(*(s for h in hits if h is not None for s in h.stops))

    def names(self) -> set[Stop]:
        return set().union(*(p.names() for p in self.parts))

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.parts)) + ")"


class Leaf(Condition):
    """One named condition; `holds` reads the round's state."""

    stop: Stop

    def holds(self, state: RoundState) -> bool:
        raise NotImplementedError

    def fired(self, state: RoundState) -> Fired | None:
        return Fired.of(self.stop) if self.holds(state) else None

    def names(self) -> set[Stop]:
        return {self.stop}


class MaxRounds(Leaf):
    stop = Stop.MAX_ROUNDS

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError("MaxRounds needs n >= 1")
        self.n = n

    def holds(self, state: RoundState) -> bool:
        return state.round >= self.n

    def __repr__(self) -> str:
        return f"MaxRounds({self.n})"


class Approved(Leaf):
    stop = Stop.APPROVED

    def holds(self, state: RoundState) -> bool:
        return state.approved


class Consensus(Leaf):
    stop = Stop.CONSENSUS

    def holds(self, state: RoundState) -> bool:
        return state.consensus


class TestsPass(Leaf):
    stop = Stop.TESTS_PASS
    __test__ = False  # not a pytest class

    def holds(self, state: RoundState) -> bool:
        return bool(state.tests_passed)


class Guard(Leaf):
    stop = Stop.GUARD

    def holds(self, state: RoundState) -> bool:
        return state.guard_stopped


class Never(Condition):
    """No condition (a kind without rounds, e.g. committee): only the pattern ends itself."""

    def fired(self, state: RoundState) -> Fired | None:
        return None


def build_termination(expr: str, params: Mapping[str, Any], *, max_rounds_param: str = "max_rounds",
                      where: str | None = None) -> Condition:
    """The condition of a template expression. `max_rounds` reads params[max_rounds_param];
    an empty expression is `Never()`."""
    if not expr.strip():
        return Never()
    try:
        parse_termination(expr)  # validates; the error names the problem
    except ValueError as e:
        raise UserError(f"termination {expr!r}: {e}", file=where, field="termination") from None
    tokens = [m.group(1) for m in _TOKEN.finditer(expr)]
    pos = 0

    def leaf(name: str) -> Condition:
        if name == "max_rounds":
            n = params.get(max_rounds_param)
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise UserError(f"termination uses max_rounds but param {max_rounds_param!r} is "
                                f"{n!r}", file=where, field=f"params.{max_rounds_param}",
                                hint="set it to a whole number >= 1")
            return MaxRounds(n)
        leaf_types: dict[str, type[Leaf]] = {"approved": Approved, "consensus": Consensus,
                                             "tests_pass": TestsPass, "guard": Guard}
        return leaf_types[name]()

    # precedence: & binds tighter than |
    def parse_or() -> Condition:
        nonlocal pos
        parts = [parse_and()]
        while pos < len(tokens) and tokens[pos] == "|":
            pos += 1
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else AnyOf(*parts)

    def parse_and() -> Condition:
        nonlocal pos
        parts = [parse_atom()]
        while pos < len(tokens) and tokens[pos] == "&":
            pos += 1
            parts.append(parse_atom())
        return parts[0] if len(parts) == 1 else AllOf(*parts)

    def parse_atom() -> Condition:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            inner = parse_or()
            pos += 1  # ')' (validated above)
            return inner
        return leaf(tok)

    return parse_or()
