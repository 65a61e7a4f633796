"""The per-user index of runs: one JSON line per run started on this machine, so `crew resume
RUN_ID` and `crew show RUN_ID` find a run from any directory.

The file is `$XDG_STATE_HOME/crew/runs.jsonl` (default `~/.local/state/crew/runs.jsonl`). Lines are appended (one `write` of a short line with
O_APPEND, so concurrent runs never interleave) and never rewritten except by `crew clean`,
which drops the lines of the runs it removed. A line whose run directory is gone is ignored.
The index holds paths and ids only, nothing secret.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

INDEX_FILE = "runs.jsonl"


@dataclass(frozen=True)
class IndexEntry:
    run_id: str
    repo: Path
    run_dir: Path
    feature: str = ""
    created_at: float = 0.0


def index_path() -> Path:
    """Where the index lives (XDG_STATE_HOME honoured, so tests and users can move it)."""
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "crew" / INDEX_FILE


def record_run(run_id: str, repo: Path, run_dir: Path, feature: str = "") -> str | None:
    """Append the run to the index. Returns None, or why it could not be written (the run
    goes on; the caller tells the user to pass --repo)."""
    run_dir = run_dir.resolve()
    line = json.dumps({"run_id": run_id, "repo": str(repo), "run_dir": str(run_dir),
                       "feature": feature, "created_at": round(time.time(), 3)},
                      ensure_ascii=False) + "\n"
    path = index_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # `crew clean` rewrites the file in place
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as e:
        return f"{path}: {e.strerror or e}"
    return None


def read_index() -> list[IndexEntry]:
    """Every indexed run whose run directory still exists, newest first (one per run id)."""
    try:
        text = index_path().read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    seen: dict[str, IndexEntry] = {}
    for line in text.splitlines():
        try:
            d = json.loads(line)
            e = IndexEntry(str(d["run_id"]), Path(d["repo"]), Path(d["run_dir"]),
                           str(d.get("feature", "")), float(d.get("created_at", 0.0)))
        except (ValueError, KeyError, TypeError):
            continue  # a torn or foreign line
        seen[e.run_id] = e
    live = [e for e in seen.values() if e.run_dir.is_dir()]
    return sorted(live, key=lambda e: e.created_at, reverse=True)


def forget_runs(run_dirs: set[Path]) -> None:
    """Drop the lines of these run directories (after `crew clean` removed them). Rewritten in
    place under the same lock appends take, so a run starting meanwhile is never lost."""
    run_dirs = {d.resolve() for d in run_dirs}
    try:
        f = open(index_path(), "r+", encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError:
        return
    with f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        keep = []
        for line in f.read().splitlines():
            try:
                if Path(json.loads(line)["run_dir"]) in run_dirs:
                    continue
            except (ValueError, KeyError, TypeError):
                continue
            keep.append(line)
        f.seek(0)
        f.truncate()
        f.write("".join(f"{x}\n" for x in keep))
