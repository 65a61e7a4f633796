"""What a run keeps when crew itself fails (a bug): the traceback in the run's crash.txt, and
a minimal report when the full one cannot be rendered. The run stops with status `error` and
`crew resume` continues it (see RunSession.execute)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crew.textsafe import safe_text

if TYPE_CHECKING:
    from crew.run.state import RunState

CRASH_FILE = "crash.txt"


def save_crash(run_dir: Path, e: BaseException) -> Path:
    """Write `e`'s traceback to the run's crash.txt (appended: one per crash); its path (a
    temporary file when the run directory cannot take it)."""
    import tempfile
    import traceback

    text = safe_text("".join(traceback.format_exception(e)))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    path = run_dir / CRASH_FILE
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {stamp}\n{text}\n")
    except OSError:
        fd, name = tempfile.mkstemp(prefix="crew-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        path = Path(name)
    return path


def minimal_report(state: RunState) -> str:
    """The report when the full one cannot be rendered: the status and why."""
    return safe_text(f"# {state.feature_title}\n\nRun `{state.run_id}`: **{state.status}**"
                     f"\n\n{state.stop_reason or ''}\n")


def describe_crash(e: BaseException, where: Path) -> str:
    """One line for the user: a crash is crew's bug, and where its traceback is."""
    what = safe_text(f"{type(e).__name__}: {e}")[:500]
    return f"crew crashed (a bug in crew, not in your feature): {what}; traceback in {where}"
