"""The sink protocol (the hook surface) and the ``crew.sinks`` entry-point registry.

A plugin registers a factory in its package metadata::

    [project.entry-points."crew.sinks"]
    my-sink = "my_pkg.sinks:make_sink"        # make_sink(info: RunInfo) -> TraceSink

and receives every (redacted) event of every run as a dict shaped as described in
``crew.observability.events``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from crew.errors import UserError
from crew.plugins import entry_point_names
from crew.spec.suggest import did_you_mean

SINKS_GROUP = "crew.sinks"


@runtime_checkable
class TraceSink(Protocol):
    """Receives every event of a run. Must be fast and thread-safe; exceptions are contained."""

    def on_event(self, event: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunInfo:
    """What a sink factory is told about the run it will receive."""

    run_id: str
    feature: str
    run_dir: Path | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None  # Langfuse session (default: the run id; crew eval: its id)


SinkFactory = Callable[[RunInfo], TraceSink]


def available_sinks() -> frozenset[str]:
    """Names of the installed ``crew.sinks`` plugins."""
    return entry_point_names(SINKS_GROUP)


def load_sinks(names: Iterable[str] | None, info: RunInfo) -> list[TraceSink]:
    """Instantiate plugin sinks: ``names=None`` loads every installed one.

    An unknown name is a UserError; a plugin that fails to load or build is a UserError
    naming the plugin (a broken plugin must not silently lose the user's traces).
    """
    eps = {ep.name: ep for ep in entry_points(group=SINKS_GROUP)}
    wanted = sorted(eps) if names is None else list(names)
    sinks: list[TraceSink] = []
    for name in wanted:
        ep = eps.get(name)
        if ep is None:
            raise UserError(
                f"unknown trace sink {name!r}" + did_you_mean(name, eps),
                field="sinks",
                hint="installed sinks: " + (", ".join(sorted(eps)) or "none"),
            )
        try:
            factory = ep.load()
            sink = factory(info)
        except Exception as exc:
            raise UserError(
                f"trace sink plugin {name!r} ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                field="sinks",
                hint="fix or uninstall the plugin",
            ) from exc
        if not isinstance(sink, TraceSink):
            raise UserError(
                f"trace sink plugin {name!r} ({ep.value}) returned {type(sink).__name__}, "
                "which lacks on_event/flush/close",
                field="sinks",
            )
        sinks.append(sink)
    return sinks
