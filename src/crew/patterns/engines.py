"""Engines by name: `native` (crew's own member turns) and the `crew.engines` entry-point group.

An engine changes only how a pattern's members take their turns (a `MemberTurns`, see
crew.patterns.turns); the pattern's loop is crew's. A plugin declares an `EngineSpec` (a light
object: importing it must not import the framework) whose `turns` names the factory:

    [project.entry-points."crew.engines"]
    autogen = "crew.interop.engines:AUTOGEN"
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crew.errors import UserError
from crew.patterns.turns import NATIVE_TURNS, MemberTurns
from crew.spec.suggest import did_you_mean

ENTRY_POINT_GROUP = "crew.engines"
NATIVE = "native"


@dataclass(frozen=True)
class EngineSpec:
    """What an engine runs and needs. `kinds` None: every pattern kind."""

    name: str
    kinds: tuple[str, ...] | None = None
    requires: str | None = None  # a module that must be importable (the framework)
    package: str = ""  # what pip installs for it
    extra: str = ""  # crew's extra that installs it
    turns: str = ""  # "module:attr" of its MemberTurns factory, imported on first use

    def runs(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def installed(self) -> bool:
        if self.requires is None:
            return True
        try:
            return importlib.util.find_spec(self.requires) is not None
        except (ImportError, ValueError):
            return False

    def member_turns(self) -> MemberTurns:
        """A fresh MemberTurns of this engine (imports the framework)."""
        if not self.turns:
            return NATIVE_TURNS
        module, _, attr = self.turns.partition(":")
        made: MemberTurns = getattr(importlib.import_module(module), attr)()
        return made


NATIVE_ENGINE = EngineSpec(NATIVE)


class EngineRegistry:
    """name → EngineSpec: native, then entry points (read when first asked)."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self._specs: dict[str, EngineSpec] = {NATIVE: NATIVE_ENGINE}
        self._eps: dict[str, Any] | None = None if entry_points else {}

    def register(self, spec: EngineSpec, *, replace: bool = False) -> EngineSpec:
        if not replace and spec.name in self._specs:
            raise ValueError(f"engine {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def _entry_points(self) -> Mapping[str, Any]:
        if self._eps is None:
            from importlib.metadata import entry_points

            self._eps = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        return self._eps

    def names(self) -> list[str]:
        return sorted({*self._specs, *self._entry_points()})

    def get(self, name: str) -> EngineSpec:
        """The engine's spec; UserError naming the nearest engine when unknown."""
        if name in self._specs:
            return self._specs[name]
        ep = self._entry_points().get(name)
        if ep is None:
            names = self.names()
            raise UserError(f"unknown engine {name!r}{did_you_mean(name, names)}",
                            field="engine", hint="engines: " + ", ".join(names))
        try:
            spec = ep.load()
        except Exception as e:  # a broken plugin is the user's environment problem
            raise UserError(f"engine plugin {name!r} ({ep.value}) failed to load: {e}",
                            hint="fix or uninstall the package providing it") from None
        if not isinstance(spec, EngineSpec):
            raise UserError(f"engine plugin {name!r} ({ep.value}) is not an EngineSpec")
        self._specs[name] = spec
        return spec

    def check(self, name: str, kind: str, *, template: str = "", installed: bool = True
              ) -> EngineSpec:
        """The engine's spec, or a UserError: unknown engine, kind not run, package missing."""
        where = f"pattern {template or kind!r}"
        try:
            spec = self.get(name)
        except UserError as e:
            first = e.problems[0]
            raise UserError(f"{where}: {first.message}", field="engine", hint=first.hint
                            ) from None
        if not spec.runs(kind):
            raise UserError(f"{where}: the {name} engine does not run {kind!r} patterns",
                            field="engine", hint=f"{name} runs: {', '.join(spec.kinds or ())}; "
                                                 "use engine: native for the others")
        if installed and not spec.installed():
            raise UserError(f"{where}: engine {name!r} needs the {spec.package} package, which "
                            "is not installed", field="engine",
                            hint=f"pip install 'crew[{spec.extra}]', or use engine: native")
        return spec


_default: EngineRegistry | None = None


def default_engines() -> EngineRegistry:
    global _default
    if _default is None:
        _default = EngineRegistry()
    return _default
