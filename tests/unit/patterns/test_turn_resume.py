"""Turn-level resume: with a TurnStore on the context, an agent interrupted mid-conversation
continues from its last completed turn, and nothing recorded is asked of the model again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pattern_helpers import MakeCtx

from crew.patterns.base import Outcome, Record, text_turn
from crew.patterns.single import Single
from crew.run.journal import TURNS_FILE, TurnJournal
from crew.testing import ScriptedLLM
from crew.workspace.worktrees import Workspace


class Crash(Exception):
    """Stands in for a kill -9 right after a turn was recorded."""


class CrashingJournal(TurnJournal):
    def __init__(self, path: Path, after: int) -> None:
        super().__init__(path)
        self.after = after

    def record(self, key: str, turn: int, messages: list[dict[str, Any]], stop: str | None,
               detail: str = "") -> None:
        super().record(key, turn, messages, stop, detail)
        if turn >= self.after:
            raise Crash


def write(path: str, content: str) -> dict[str, Any]:
    return {"name": "write_file", "arguments": {"path": path, "content": content}}


def answer(turn: int, **kw: Any) -> dict[str, Any]:
    return {"role": "coder", "task": "t1", "turn": turn, **kw}


async def test_an_agent_continues_from_its_last_completed_turn(
        make_ctx: MakeCtx, workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / TURNS_FILE
    first = ScriptedLLM([answer(1, tool_calls=[write("a.py", "A = 1\n")]),
                         answer(2, tool_calls=[write("b.py", "B = 1\n")])])
    with pytest.raises(Crash):
        await Single().run(make_ctx(first, ["coder"], workspace=workspace,
                                    turn_store=CrashingJournal(path, after=2)))
    first.assert_complete()

    second = ScriptedLLM([answer(3, content="Wrote a.py and b.py.")])
    res = await Single().run(make_ctx(second, ["coder"], workspace=workspace,
                                      turn_store=TurnJournal(path)))
    second.assert_complete()  # turns 1 and 2 were not asked again
    assert [c.context.turn for c in second.calls] == [3]
    sent = second.calls[0].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant",
                                         "tool"]
    assert res.outcome is Outcome.DONE and res.summary == "Wrote a.py and b.py."
    assert res.transcripts[0].turns == 3

    # the agent had ended before a crash (the pattern's own checkpoint never came): no call
    idle = ScriptedLLM([])
    again = await Single().run(make_ctx(idle, ["coder"], workspace=workspace,
                                        turn_store=TurnJournal(path)))
    assert idle.calls == [] and again.summary == "Wrote a.py and b.py."


async def test_a_recorded_text_turn_is_not_asked_again(make_ctx: MakeCtx, tmp_path: Path
                                                       ) -> None:
    path = tmp_path / TURNS_FILE
    msgs = [{"role": "user", "content": "Which database?"}]
    llm = ScriptedLLM([{"role": "reviewer", "content": "Postgres."}])
    ctx = make_ctx(llm, ["reviewer"], turn_store=TurnJournal(path))
    assert await text_turn(ctx, Record(), "reviewer", 1, msgs, purpose="debate") == "Postgres."
    idle = ScriptedLLM([])
    ctx2 = make_ctx(idle, ["reviewer"], turn_store=TurnJournal(path))
    assert await text_turn(ctx2, Record(), "reviewer", 1, msgs, purpose="debate") == "Postgres."
    assert idle.calls == []
