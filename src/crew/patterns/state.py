"""What a pattern checkpoints: one pydantic model per kind over `PatternState`, the part every
kind shares (the last completed round, the conditions that fired after it, the votes and the
degraded decisions so far). `BasePattern` restores it, runs the rounds and saves it; a kind's
loop only says what happens in a round (crew.patterns.base).

On disk it is the `state` of a `{kind: pattern}` record in turns.jsonl (JSON; enums as their
string values).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crew.patterns.decisions import Degraded
from crew.patterns.termination import Fired, Stop


class Outcome(StrEnum):
    """How a pattern ended (PatternResult.outcome); only `done` commits."""

    DONE = "done"
    FAILED = "failed"
    NO_CONSENSUS = "no_consensus"
    BUDGET = "budget"
    GUARD = "guard"


class PatternState(BaseModel):
    """The checkpoint every kind shares. A kind subclasses it with its own fields."""

    model_config = ConfigDict(extra="forbid")

    round: int = 0  # the last completed round (0: none yet)
    fired: list[Stop] | None = None  # what ended the pattern after `round` (None: go on)
    votes: list[dict[str, Any]] = Field(default_factory=list)  # PatternResult.votes so far
    degraded: list[Degraded] = Field(default_factory=list)  # decisions taken by a fallback

    @property
    def stopped(self) -> Fired | None:
        """The conditions that ended the pattern, once its deciding round is saved."""
        return Fired.from_state(self.fired)


class AskRecord(BaseModel):
    """A structured ask as the TurnStore keeps it, so a resumed round replays it instead of
    asking again: the valid answer, or why there was none (and the raw text, if any)."""

    model_config = ConfigDict(extra="forbid")

    answer: dict[str, Any] | None = None
    raw: str | None = None
    error: str = ""
