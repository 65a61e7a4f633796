"""Termination conditions: composition with | and &, and building them from expressions."""

from __future__ import annotations

import pytest

from crew.errors import UserError
from crew.patterns.termination import (
    Approved,
    Budget,
    Consensus,
    Guard,
    MaxRounds,
    RoundState,
    TestsPass,
    build_termination,
)


def test_or_fires_on_either_and_names_the_one_that_fired() -> None:
    cond = MaxRounds(3) | Approved()
    assert cond.fired(RoundState(round=1)) is None
    assert cond.fired(RoundState(round=1, approved=True)) == "approved"
    assert cond.fired(RoundState(round=3)) == "max_rounds"
    assert cond.names() == {"max_rounds", "approved"}


def test_and_needs_both() -> None:
    cond = Approved() & TestsPass()
    assert cond.fired(RoundState(approved=True, tests_passed=False)) is None
    assert cond.fired(RoundState(approved=False, tests_passed=True)) is None
    assert cond.fired(RoundState(approved=True, tests_passed=True)) == "approved&tests_pass"


def test_build_from_expression_respects_precedence_and_parens() -> None:
    cond = build_termination("max_rounds | approved & tests_pass", {"max_rounds": 2})
    assert cond.fired(RoundState(round=1, approved=True)) is None
    assert cond.fired(RoundState(round=2)) == "max_rounds"
    cond2 = build_termination("(max_rounds | approved) & tests_pass", {"max_rounds": 2})
    assert cond2.fired(RoundState(round=2, tests_passed=False)) is None
    assert cond2.fired(RoundState(round=1, approved=True, tests_passed=True))
    every = build_termination("consensus | guard | budget", {})
    assert every.fired(RoundState(consensus=True)) == "consensus"
    assert every.fired(RoundState(guard_stopped=True)) == "guard"
    assert every.fired(RoundState(budget_exceeded=True)) == "budget"
    assert repr(Consensus() | Guard() | Budget())


def test_max_rounds_param_name_and_bad_values_are_user_errors() -> None:
    cond = build_termination("max_rounds", {"rounds": 2}, max_rounds_param="rounds")
    assert cond.fired(RoundState(round=2)) == "max_rounds"
    with pytest.raises(UserError, match="max_rounds"):
        build_termination("max_rounds", {})
    with pytest.raises(UserError, match="unknown termination condition 'aproved'"):
        build_termination("aproved | budget", {})
    with pytest.raises(ValueError):
        MaxRounds(0)
