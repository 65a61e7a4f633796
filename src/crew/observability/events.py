"""The event record every sink receives, and the local sink: ``<run dir>/events.jsonl``.

One event is a flat JSON object::

    {"id": "9f1c2a3b4d5e6f70", "parent_id": "…" | null, "type": "generation.start",
     "name": "smart", "ts": 1763721600.123456, "payload": {...}}

Observations (run, task, round, agent, generation, tool) write a ``<kind>.start`` and a
``<kind>.end`` event sharing one ``id``; point events (budget warnings, guard stops, gate
results, the Langfuse trace location) have type ``event``. ``parent_id`` is the id of the
enclosing observation. Payloads are already redacted and JSON-safe when a sink sees them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from crew.errors import UserError

EVENTS_FILE = "events.jsonl"

OBSERVATION_KINDS = ("run", "task", "round", "agent", "generation", "tool")
POINT_EVENT = "event"

Event = dict[str, Any]


def dumps(event: Event) -> str:
    """One event as a single JSON line (no trailing newline)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)


class EventLogSink:
    """Appends every event to ``events.jsonl``, one line each, line-buffered.

    A crash loses at most the event being written. Thread-safe; never raises from
    ``on_event`` once open (a full disk is reported once through the tracer).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / EVENTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8", buffering=1)

    def on_event(self, event: Event) -> None:
        line = dumps(event) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


def read_events(run_dir: str | Path) -> list[Event]:
    """The events of a run, in write order. A torn last line (a crash mid-write) is skipped.

    Raises UserError when the run directory has no event log.
    """
    path = Path(run_dir) / EVENTS_FILE
    if not path.is_file():
        raise UserError(
            f"no event log at {path}",
            file=str(path),
            hint="pass the directory of a run, e.g. .crew/runs/<run-id>",
        )
    events: list[Event] = []
    with path.open(encoding="utf-8") as f:
        lines = f.read().split("\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if i >= last - 1:  # the line being written when the process died
                continue
            raise UserError(f"corrupt event log line: {exc.msg}", file=str(path),
                            line=i + 1, hint="the file was edited by hand?") from None
        if isinstance(obj, dict):
            events.append(obj)
    return events
