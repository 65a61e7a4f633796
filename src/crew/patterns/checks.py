"""The spec layer's `PatternKinds` answered from the registries: every kind's params model (a
plugin's `Params` included) and which engines run which kinds. `crew validate` passes
`pattern_kinds()`; `crew run`/`resume` pass `pattern_kinds(require_installed=True)`, so a bad
param or engine stops them before any run directory, branch or model call exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from crew.errors import UserError
from crew.patterns.engines import NATIVE, EngineRegistry, default_engines
from crew.patterns.registry import PatternRegistry, default_registry, merge_params
from crew.spec.kinds import PatternKind
from crew.spec.models import PatternSpec
from crew.spec.pattern_check import EngineIssue, PatternKinds, params_messages


class RegistryKinds:
    """Params models and engine checks from the pattern and engine registries. An engine whose
    package is missing is a warning unless `require_installed` (then an error)."""

    def __init__(self, registry: PatternRegistry | None = None,
                 engines: EngineRegistry | None = None, *, require_installed: bool = False
                 ) -> None:
        self.registry = registry or default_registry()
        self.engines = engines or default_engines()
        self.require_installed = require_installed

    def params_model(self, kind: str) -> type[BaseModel] | None:
        if kind not in self.registry.kinds():
            return None
        return self.registry.params_model(kind)

    def descriptor(self, kind: str) -> PatternKind | None:
        if kind not in self.registry.kinds():
            return None
        return self.registry.descriptor(kind)

    def engine_issue(self, engine: str, kind: str) -> EngineIssue | None:
        try:
            self.engines.check(engine, kind, installed=False)
        except UserError as e:
            return EngineIssue(e.problems[0].message, e.problems[0].hint)
        try:
            self.engines.check(engine, kind)
        except UserError as e:
            return EngineIssue(e.problems[0].message, e.problems[0].hint,
                               warning=not self.require_installed)
        return None


def pattern_kinds(*, require_installed: bool = False) -> RegistryKinds:
    """The default registries' answers (for `crew validate`, `crew run`)."""
    return RegistryKinds(require_installed=require_installed)


def task_problems(template: PatternSpec, params: Mapping[str, Any], engine: str | None,
                  kinds: PatternKinds) -> list[str]:
    """A planned task's params (merged over its template's) and engine against the template's
    kind, as short lines (a plan has no file positions)."""
    out: list[str] = []
    if engine is not None and engine != NATIVE:
        issue = kinds.engine_issue(engine, template.kind)
        if issue is not None:
            out.append(f"engine: {issue.message}" + (f" ({issue.hint})" if issue.hint else ""))
    try:
        model = kinds.params_model(template.kind)
    except UserError as e:
        return [*out, e.problems[0].message]
    if model is not None:
        out += params_messages(merge_params(template, params), model, template.kind)
    return out
