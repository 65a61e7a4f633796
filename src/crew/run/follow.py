"""Follow a run as it happens, from any process: the events appended to its events.jsonl, and
its end (no process holds the run's lock any more) with its status and exit code.

Used by `crew show RUN_ID --follow` and `crew ui`::

    end = follow(run_dir, print)      # every event, then RunEnd(status, exit_code)

Read-only: the run directory is never written (the lock is only probed, as `crew runs` does).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crew.errors import UserError
from crew.run.state import is_locked, load_state, run_label

EVENTS_FILE = "events.jsonl"  # = crew.observability.events.EVENTS_FILE
# The exit code of `crew run` for each status (crew.run.state.RunStatus.exit_code) and for
# what `crew runs` calls a run whose process is gone: killed mid-run is "interrupted" (4).
_EXIT = {"passed": 0, "failed": 1, "error": 1, "budget": 3, "interrupted": 4, "rejected": 5,
         "plan-only": 0, "failed to start": 1}

Event = dict[str, Any]


@dataclass(frozen=True)
class RunEnd:
    """How a run ended: its status as `crew runs` names it and `crew run`'s exit code."""

    status: str
    exit_code: int


class EventTail:
    """Reads the complete lines appended to a run's events.jsonl since the last call (a line
    still being written waits for its newline; a line that is not a JSON object is skipped)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / EVENTS_FILE
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[Event]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        out: list[Event] = []
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out


def run_end(run_dir: Path) -> RunEnd | None:
    """None while a process holds the run; else how it ended."""
    if is_locked(run_dir):
        return None
    try:
        state = load_state(run_dir)
    except (UserError, ValueError):
        state = None
    label = run_label(run_dir, state)
    return RunEnd(label, _EXIT.get(label, 1))


def follow(run_dir: Path, on_event: Callable[[Event], None], *, poll_s: float = 0.2,
           sleep: Callable[[float], None] = time.sleep) -> RunEnd:
    """Hand every event of the run to `on_event` (those already written first, then each as
    it is appended) until the run ends; returns how it ended."""
    tail = EventTail(run_dir)
    while True:
        end = run_end(run_dir)  # probed before reading: every event of an ended run is read
        for event in tail.read_new():
            on_event(event)
        if end is not None:
            return end
        sleep(poll_s)
