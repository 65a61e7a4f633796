"""Pattern params and engines, checked at validation: a template's `params` and `engine:` against
its kind, and each pinned task's `params` (merged over its template's) and `engine:`.

The spec layer knows the built-in kinds' params (crew.spec.params) and nothing of plugins or
engines; those come from the layer above through a `PatternKinds` (crew.patterns.checks), which
`crew validate` and `crew run` pass in. Without one, only built-in params are checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from crew.errors import Problem, UserError
from crew.spec.kinds import PatternKind, pattern_kind
from crew.spec.loader import Loaded, error_problem
from crew.spec.models import FeatureSpec, PatternSpec
from crew.spec.yamlio import Loc, YamlDoc

NATIVE = "native"


@dataclass(frozen=True)
class EngineIssue:
    """Why an engine cannot run a kind. `warning`: reported, not refused (its package is
    missing when only validating)."""

    message: str
    hint: str | None = None
    warning: bool = False


class PatternKinds(Protocol):
    """What the layer above spec knows about pattern kinds and engines."""

    def params_model(self, kind: str) -> type[BaseModel] | None:
        """The kind's params model; None when the kind is unknown (reported elsewhere).
        Raises UserError when the kind's plugin is broken."""
        ...

    def engine_issue(self, engine: str, kind: str) -> EngineIssue | None:
        """Why `engine` cannot run `kind` here, or None."""
        ...

    def descriptor(self, kind: str) -> PatternKind | None:
        """The kind's descriptor (role rules included); None when the kind is unknown."""
        ...


class Sink(Protocol):
    def add(self, p: Problem) -> None: ...

    def warn(self, p: Problem) -> None: ...


class BuiltinKinds:
    """What spec knows alone: the kinds declared in process (crew.spec.kinds); entry-point
    kinds and engines unchecked."""

    def params_model(self, kind: str) -> type[BaseModel] | None:
        found = pattern_kind(kind)
        return found.params if found else None

    def engine_issue(self, engine: str, kind: str) -> EngineIssue | None:
        return None

    def descriptor(self, kind: str) -> PatternKind | None:
        return pattern_kind(kind)


def params_problems(doc: YamlDoc, prefix: Loc, params: Mapping[str, Any],
                    model: type[BaseModel], kind: str, *, keep: Any = None) -> list[Problem]:
    """`params` (found at `prefix` in doc) checked against `model`. `keep(error)` filters
    pydantic's errors (default: all)."""
    try:
        model.model_validate(dict(params))
    except ValidationError as e:
        out = []
        for x in e.errors(include_url=False):
            p = error_problem(x, doc, model, prefix) if keep is None or keep(x) else None
            if p is not None and p.hint is None and x["type"] == "extra_forbidden":
                p = replace(p, hint=f"the {kind} pattern takes no params")  # no fields at all
            if p is not None:
                out.append(p)
        return out
    return []


def params_messages(params: Mapping[str, Any], model: type[BaseModel], kind: str) -> list[str]:
    """Problems of params that come from no file (a plan), as 'params.x: message (hint)'."""
    found = params_problems(YamlDoc(Path("plan"), {}), ("params",), params, model, kind)
    return [f"{p.field}: {p.message}" + (f" ({p.hint})" if p.hint else "") for p in found]


def _model(owner: Loaded[Any], kind: str, kinds: PatternKinds, c: Sink | None
           ) -> type[BaseModel] | None:
    try:
        return kinds.params_model(kind)
    except UserError as e:  # a broken plugin: report it where the kind is named
        if c is not None:
            for p in e.problems:
                c.add(owner.problem(p.message, ("kind",), hint=p.hint))
        return None


def _engine(owner: Loaded[Any], loc: Loc, engine: str, kind: str, kinds: PatternKinds,
            c: Sink) -> None:
    if engine == NATIVE:
        return
    issue = kinds.engine_issue(engine, kind)
    if issue is not None:
        problem = owner.problem(issue.message, loc, hint=issue.hint)
        (c.warn if issue.warning else c.add)(problem)


def check_template(p: Loaded[PatternSpec], kinds: PatternKinds, c: Sink) -> None:
    """A pattern template's params and engine against its kind."""
    spec = p.spec
    model = _model(p, spec.kind, kinds, c)
    if model is not None:
        for prob in params_problems(p.doc, ("params",), spec.params, model, spec.kind):
            c.add(prob)
    _engine(p, ("engine",), spec.engine, spec.kind, kinds, c)


def check_task(feature: Loaded[FeatureSpec], i: int, template: Loaded[PatternSpec],
               kinds: PatternKinds, c: Sink) -> None:
    """Pinned task i's params merged over its template's, and its engine, against the kind.
    A problem of the template's own params is the template's (reported there, once)."""
    t = feature.spec.tasks[i]
    kind = template.spec.kind
    if t.engine is not None:
        _engine(feature, ("tasks", i, "engine"), t.engine, kind, kinds, c)
    if not t.params:
        return
    model = _model(template, kind, kinds, None)
    if model is None:
        return
    own = set(t.params)
    template_ok = not params_problems(template.doc, (), template.spec.params, model, kind)

    def keep(err: Any) -> bool:  # the task's keys, or a combination the template alone passes
        loc = err["loc"]
        return (bool(loc) and loc[0] in own) or template_ok

    merged = {**template.spec.params, **t.params}
    for prob in params_problems(feature.doc, ("tasks", i, "params"), merged, model, kind,
                                keep=keep):
        c.add(prob)
