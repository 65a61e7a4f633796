"""`debate` (Du et al. 2023): every debater answers; each later round every debater sees the
others' answers of the last round (its conversation only grows by what is new, so providers'
prompt caches hit) and revises; the debaters of a round run concurrently. Agreement on the
stated positions stops early; otherwise a judge, shown the whole debate compactly, gives a
structured verdict. Critical path: `rounds` debater calls plus the judge. A judge whose
verdict cannot be read (no `decision` in its JSON, no `DECISION:` line) yields no decision
(`no_consensus`), keeping the debaters' final answers (a degraded decision,
crew.patterns.decisions).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from crew.errors import UserError
from crew.patterns.base import (
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    agent_system,
    gather_all,
    run_agent,
    stop_outcome,
    system_message,
    text_turn,
)
from crew.patterns.decisions import (
    DecisionKind,
    DegradedReason,
    degrade,
    field_text,
    read_fields,
    try_ask,
)
from crew.patterns.state import PatternState
from crew.patterns.termination import Condition, RoundState
from crew.spec.params import DebateParams as DebateParams

POSITION_NOTE = "End with one line: POSITION: <your position in a few words>."
REVISE_NOTE = "{others}\n\nRevise or defend yours."  # others: "[role]\nanswer" blocks
# The DECISION line is what the degraded path reads when the verdict is not valid JSON.
JUDGE_NOTE = "Judge the debate. Not JSON? End with DECISION: <decision>."
_POSITION = re.compile(r"^\W*POSITION\W*:\s*(.+?)\s*$", re.I | re.M)
_DECISION = re.compile(r"^\W*DECISION\W*:\s*(.+?)\s*$", re.I | re.M)
PROPOSAL_CHARS = 300


class JudgeVerdict(BaseModel):
    decision: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    winner: str | None = None


class DebateState(PatternState):
    """The debate's checkpoint: every round's answers (a debater's conversation is rebuilt
    append-only from them) and, once judged, the verdict (or that there was none)."""

    answers: list[str] = Field(default_factory=list)  # the last round's
    history: list[list[str]] = Field(default_factory=list)
    verdict: JudgeVerdict | None = None
    no_decision: bool = False  # the judge spoke, and its verdict could not be read


def position(answer: str) -> str:
    """The normalised POSITION line of an answer ('' when missing)."""
    found = _POSITION.findall(answer or "")
    return " ".join(re.sub(r"[^\w\s]", " ", found[-1]).lower().split()) if found else ""


def read_verdict(raw: str | None) -> JudgeVerdict | None:
    """A verdict that failed its schema, read from the raw text: the fields of its JSON (a
    `decision` key decides, even when another field was wrong), else the DECISION line."""
    fields = read_fields(raw)
    if "decision" not in fields:
        found = _DECISION.findall(raw or "")
        return JudgeVerdict(decision=found[-1], rationale=(raw or "").strip()) if found else None
    decision = field_text(fields, "decision")
    if decision is None:
        return None
    return JudgeVerdict(decision=decision, winner=field_text(fields, "winner"),
                        rationale=field_text(fields, "rationale") or (raw or "").strip())


def agreed(answers: list[str]) -> str | None:
    """The common position when every debater stated the same one."""
    pos = {position(a) for a in answers}
    return pos.pop() if len(pos) == 1 and "" not in pos else None


class Debate(BasePattern):
    """roles: [debater, debater, ...]; the judge role comes from params."""

    kind = "debate"
    Params = DebateParams
    default_termination = "consensus | max_rounds"
    max_rounds_param = "rounds"

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        p: DebateParams = params
        roles = list(ctx.task.roles)
        if len(roles) < 2:
            raise UserError(f"task {ctx.task.id!r}: a debate needs at least two debaters",
                            field="roles")
        ctx.role(p.judge)  # fail early on an unknown judge
        names = [f"Debater {i} ({r})" for i, r in enumerate(roles, 1)]
        st = self.restore(ctx, rec, DebateState)
        question = "\n\n".join(x for x in (ctx.context_text(), ctx.task.prompt()) if x)

        async def play(rnd: int) -> RoundState:
            st.answers = list(await gather_all(*(
                self._turn(ctx, rec, rnd, role, i, question, st.history)
                for i, role in enumerate(roles))))
            st.history.append(st.answers)
            rec.votes.append({"round": rnd, "positions": [position(a) for a in st.answers]})
            return RoundState(round=rnd, consensus=bool(agreed(st.answers)) and p.early_stop,
                              guard_stopped=rec.guard is not None)

        fired = await self.rounds(ctx, rec, st, stop, p.rounds, play)
        outcome = stop_outcome(fired)
        if outcome is Outcome.GUARD:
            return self.result(rec, outcome, f"stopped by a guard: {rec.guard or 'a debater'}",
                               stopped_by=fired)
        answers, rnd = st.answers, st.round
        common = agreed(answers)
        if common and p.early_stop:
            return self.result(rec, Outcome.DONE, f"the debaters agreed in round {rnd}: "
                               f"{common}", decision=common, stopped_by=fired)
        verdict = st.verdict
        if verdict is None and not st.no_decision:  # not judged before a resume
            verdict = await self._judge(ctx, rec, rnd, p.judge, names, question, st.history)
            st.verdict, st.no_decision = verdict, verdict is None
            await self.save(ctx, rec, st)
        if verdict is None:  # no decision: the proposals are kept
            kept = "; ".join(f"[{n}] {position(a) or ' '.join(a.split())[:PROPOSAL_CHARS]}"
                             for n, a in zip(names, answers, strict=True))
            return self.result(rec, Outcome.NO_CONSENSUS, "no decision (the judge's verdict "
                               f"could not be read); the proposals: {kept}", stopped_by=fired)
        return self.result(rec, Outcome.DONE, verdict.rationale, decision=verdict.decision,
                           stopped_by=fired)

    async def _turn(self, ctx: PatternContext, rec: Record, rnd: int, role: str, i: int,
                    question: str, history: list[list[str]]) -> str:
        """The debater's conversation only grows: each round appends its own last answer and
        the others' (what is new), so every request repeats the previous one as its prefix."""
        msgs: list[dict[str, Any]] = [{"role": "user", "content": f"{question}\n\n{POSITION_NOTE}"}]
        added = POSITION_NOTE
        for prev in history:
            others = "\n\n".join(f"[{ctx.task.roles[j]}]\n{a}" for j, a in enumerate(prev)
                                 if j != i)
            msgs += [{"role": "assistant", "content": prev[i]},
                     {"role": "user", "content": REVISE_NOTE.format(others=others)}]
        if history:
            added += REVISE_NOTE
        workdir = ctx.workdir
        if workdir is None:
            return await text_turn(ctx, rec, role, rnd, [system_message(ctx, role), *msgs],
                                   purpose="debate", pattern_text=added)
        res = await run_agent(ctx, rec, rnd, role, workdir, purpose="debate", pattern_text=added,
                              messages=[agent_system(ctx, role, workdir), *msgs])
        return (res.text or "").strip()

    async def _judge(self, ctx: PatternContext, rec: Record, rnd: int, judge: str,
                     names: list[str], question: str, history: list[list[str]]
                     ) -> JudgeVerdict | None:
        """The judge sees the whole debate, compactly: each earlier round as the debaters'
        positions, the last round in full."""
        rows = ["; ".join(f"{n}: {position(a) or a.strip()[:200]}"
                          for n, a in zip(names, answers, strict=True)) for answers in history]
        earlier = "\n".join(f"Round {r}: {row}" for r, row in enumerate(rows[:-1], 1)
                             if row != rows[r])  # a round whose positions held is said once
        final = "\n\n".join(f"[{n}]\n{a}" for n, a in zip(names, history[-1], strict=True))
        debate = (f"## Positions by round\n{earlier}\n\n" if earlier else "") + \
            f"## Final answers\n{final}"
        msgs = [system_message(ctx, judge),
                {"role": "user", "content": f"{question}\n\n{debate}\n\n{JUDGE_NOTE}"}]
        verdict, raw, error = await try_ask(ctx, judge, rnd, msgs, JudgeVerdict, purpose="judge")
        rec.call(judge, rnd, "judge", JUDGE_NOTE)
        if verdict is None:
            verdict = read_verdict(raw)
            degrade(rec, DecisionKind.JUDGE, DegradedReason.NO_DECISION if verdict is None
                    else DegradedReason.READ_FROM_TEXT, role=judge, rnd=rnd,
                    task=ctx.task.id, error=error, text=raw)
            if verdict is None:
                rec.votes.append({"round": rnd, "role": judge, "decision": None})
                return None
        rec.votes.append({"round": rnd, "role": judge, **verdict.model_dump()})
        return verdict
