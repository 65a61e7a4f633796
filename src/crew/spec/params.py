"""The params of each built-in pattern kind: one pydantic model per kind (`extra="forbid"`,
ranges). The pattern classes use these (`Debate.Params is DebateParams`), `crew validate` checks
templates and tasks against them, and `crew schema pattern` exports them. A plugin kind declares
its own (crew.spec.kinds: one descriptor per kind holds its params model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NoParams(BaseModel):
    """A kind that takes no params (`single`, and a plugin class without `Params`)."""

    model_config = ConfigDict(extra="forbid")


class ReviewLoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_rounds: int = Field(default=3, ge=1, le=20)
    gate: str | None = None  # shell command that must pass (in the sandbox) before review
    gate_timeout: float = Field(default=600.0, gt=0)


class SupervisorWorkerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_rounds: int = Field(default=2, ge=1, le=10)
    max_subtasks: int = Field(default=4, ge=1, le=16)


class CommitteeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aggregation: Literal["majority", "ranking", "chair"] = "majority"
    quorum: int = Field(default=2, ge=1)
    chair: str = "reviewer"
    apply: bool = True
    options: list[str] | None = None  # restrict text answers to these choices
    models: list[str] | None = None  # per member, by position: a router alias
    temperatures: list[float] | None = None  # per member, by position


class DebateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(default=2, ge=1, le=10)
    judge: str = "reviewer"
    early_stop: bool = True

