"""Pattern kinds by name: the built-ins and the `crew.patterns` entry-point group.

Every kind has one descriptor (crew.spec.kinds.PatternKind: params model, role rules, class).
A plugin declares one exactly as the built-ins do, or registers a class (anything with `kind`
and `async run(ctx) -> PatternResult`) whose `Params`, `min_roles` and `role_params` make its
descriptor (no `Params`: no params):

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
from crew.spec.kinds import PatternKind, declared_kinds, pattern_kind
from crew.spec.models import PatternSpec
from crew.spec.params import NoParams
from crew.spec.suggest import did_you_mean

ENTRY_POINT_GROUP = "crew.patterns"


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _described(cls: type[Any], name: str) -> PatternKind:
    """The descriptor of a pattern class registered without one (its class attributes)."""
    params = getattr(cls, "Params", NoParams)
    return PatternKind(name, params, f"{cls.__module__}:{cls.__qualname__}",
                       min_roles=int(getattr(cls, "min_roles", 1)),
                       role_params=tuple(getattr(cls, "role_params", ())),
                       description=(cls.__doc__ or "").strip().split("\n")[0])


class PatternRegistry:
    """kind → pattern class. Declared kinds (crew.spec.kinds: the built-ins and any registered
    descriptor) load on first use; entry points when first asked."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self._classes: dict[str, type[Any]] = {}
        self._descriptors: dict[str, PatternKind] = {}
        self._eps: dict[str, Any] | None = None if entry_points else {}

    def register(self, cls: type[Any], kind: str | None = None, *, replace: bool = False
                 ) -> type[Any]:
        """Register a pattern class (usable as a decorator)."""
        name = kind or getattr(cls, "kind", "")
        if not name:
            raise ValueError(f"{cls!r} has no `kind`")
        if not replace and (name in self._classes or name in declared_kinds()):
            raise ValueError(f"pattern kind {name!r} is already registered")
        self._classes[name] = cls
        self._descriptors[name] = _described(cls, name)
        return cls

    def _entry_points(self) -> Mapping[str, Any]:
        if self._eps is None:
            from importlib.metadata import entry_points

            self._eps = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        return self._eps

    def kinds(self) -> list[str]:
        return sorted({*self._classes, *declared_kinds(), *self._entry_points()})

    def descriptor(self, kind: str) -> PatternKind:
        """The kind's descriptor: declared, or derived from its (plugin) class."""
        if kind in self._descriptors:
            return self._descriptors[kind]
        declared = pattern_kind(kind)
        if declared is not None:
            return declared
        self.get(kind)
        return self._descriptors[kind]

    def get(self, kind: str) -> type[Any]:
        """The class of `kind`; UserError naming the nearest kind when unknown."""
        if kind in self._classes:
            return self._classes[kind]
        declared = pattern_kind(kind)
        if declared is not None:
            cls: type[Any] = _load(declared.implementation)
            desc = declared
        elif kind in self._entry_points():
            cls, desc = self._load_entry_point(kind)
        else:
            kinds = self.kinds()
            raise UserError(f"unknown pattern kind {kind!r}{did_you_mean(kind, kinds)}",
                            field="kind", hint="kinds: " + ", ".join(kinds))
        self._classes[kind] = cls
        self._descriptors[kind] = desc
        return cls

    def _load_entry_point(self, kind: str) -> tuple[type[Any], PatternKind]:
        ep = self._entry_points()[kind]
        try:
            obj = ep.load()
            desc = obj if isinstance(obj, PatternKind) else None
            cls = _load(desc.implementation) if desc else obj
        except Exception as e:  # a broken plugin is the user's environment problem
            raise UserError(f"pattern plugin {kind!r} ({ep.value}) failed to load: {e}",
                            hint="fix or uninstall the package providing it") from None
        if not callable(getattr(cls, "run", None)):
            raise UserError(f"pattern plugin {kind!r} ({ep.value}) has no run(ctx) method")
        return cls, desc or _described(cls, kind)

    def params_model(self, kind: str) -> type[BaseModel]:
        """The kind's params model (its descriptor's; a declared kind is answered without
        importing its class)."""
        model = self.descriptor(kind).params
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
