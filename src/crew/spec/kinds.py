"""One descriptor per pattern kind: its params model, its role rules and where its class lives.

Every table about kinds is derived from these descriptors: the names `crew validate` accepts,
the params it checks and `crew schema pattern` exports, the role counts the planner repairs to,
the params that name a role, and the class the pattern registry loads. Built-in kinds are
declared here exactly as a plugin declares one — through a `PatternKind` — either registered in
process (`register_pattern_kind`) or named by a `crew.patterns` entry point whose object is a
`PatternKind` (or, as before, a pattern class)::

    register_pattern_kind(PatternKind("echo", EchoParams, "my_pkg.echo:EchoPattern",
                                      min_roles=1, description="asks its one role once"))
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from crew.spec.params import (
    CommitteeParams,
    DebateParams,
    NoParams,
    ReviewLoopParams,
    SupervisorWorkerParams,
)


@dataclass(frozen=True)
class PatternKind:
    """A pattern kind: `name` as YAML's `kind:` says it; `params` its params model
    (`extra="forbid"`); `implementation` "module:Class", imported on first use; `min_roles` the
    fewest roles a task of this kind takes (the planner fills up to it); `role_params` the
    params whose value names a crew role (checked against the crew)."""

    name: str
    params: type[BaseModel] = NoParams
    implementation: str = ""
    min_roles: int = 1
    role_params: tuple[str, ...] = ()
    description: str = ""


BUILTIN_PATTERN_KINDS: tuple[PatternKind, ...] = (
    PatternKind("single", NoParams, "crew.patterns.single:Single", 1,
                description="one role does the task"),
    PatternKind("review_loop", ReviewLoopParams, "crew.patterns.review_loop:ReviewLoop", 2,
                description="an author revises until a reviewer approves"),
    PatternKind("supervisor_worker", SupervisorWorkerParams,
                "crew.patterns.supervisor_worker:SupervisorWorker", 2,
                description="a lead splits the task among workers and merges their work"),
    PatternKind("committee", CommitteeParams, "crew.patterns.committee:Committee", 2,
                role_params=("chair",), description="members answer; a vote decides"),
    PatternKind("debate", DebateParams, "crew.patterns.debate:Debate", 2,
                role_params=("judge",), description="debaters argue rounds; a judge decides"),
)

_kinds: dict[str, PatternKind] = {k.name: k for k in BUILTIN_PATTERN_KINDS}


def register_pattern_kind(kind: PatternKind, *, replace: bool = False) -> PatternKind:
    """Make `kind` known to validation, schema, planner and the pattern registry."""
    if not kind.name or not kind.implementation:
        raise ValueError(f"{kind!r}: a pattern kind needs a name and an implementation")
    if not replace and kind.name in _kinds:
        raise ValueError(f"pattern kind {kind.name!r} is already registered")
    _kinds[kind.name] = kind
    return kind


def unregister_pattern_kind(name: str) -> None:
    """Forget a kind registered in process (built-ins stay)."""
    if name not in {k.name for k in BUILTIN_PATTERN_KINDS}:
        _kinds.pop(name, None)


def pattern_kind(name: str) -> PatternKind | None:
    """The descriptor of a kind declared in process (built-in or registered), or None."""
    return _kinds.get(name)


def declared_kinds() -> dict[str, PatternKind]:
    """Every kind declared in process, by name (entry-point kinds load in the registry)."""
    return dict(_kinds)
