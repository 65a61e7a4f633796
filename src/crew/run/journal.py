"""The run's append-only files and its off-loop state writer.

- `ledger.jsonl`: one LedgerEntry per LLM call.
- `turns.jsonl`: each completed agent turn (only the messages new since the key's last record,
  keyed by task/role/purpose/round/occurrence), each structured ask's answer (`kind: ask`) and
  each pattern checkpoint (`kind: pattern`); compacted when a task ends (its records go).
- `StateWriter`: one thread that writes state.json atomically; a request while a write is in
  flight replaces any pending one (only the latest state is written afterwards).

Durability: every append is written and flushed (one `write` syscall) on the caller's thread, so
a kill -9 loses nothing appended; the writer thread fsyncs the journals before each state.json
rename, so after a power loss state.json never runs ahead of them. A power loss can lose what
was appended since the last state write (those turns are redone on resume). A torn last line
(kill -9 mid-write) is skipped when reading.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from crew.patterns.state import AskRecord
from crew.textsafe import safe_data

if TYPE_CHECKING:
    from crew.llm.ledger import Ledger, LedgerEntry

LEDGER_FILE = "ledger.jsonl"
TURNS_FILE = "turns.jsonl"

Message = dict[str, Any]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of `path` (none if missing); a torn or unreadable line is skipped."""
    try:
        f = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    except FileNotFoundError:
        return
    with f:
        for line in f:
            if not line.endswith("\n"):
                return  # torn by a kill mid-write: never completed
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):  # a run recorded before crew made texts safe, too
                yield safe_data(rec)


class JsonlLog:
    """One append-only JSON-lines file: each record written and flushed at once, with known
    secrets and key shapes redacted first (like every file crew writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[str] | None = None
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        from crew.observability.redact import scrub

        line = scrub(json.dumps(safe_data(record), ensure_ascii=False, separators=(",", ":"),
                                default=str)) + "\n"
        with self._lock:
            if self._f is None:
                self._f = _open_append(self.path)
            self._f.write(line)
            self._f.flush()

    def sync(self) -> None:
        with self._lock:
            f = self._f
        if f is not None:
            with contextlib.suppress(OSError, ValueError):  # closed meanwhile
                os.fsync(f.fileno())

    def close(self) -> None:
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None

    def rewrite(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Replace the file with its records that `keep` (unreadable lines go), atomically.
        Appends go on meanwhile: the lock is held only to copy what they added at the end."""
        try:
            with open(self.path, "rb") as f:
                head = f.read()
        except FileNotFoundError:
            return
        head = head[:head.rfind(b"\n") + 1]  # a line being appended is read under the lock
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            out.writelines(_kept(head, keep))
            with self._lock:
                if self._f is not None:
                    self._f.flush()
                with open(self.path, "rb") as f:
                    f.seek(len(head))
                    out.writelines(_kept(f.read(), keep))
                out.flush()
                os.fsync(out.fileno())
                os.replace(tmp, self.path)
                if self._f is not None:  # it appended to the replaced file
                    self._f.close()
                    self._f = None
        _sync_dir(self.path.parent)


def _kept(data: bytes, keep: Callable[[dict[str, Any]], bool]) -> Iterator[bytes]:
    """The complete lines of `data` holding a record `keep` keeps, as they were."""
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and keep(rec):
            yield line


def _sync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # persist a rename
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open_append(path: Path) -> IO[str]:
    """Open for appending; a torn last line (no newline) is ended first, so the next record
    starts on a line of its own."""
    f = open(path, "a+", encoding="utf-8")  # noqa: SIM115
    if f.tell() > 0:
        f.seek(f.tell() - 1)
        if f.read(1) != "\n":
            f.write("\n")
    return f


class StateWriter:
    """Writes state.json on its own thread. `request(text)` never blocks on the disk;
    `flush()` waits until the latest request is on disk; `close()` flushes and stops."""

    def __init__(self, write: Callable[[str], None], before: Callable[[], None] = lambda: None
                 ) -> None:
        self._write = write
        self._before = before  # e.g. fsync the journals first
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._requested = self._written = 0
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="crew-state-writer", daemon=True)
        self._thread.start()

    def request(self, text: str) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the state writer is closed")
            self._pending = text
            self._requested += 1
            self._cond.notify_all()

    def flush(self) -> None:
        """Block until everything requested so far is written; re-raise a write error."""
        with self._cond:
            target = self._requested
            while self._written < target and self._error is None:
                self._cond.wait()
            if self._error is not None:
                err, self._error = self._error, None
                raise err

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                text, self._pending, upto = self._pending, None, self._requested
            try:
                self._before()
                self._write(text)
            except BaseException as e:  # handed to the next flush(); the next request retries
                error: BaseException | None = e
            else:
                error = None
            with self._cond:
                self._error = error or self._error
                self._written = max(self._written, upto)
                self._cond.notify_all()


