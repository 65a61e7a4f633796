"""Termination conditions: composition with | and &, building them from expressions, and the
structured value a condition answers with (`Fired`: which `Stop`s fired, never a string)."""

from __future__ import annotations

import pytest

from crew.errors import UserError
from crew.patterns.base import Outcome, stop_outcome
from crew.patterns.termination import (
    Approved,
    Consensus,
    Fired,
    Guard,
    MaxRounds,
    Never,
    RoundState,
    Stop,
    TestsPass,
    build_termination,
)


def test_or_fires_on_either_and_names_the_one_that_fired() -> None:
    cond = MaxRounds(3) | Approved()
    assert cond.fired(RoundState(round=1)) is None
    assert cond.fired(RoundState(round=1, approved=True)) == Fired.of(Stop.APPROVED)
    assert cond.fired(RoundState(round=3)) == Fired.of(Stop.MAX_ROUNDS)
    assert cond.names() == {Stop.MAX_ROUNDS, Stop.APPROVED}


def test_and_needs_both() -> None:
    cond = Approved() & TestsPass()
    assert cond.fired(RoundState(approved=True, tests_passed=False)) is None
    assert cond.fired(RoundState(approved=False, tests_passed=True)) is None
    both = cond.fired(RoundState(approved=True, tests_passed=True))
    assert both == Fired.of(Stop.APPROVED, Stop.TESTS_PASS)
    assert both is not None and Stop.TESTS_PASS in both and Stop.GUARD not in both
    assert both.label == "approved&tests_pass"


def test_build_from_expression_respects_precedence_and_parens() -> None:
    cond = build_termination("max_rounds | approved & tests_pass", {"max_rounds": 2})
    assert cond.fired(RoundState(round=1, approved=True)) is None
    assert cond.fired(RoundState(round=2)) == Fired.of(Stop.MAX_ROUNDS)
    cond2 = build_termination("(max_rounds | approved) & tests_pass", {"max_rounds": 2})
    assert cond2.fired(RoundState(round=2, tests_passed=False)) is None
    assert cond2.fired(RoundState(round=1, approved=True, tests_passed=True))
    every = build_termination("consensus | guard", {})
    assert every.fired(RoundState(consensus=True)) == Fired.of(Stop.CONSENSUS)
    assert every.fired(RoundState(guard_stopped=True)) == Fired.of(Stop.GUARD)
    assert repr(Consensus() | Guard())
    assert isinstance(build_termination("", {}), Never)
    assert Never().fired(RoundState(round=9, approved=True, guard_stopped=True)) is None


def test_budget_is_not_a_condition() -> None:
    """A budget stop always ends a pattern (BudgetExceeded → Outcome.BUDGET): no keyword."""
    with pytest.raises(UserError, match="'budget' is not a termination condition"):
        build_termination("approved | budget", {})


def test_fired_round_trips_through_a_checkpoint() -> None:
    fired = Fired.of(Stop.APPROVED, Stop.TESTS_PASS)
    assert Fired.from_state(fired.to_state()) == fired
    assert Fired.from_state(None) is None and Fired.from_state([]) is None


def test_stop_outcome_maps_values_not_strings() -> None:
    assert stop_outcome(Fired.of(Stop.GUARD)) is Outcome.GUARD
    assert stop_outcome(Fired.of(Stop.MAX_ROUNDS, Stop.GUARD)) is Outcome.GUARD
    assert stop_outcome(Fired.of(Stop.MAX_ROUNDS)) is None  # the pattern decides
    assert stop_outcome(Fired.of(Stop.APPROVED)) is Outcome.DONE
    assert stop_outcome(Fired.of(Stop.MAX_ROUNDS, Stop.TESTS_PASS)) is Outcome.DONE


def test_max_rounds_param_name_and_bad_values_are_user_errors() -> None:
    cond = build_termination("max_rounds", {"rounds": 2}, max_rounds_param="rounds")
    assert cond.fired(RoundState(round=2)) == Fired.of(Stop.MAX_ROUNDS)
    with pytest.raises(UserError, match="max_rounds"):
        build_termination("max_rounds", {})
    with pytest.raises(UserError, match="unknown termination condition 'aproved'"):
        build_termination("aproved | guard", {})
    with pytest.raises(ValueError):
        MaxRounds(0)
