"""RunSession.checkpoint with the writer thread: state.json is small, at most one snapshot per
interval (a later one deferred, never dropped), and flush/durable write the latest at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

from crew.llm import Ledger
from crew.llm.ledger import LedgerEntry
from crew.run.checkpointer import CHECKPOINT_INTERVAL_S
from crew.run.journal import LEDGER_FILE, RunFiles, load_ledger, read_jsonl
from crew.run.runner import RunSession
from crew.run.state import STATE_FILE, RunState, RunStatus, TaskStatus, load_state


class _LLM:
    def __init__(self) -> None:
        self.ledger = Ledger()
        self.budget = None


def _session(d: Path, files: RunFiles) -> tuple[RunSession, _LLM]:
    llm = _LLM()
    none = cast(Any, None)
    state = RunState(run_id="r", feature_path="f", feature_title="F", repo=str(d))
    session = RunSession(resolved=none, state=state, run_dir=d, workspace=none,
                         llm=cast(Any, llm), sandbox=none, tracer=none, turns=files.turns,
                         writer=files.writer)
    llm.ledger.listeners.append(lambda e: files.on_call(e, session.checkpoint))
    return session, llm


def _entry(i: int) -> LedgerEntry:
    return LedgerEntry(alias="smart", deployment="x", prompt_tokens=i, completion_tokens=1,
                       cost_usd=0.25, latency_s=0.0, task_id="t1", turn=i)


async def test_calls_are_journaled_and_state_json_follows(tmp_path: Path) -> None:
    files = RunFiles(tmp_path)
    session, llm = _session(tmp_path, files)
    for i in range(40):  # faster than the interval: one snapshot now, the latest deferred
        llm.ledger.record(_entry(i))
    assert len(list(read_jsonl(tmp_path / LEDGER_FILE))) == 40  # each call at once
    await asyncio.sleep(CHECKPOINT_INTERVAL_S * 3)  # the deferred snapshot goes out
    await asyncio.to_thread(files.writer.flush)
    assert load_state(tmp_path).spent["calls"] == 40
    session._set("t1", TaskStatus.DONE)
    await session.durable()
    assert load_state(tmp_path).tasks["t1"].status == "done"
    files.close()
    assert load_ledger(tmp_path).total.cost_usd == 10.0
    assert "entries" not in (tmp_path / STATE_FILE).read_text()


async def test_flush_writes_a_deferred_checkpoint(tmp_path: Path) -> None:
    files = RunFiles(tmp_path)
    session, _ = _session(tmp_path, files)
    session.checkpoint()
    session.state.status = RunStatus.GATES
    session.checkpoint()  # within the interval: deferred
    session.flush()
    assert json.loads((tmp_path / STATE_FILE).read_text())["status"] == "gates"
    files.close()
