"""Composable termination conditions, autogen-style: `MaxRounds(3) | Approved()`.

A pattern fills a `RoundState` after each round and asks its condition whether to stop. A
condition answers with the name of the condition that fired (e.g. "approved"), or None.
`build_termination` turns a template's expression (`approved | max_rounds | budget`) into the
same objects, taking `max_rounds` from the pattern's params.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crew.errors import UserError
from crew.spec.models import parse_termination

_TOKEN = re.compile(r"\s*(\(|\)|\||&|[a-z_]+)\s*")


@dataclass
class RoundState:
    """What a pattern knows after a round; conditions read it."""

    round: int = 0
    approved: bool = False
    consensus: bool = False
    tests_passed: bool | None = None  # None: no gate ran
    budget_exceeded: bool = False
    guard_stopped: bool = False


class Condition:
    """A stop condition. Combine with `|` (either) and `&` (both)."""

    name = "condition"

    def fired(self, state: RoundState) -> str | None:
        """The name of the condition that fired, or None to go on."""
        raise NotImplementedError

    def names(self) -> set[str]:
        return {self.name}

    def __or__(self, other: Condition) -> Condition:
        return AnyOf(self, other)

    def __and__(self, other: Condition) -> Condition:
        return AllOf(self, other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class AnyOf(Condition):
    def __init__(self, *parts: Condition) -> None:
        self.parts = parts

    def fired(self, state: RoundState) -> str | None:
        for p in self.parts:
            hit = p.fired(state)
            if hit:
                return hit
        return None

    def names(self) -> set[str]:
        return set().union(*(p.names() for p in self.parts))

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.parts)) + ")"


class AllOf(Condition):
    def __init__(self, *parts: Condition) -> None:
        self.parts = parts

    def fired(self, state: RoundState) -> str | None:
        hits = [p.fired(state) for p in self.parts]
        return "&".join(h for h in hits if h) if all(hits) else None

    def names(self) -> set[str]:
        return set().union(*(p.names() for p in self.parts))

    def __repr__(self) -> str:
        return "(" + " & ".join(map(repr, self.parts)) + ")"


class MaxRounds(Condition):
    name = "max_rounds"

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError("MaxRounds needs n >= 1")
        self.n = n

    def fired(self, state: RoundState) -> str | None:
        return self.name if state.round >= self.n else None

    def __repr__(self) -> str:
        return f"MaxRounds({self.n})"


class Approved(Condition):
    name = "approved"

    def fired(self, state: RoundState) -> str | None:
        return self.name if state.approved else None


class Consensus(Condition):
    name = "consensus"

    def fired(self, state: RoundState) -> str | None:
        return self.name if state.consensus else None


class TestsPass(Condition):
    name = "tests_pass"
    __test__ = False  # not a pytest class

    def fired(self, state: RoundState) -> str | None:
        return self.name if state.tests_passed else None


class Budget(Condition):
    name = "budget"

    def fired(self, state: RoundState) -> str | None:
        return self.name if state.budget_exceeded else None


class Guard(Condition):
    name = "guard"

    def fired(self, state: RoundState) -> str | None:
        return self.name if state.guard_stopped else None


def build_termination(expr: str, params: Mapping[str, Any], *, max_rounds_param: str = "max_rounds",
                      where: str | None = None) -> Condition:
    """The condition of a template expression. `max_rounds` reads params[max_rounds_param]."""
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
        return {"approved": Approved, "consensus": Consensus, "tests_pass": TestsPass,
                "budget": Budget, "guard": Guard}[name]()

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
