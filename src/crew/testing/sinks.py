"""ListSink: a trace sink that keeps every event in memory, for asserting what a run traced."""

from __future__ import annotations

import threading
from typing import Any


class ListSink:
    """A TraceSink (crew.observability.sinks) keeping events in `events`, in arrival order.

    Pass it where a sink is taken, e.g. `Tracer(run_id, sinks=[sink])`, then assert on
    `sink.events` or `sink.named("decision_degraded")`. Thread-safe, as sinks must be."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self._lock = threading.Lock()

    def on_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def named(self, name: str) -> list[dict[str, Any]]:
        """The events whose `name` (or `event`) is `name`."""
        with self._lock:
            return [e for e in self.events if name in (e.get("name"), e.get("event"))]

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        self.closed = True
