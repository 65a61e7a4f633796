"""The spec layer's `PatternKinds` answered from the registries: every kind's params model (a
plugin's `Params` included) and which engines run which kinds. `crew validate` passes
`pattern_kinds()`; `crew run`/`resume` pass `pattern_kinds(require_installed=True)`, so a bad
param or engine stops them before any run directory, branch or model call exists."""

from __future__ import annotations

from pydantic import BaseModel

from crew.errors import UserError
from crew.patterns.engines import EngineRegistry, default_engines
from crew.patterns.registry import PatternRegistry, default_registry
from crew.spec.pattern_check import EngineIssue


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