class TurnJournal:
    """turns.jsonl for one run: agent conversations and structured answers by key, and each
    task's pattern state.

    Loaded once at start (the conversations of unfinished work); `record` appends only what
    changed since the key's last record, so a turn costs its own messages, not the history.
    `finish` drops finished tasks' records, from memory and from the file (resume never reads
    them again; the report, `crew show` and `crew ui` read state.json and events.jsonl).
    """

    def __init__(self, path: Path) -> None:
        self.log = JsonlLog(path)
        self._convs: dict[str, list[Message]] = {}
        self._ends: dict[str, tuple[int, str | None, str]] = {}  # key → turns, stop, detail
        self._answers: dict[str, AskRecord] = {}
        self._patterns: dict[str, dict[str, Any]] = {}
        self._compacting = threading.Lock()
        for rec in read_jsonl(path):
            if rec.get("kind") == "pattern":
                self._patterns[str(rec.get("task", ""))] = dict(rec.get("state") or {})
            elif rec.get("kind") == "ask":
                with contextlib.suppress(ValueError):  # another crew's form: asked again
                    self._answers[str(rec.get("key", ""))] = AskRecord.model_validate(
                        rec.get("answer") or {})
            elif rec.get("kind") == "turn":
                key = str(rec.get("key", ""))
                msgs = self._convs.setdefault(key, [])
                del msgs[int(rec.get("at", 0)):]
                msgs.extend(rec.get("messages") or [])
                self._ends[key] = (int(rec.get("turn", 0)), rec.get("stop"),
                                   str(rec.get("detail", "")))

    def pattern_state(self, task: str) -> dict[str, Any] | None:
        return self._patterns.get(task)

    def save_pattern(self, task: str, state: dict[str, Any]) -> None:
        state = to_jsonable_python(state)
        self._patterns[task] = state
        self.log.append({"kind": "pattern", "task": task, "state": state})

    def conversation(self, key: str) -> tuple[list[Message], int, str | None, str] | None:
        """(messages, turns, stop reason or None, detail) of the key's last recorded turn."""
        if key not in self._convs:
            return None
        turns, stop, detail = self._ends[key]
        return list(self._convs[key]), turns, stop, detail

    def record(self, key: str, turn: int, messages: list[Message], stop: str | None,
               detail: str = "") -> None:
        """Append one completed turn: the messages from the first one that changed."""
        old = self._convs.get(key, [])
        at = 0
        for a, b in zip(old, messages, strict=False):
            if a is not b and a != b:
                break
            at += 1
        self._convs[key] = list(messages)
        self._ends[key] = (turn, stop, detail)
        rec: dict[str, Any] = {"kind": "turn", "key": key, "turn": turn, "at": at,
                               "messages": messages[at:]}
        if stop is not None:
            rec.update(stop=stop, detail=detail)
        self.log.append(rec)

    def answer(self, key: str) -> AskRecord | None:
        """The structured ask recorded under `key` (None: never answered)."""
        return self._answers.get(key)

    def record_answer(self, key: str, answer: AskRecord) -> None:
        self._answers[key] = answer
        self.log.append({"kind": "ask", "key": key, "answer": answer.model_dump(mode="json")})

    def finish(self, tasks: Collection[str]) -> None:
        """`forget` and `compact` finished tasks (call it once their end is in state.json)."""
        self.forget(tasks)
        self.compact(tasks)

    def forget(self, tasks: Collection[str]) -> None:
        """Drop finished tasks' turns, answers and pattern states from memory (on the thread
        that records: the tables are not locked)."""
        prefixes = tuple(f"{t}/" for t in tasks)
        for table in (self._convs, self._ends, self._answers):
            for key in [k for k in table if k.startswith(prefixes)]:
                del table[key]
        for t in tasks:
            self._patterns.pop(t, None)

    def compact(self, tasks: Collection[str]) -> None:
        """Rewrite the file without finished tasks' records (any thread; appends go on)."""
        done = set(tasks)
        if not done:
            return
        prefixes = tuple(f"{t}/" for t in done)

        def keep(rec: dict[str, Any]) -> bool:
            if rec.get("kind") == "pattern":
                return rec.get("task") not in done
            return not str(rec.get("key", "")).startswith(prefixes)

        with self._compacting:  # one rewrite at a time
            self.log.rewrite(keep)


class RunFiles:
    """One session's journals and state writer: `on_call` is the ledger listener (one line
    appended, then `checkpoint`); `close` writes what was asked for and syncs everything."""

    def __init__(self, directory: Path) -> None:
        from crew.run.state import STATE_FILE, write_atomic

        self.ledger = JsonlLog(directory / LEDGER_FILE)
        self.turns = TurnJournal(directory / TURNS_FILE)
        state = directory / STATE_FILE
        self.writer = StateWriter(lambda text: write_atomic(state, text), self.sync)

    def sync(self) -> None:
        """fsync the journals (before each state.json: it never runs ahead of them)."""
        self.ledger.sync()
        self.turns.log.sync()

    def on_call(self, entry: LedgerEntry, checkpoint: Callable[[], None]) -> None:
        self.ledger.append(ledger_record(entry))
        checkpoint()

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            self.sync()
            self.ledger.close()
            self.turns.log.close()


def ledger_record(e: LedgerEntry) -> dict[str, Any]:
    return dict(e.__dict__)


def load_ledger(directory: Path) -> Ledger:
    """The run's ledger, from ledger.jsonl."""
    from crew.llm.ledger import Ledger

    return Ledger.from_dict({"entries": list(read_jsonl(directory / LEDGER_FILE))})
