"""Dispatch a pattern template to the engine it names (autogen, crewai); `native` never comes
here. Each engine is an optional extra: a missing package is a UserError naming the extra, and
the engine's modules load only when a task runs on it."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from crew.errors import UserError
from crew.patterns.base import PatternContext, PatternResult
from crew.spec.models import PatternSpec


@dataclass(frozen=True)
class EngineInfo:
    module: str  # the import that must be available
    package: str  # what pip installs
    extra: str  # crew's extra
    kinds: tuple[str, ...]  # the pattern kinds it runs


ENGINES: dict[str, EngineInfo] = {
    "autogen": EngineInfo("autogen_agentchat", "autogen-agentchat", "autogen",
                          ("debate", "committee")),
    "crewai": EngineInfo("crewai", "crewai", "crewai", ("review_loop", "supervisor_worker")),
}


def check_engine(engine: str, kind: str, *, template: str = "") -> EngineInfo:
    """The engine's info, or a UserError: unknown engine, package missing, kind unsupported."""
    where = f"pattern {template or kind!r}"
    info = ENGINES.get(engine)
    if info is None:
        raise UserError(f"{where}: unknown engine {engine!r}", field="engine",
                        hint="engines: native, " + ", ".join(ENGINES))
    if kind not in info.kinds:
        raise UserError(f"{where}: the {engine} engine does not run {kind!r} patterns",
                        field="engine", hint=f"{engine} runs: {', '.join(info.kinds)}; "
                                             "use engine: native for the others")
    try:
        found = importlib.util.find_spec(info.module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UserError(f"{where}: engine {engine!r} needs the {info.package} package, which is "
                        "not installed", field="engine",
                        hint=f"pip install 'crew[{info.extra}]', or use engine: native")
    return info


async def run_on_engine(template: PatternSpec, ctx: PatternContext) -> PatternResult:
    """Run `template` (engine autogen or crewai) on `ctx`; same PatternResult as native."""
    check_engine(template.engine, template.kind, template=template.name)
    if template.engine == "autogen":
        from crew.interop.autogen_engine import run_autogen

        return await run_autogen(template.kind, ctx)
    crewai_engine = importlib.import_module("crew.interop.crewai_engine")
    result: PatternResult = await crewai_engine.run_crewai(template, ctx)
    return result
