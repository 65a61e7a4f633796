"""When a session's state.json is written: after every LLM call and task change, by the
writer thread at most once per `CHECKPOINT_INTERVAL_S` (a later request is deferred, not
dropped), or at once without a writer; `flush`/`durable` put the latest on disk."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crew.run.journal import StateWriter
from crew.run.state import RunState, save_state, state_text

CHECKPOINT_INTERVAL_S = 0.05  # state.json at most this often (journals: every record)


@dataclass
class Checkpointer:
    """Checkpoints one session's `state`; `snapshot` fills its totals just before a write."""

    run_dir: Path
    state: RunState
    snapshot: Callable[[], None]
    writer: StateWriter | None = None  # None: state.json is written synchronously
    _dirty: bool = False
    _last_request: float = float("-inf")
    _later: asyncio.TimerHandle | None = None

    def checkpoint(self) -> None:
        """Checkpoint state.json (small: O(tasks)): now without a writer, else soon."""
        self._dirty = True
        if self.writer is None:
            self.snapshot()
            save_state(self.run_dir, self.state)
            return
        wait = self._last_request + CHECKPOINT_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self._request()
        elif self._later is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the next flush sends it
                self._later = asyncio.get_running_loop().call_later(wait, self._request)

    def _request(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if self._dirty and self.writer is not None:
            self.snapshot()
            self.writer.request(state_text(self.state))
            self._dirty, self._last_request = False, time.monotonic()

    def flush(self) -> None:
        """Block until the latest checkpoint is on disk (at exit)."""
        self._request()
        if self.writer is not None:
            self.writer.flush()

    async def durable(self) -> None:
        """Wait, off the loop, until the latest checkpoint is on disk."""
        self._request()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.flush)
