"""Pattern kinds by name: the built-ins and the `crew.patterns` entry-point group.

A plugin registers a class (anything with `kind` and `async run(ctx) -> PatternResult`); its
`Params` (a pydantic model) declares its params, which `crew validate` and `crew run` check
templates and tasks against (no `Params`: no params):

    [project.entry-points."crew.patterns"]
    echo = "crew_echo_pattern:EchoPattern"
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from crew.errors import UserError
from crew.patterns.base import Pattern, PatternContext, PatternResult
from crew.patterns.engines import NATIVE, default_engines
from crew.spec.models import PatternSpec
from crew.spec.params import BUILTIN_PARAMS, NoParams
from crew.spec.suggest import did_you_mean

ENTRY_POINT_GROUP = "crew.patterns"
_BUILTINS = {
    "single": "crew.patterns.single:Single",
    "review_loop": "crew.patterns.review_loop:ReviewLoop",
    "supervisor_worker": "crew.patterns.supervisor_worker:SupervisorWorker",
    "committee": "crew.patterns.committee:Committee",
    "debate": "crew.patterns.debate:Debate",
}


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class PatternRegistry:
    """kind → pattern class. Built-ins load on first use; entry points when first asked."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self._classes: dict[str, type[Any]] = {}
        self._lazy: dict[str, str] = dict(_BUILTINS)
        self._eps: dict[str, Any] | None = None if entry_points else {}

    def register(self, cls: type[Any], kind: str | None = None, *, replace: bool = False
                 ) -> type[Any]:
        """Register a pattern class (usable as a decorator)."""
        name = kind or getattr(cls, "kind", "")
        if not name:
            raise ValueError(f"{cls!r} has no `kind`")
        if not replace and (name in self._classes or name in self._lazy):
            raise ValueError(f"pattern kind {name!r} is already registered")
        self._lazy.pop(name, None)
        self._classes[name] = cls
        return cls

    def _entry_points(self) -> Mapping[str, Any]:
        if self._eps is None:
            from importlib.metadata import entry_points

            self._eps = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        return self._eps

    def kinds(self) -> list[str]:
        return sorted({*self._classes, *self._lazy, *self._entry_points()})

    def get(self, kind: str) -> type[Any]:
        """The class of `kind`; UserError naming the nearest kind when unknown."""
        if kind in self._classes:
            return self._classes[kind]
        if kind in self._lazy:
            cls = _load(self._lazy.pop(kind))
        elif kind in self._entry_points():
            ep = self._entry_points()[kind]
            try:
                cls = ep.load()
            except Exception as e:  # a broken plugin is the user's environment problem
                raise UserError(f"pattern plugin {kind!r} ({ep.value}) failed to load: {e}",
                                hint="fix or uninstall the package providing it") from None
            if not callable(getattr(cls, "run", None)):
                raise UserError(f"pattern plugin {kind!r} ({ep.value}) has no run(ctx) method")
        else:
            kinds = self.kinds()
            raise UserError(f"unknown pattern kind {kind!r}{did_you_mean(kind, kinds)}",
                            field="kind", hint="kinds: " + ", ".join(kinds))
        self._classes[kind] = cls
        return cls  # type: ignore[no-any-return]

    def params_model(self, kind: str) -> type[BaseModel]:
        """The kind's params model: its class's `Params` (a pydantic model; none declared: no
        params). A built-in not yet loaded is answered without importing it."""
        if kind in self._lazy and kind in BUILTIN_PARAMS:
            return BUILTIN_PARAMS[kind]
        model = getattr(self.get(kind), "Params", NoParams)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise UserError(f"pattern kind {kind!r}: its Params is not a pydantic model",
                            hint="declare `Params = SomeModel` (a pydantic BaseModel subclass)")
        return model

    def create(self, kind: str) -> Pattern:
        pattern: Pattern = self.get(kind)()
        return pattern

    async def run(self, template: PatternSpec, ctx: PatternContext) -> PatternResult:
        """Run the template's kind on `ctx` (whose task params are already merged)."""
        if ctx.termination is None:
            ctx.termination = template.termination
        if template.engine != NATIVE:  # the same pattern; its members take turns on the engine
            engine = default_engines().check(template.engine, template.kind,
                                             template=template.name)
            ctx.turns = engine.member_turns()
        return await self.create(template.kind).run(ctx)


_default: PatternRegistry | None = None


def default_registry() -> PatternRegistry:
    global _default
    if _default is None:
        _default = PatternRegistry()
    return _default


def merge_params(template: PatternSpec, task_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The template's params overridden by the task's."""
    return {**template.params, **dict(task_params or {})}
