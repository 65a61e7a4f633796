"""Every member turn of every built-in pattern goes through `ctx.turns` (the engine hook):
with a MemberTurns that answers from a script and an LLM that refuses every call, each kind
still runs to its outcome, and a turn that ended before an answer is crew's guard stop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pattern_helpers import MakeCtx

from crew.llm.types import Message
from crew.patterns import default_registry
from crew.patterns.base import Outcome
from crew.patterns.turns import EngineTurn, M, MemberTurns, NativeTurns, OnTurn


class NoLLM:
    """A pattern that calls the LLM itself, not through ctx.turns, fails here."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a pattern called ctx.llm.{name} instead of ctx.turns")


class ScriptedTurns:
    """Answers by (kind of turn, role, purpose); records the turns taken."""

    engine = "scripted"
    records_steps = False

    def __init__(self, answers: dict[tuple[str, str, str], Any], *, final: bool = True) -> None:
        self.answers = answers
        self.final = final
        self.taken: list[tuple[str, str, str]] = []

    def _answer(self, key: tuple[str, str, str]) -> Any:
        self.taken.append(key)
        return self.answers[key]

    async def agent(self, ctx: Any, role: str, workdir: Path | None, *,
                    task: str | None = None, messages: list[Message] | None = None,
                    purpose: str = "", task_id: str | None = None, alias: str | None = None,
                    temperature: float | None = None,
                    on_turn: OnTurn | None = None) -> EngineTurn:
        text = self._answer(("agent", role, purpose))
        text = text if isinstance(text, str) else json.dumps(text)
        msgs = [*(messages or [{"role": "user", "content": task or ""}]),
                {"role": "assistant", "content": text}]
        return EngineTurn(text=text, messages=msgs, final=self.final,
                          detail="final answer" if self.final else "stuck")

    async def text(self, ctx: Any, role: str, rnd: int, messages: list[Message], *,
                   purpose: str = "", alias: str | None = None,
                   temperature: float | None = None) -> str:
        return str(self._answer(("text", role, purpose)))

    async def ask(self, ctx: Any, role: str, rnd: int, messages: list[Message],
                  schema: type[M], *, purpose: str = "", alias: str | None = None,
                  temperature: float | None = None) -> M:
        return schema.model_validate(self._answer(("ask", role, purpose)))


def test_the_turns_satisfy_the_protocol() -> None:
    assert isinstance(NativeTurns(), MemberTurns)
    assert isinstance(ScriptedTurns({}), MemberTurns)


VERDICT = {"approved": True, "summary": "fine", "changes": []}
PLAN = {"subtasks": [{"id": "a", "title": "A", "description": "", "role": "coder",
                      "depends_on": []}]}
CASES: list[tuple[str, list[str], dict[str, Any], dict[tuple[str, str, str], Any], str]] = [
    ("single", ["coder"], {}, {("agent", "coder", ""): "done"}, "done"),
    ("review_loop", ["coder", "reviewer"], {},
     {("agent", "coder", ""): "done", ("agent", "reviewer", "review"): VERDICT},
     "approved in round 1: done"),
    ("debate", ["coder", "tester"], {},
     {("text", "coder", "debate"): "POSITION: x", ("text", "tester", "debate"): "POSITION: x"},
     "the debaters agreed in round 1: x"),
    ("committee", ["coder", "tester"], {"apply": False},
     {("ask", "coder", "ballot"): {"answer": "B"}, ("ask", "tester", "ballot"): {"answer": "B"}},
     "2 of 2 members answered: B"),
    ("supervisor_worker", ["supervisor", "coder"], {},
     {("ask", "supervisor", "plan"): PLAN, ("agent", "coder", "work:a"): "did A",
      ("ask", "supervisor", "review"): {"approved": True, "summary": "all good"}},
     "all good"),
]


@pytest.mark.parametrize(("kind", "roles", "params", "answers", "summary"), CASES,
                         ids=[c[0] for c in CASES])
async def test_every_kind_takes_turns_only_through_the_hook(
        make_ctx: MakeCtx, kind: str, roles: list[str], params: dict[str, Any],
        answers: dict[tuple[str, str, str], Any], summary: str) -> None:
    turns = ScriptedTurns(answers)
    ctx = make_ctx(NoLLM(), roles, params, turns=turns)
    res = await default_registry().create(kind).run(ctx)
    assert (res.outcome, res.summary) == (Outcome.DONE, summary)
    assert sorted(turns.taken) == sorted(answers)  # each scripted turn, once


async def test_a_turn_without_an_answer_is_a_guard_stop(make_ctx: MakeCtx) -> None:
    turns = ScriptedTurns({("agent", "coder", ""): "half done"}, final=False)
    res = await default_registry().create("review_loop").run(
        make_ctx(NoLLM(), ["coder", "reviewer"], turns=turns))
    assert (res.outcome, res.stopped_by, res.rounds) == (Outcome.GUARD, "guard", 1)
    assert res.summary == "stopped by a guard: coder: stuck"
    assert turns.taken == [("agent", "coder", "")]  # no review after a guard
