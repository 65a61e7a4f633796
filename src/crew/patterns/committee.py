"""`committee`: members (roles, or one role with different models or temperatures) answer
independently and concurrently; the answer is chosen by majority (plurality of structured
ballots), ranking (Borda count over every member's ranking) or a chair's synthesis. Fewer valid
answers than `quorum`, or a tie, is `no_consensus` — never a silent pick.

For code (`apply` with a workspace) members propose in their own worktrees, then vote on the
proposals, and the chosen one is merged. A text majority costs one concurrent round of calls.
A ballot or vote that cannot be read abstains unless its text names one of the options or one
proposal (a free-form ballot's prose abstains: it cannot be compared with the others); a
chair that cannot be read decides with its text (code: the one proposal it names), else no
decision (degraded decisions, crew.patterns.decisions).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from crew.errors import ProviderError, UserError
from crew.patterns.base import (
    Artifacts,
    BasePattern,
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    gather_all,
    run_agent,
    system_message,
    traced_round,
)
from crew.patterns.decisions import (
    TEXT_CHARS,
    DecisionKind,
    DegradedReason,
    degrade,
    field_text,
    read_fields,
    read_number,
    read_option,
    read_ranking,
    try_ask,
)
from crew.patterns.state import PatternState
from crew.patterns.termination import Condition, RoundState
from crew.spec.params import CommitteeParams as CommitteeParams
from crew.workspace import ops as gitops

BALLOT_NOTE = ""  # a member sees no other ballot; its reply format names answer and rationale
VOTE_NOTE = "Vote for the best proposal by its number, with a short reason."
RANK_NOTE = "Rank all proposals by number, best first, with a short reason."
CHAIR_NOTE = "As chair, decide; chosen: an answer kept as is."


class Ballot(BaseModel):
    answer: str = Field(min_length=1)
    rationale: str = ""


class Vote(BaseModel):
    choice: int
    reason: str = ""


class Ranking(BaseModel):
    order: list[int] = Field(min_length=1)
    reason: str = ""


class Proposal(BaseModel):
    """A member's answer (a ballot) or, for code, its proposal: a commit in worktree `wid`."""

    model_config = ConfigDict(extra="forbid")

    member: int = 0  # 1-based; 0: the chair's own decision
    role: str
    model: str = ""
    answer: str
    rationale: str = ""
    wid: str | None = None
    files: list[str] = Field(default_factory=list)
    diff: str = ""

    def vote(self) -> dict[str, Any]:
        """As PatternResult.votes lists it (without the diff)."""
        return self.model_dump(exclude={"diff", "rationale"} if self.wid else
                               {"diff", "wid", "files"})


class CommitteeState(PatternState):
    """The committee's checkpoint: every member's answer or proposal (None: abstained)."""

    proposals: list[Proposal | None] = Field(default_factory=list)


class ChairDecision(BaseModel):
    decision: str = Field(min_length=1)
    rationale: str = ""
    chosen: int | None = None


def ballot_schema(options: list[str] | None) -> type[BaseModel]:
    if not options:
        return Ballot
    choice: Any = Literal[tuple(options)]
    return create_model("Ballot", answer=(choice, ...), rationale=(str, ""))


def norm(answer: str) -> str:
    return " ".join(answer.lower().strip().rstrip(".").split())


def plurality(choices: list[str]) -> tuple[str | None, list[str]]:
    """(winner, tied) over the choices: a unique most-voted choice, or None and the tie."""
    counts = Counter(choices).most_common()
    if not counts:
        return None, []
    top = [c for c, n in counts if n == counts[0][1]]
    return (top[0], []) if len(top) == 1 else (None, sorted(top))


def borda(rankings: list[list[int]], n: int) -> tuple[int | None, list[int], dict[int, int]]:
    """(winner, tied, scores): n-1 points for a first place ... 0 for last or unranked."""
    scores = dict.fromkeys(range(1, n + 1), 0)
    for order in rankings:
        seen = [x for x in dict.fromkeys(order) if x in scores]
        for place, x in enumerate(seen):
            scores[x] += n - 1 - place
    best = max(scores.values())
    top = [x for x, s in scores.items() if s == best]
    return (top[0], [], scores) if len(top) == 1 else (None, top, scores)


def read_ballot(raw: str | None, options: list[str] | None) -> tuple[str | None, str]:
    """(answer, rationale) of a ballot that failed its schema: its JSON's `answer` field
    when it has one (one of `options`, when given), else the one option the text names."""
    fields, text = read_fields(raw), (raw or "").strip()
    if "answer" not in fields:
        return (read_option(text, options) if options else None), text[:TEXT_CHARS]
    answer = field_text(fields, "answer")
    if options:
        answer = read_option(answer, options) if answer else None
    return answer, field_text(fields, "rationale") or ""


def read_chair(raw: str | None, answers: list[str], code: bool) -> ChairDecision | None:
    """A chair's decision that failed its schema: its JSON's fields (`chosen` alone picks
    that answer), else the text as the decision and the proposal it names; None when
    unreadable (for code, when no proposal is chosen)."""
    fields, text = read_fields(raw), (raw or "").strip()
    if "decision" not in fields and "chosen" not in fields:
        chosen = read_number(raw, len(answers))
        if not text or (code and chosen is None):
            return None
        return ChairDecision(decision=text[:TEXT_CHARS], chosen=chosen)
    picked = read_number(field_text(fields, "chosen"), len(answers))
    decision = field_text(fields, "decision") or (answers[picked - 1] if picked else None)
    if decision is None or (code and picked is None):
        return None
    return ChairDecision(decision=decision[:TEXT_CHARS], chosen=picked,
                         rationale=field_text(fields, "rationale") or "")


def read_vote(raw: str | None, schema: type[BaseModel], n: int) -> Vote | Ranking | None:
    """A vote or ranking that failed its schema, read from its JSON's `choice` / `order`
    field when it has one, else from the text ("proposal 2", "2 > 1 > 3")."""
    fields = read_fields(raw)
    if schema is Ranking:
        value = fields.get("order", raw)
        if isinstance(value, list):  # ["proposal 2", "proposal 1"]: each item a number
            nums = [read_number(str(x), n) for x in value]
            order = [k for k in nums if k is not None]
            ok = bool(order) and len(order) == len(nums) == len(set(order))
            return Ranking(order=order) if ok else None
        ranked = read_ranking(value, n) if isinstance(value, str) else None
        return Ranking(order=ranked) if ranked else None
    text = field_text(fields, "choice") if "choice" in fields else raw
    choice = read_number(text, n)
    return Vote(choice=choice) if choice is not None else None


FILE_WRITERS = frozenset({"write_file", "edit_file"})


def can_change_files(role: Any) -> bool:
    """Whether a role (a RoleSpec) has a tool that writes files in its worktree."""
    return bool(FILE_WRITERS & set(getattr(role, "tools", None) or ()))


class Committee(BasePattern):
    """roles: [member, member, ...] (a role may repeat, with params models/temperatures)."""

    kind = "committee"
    Params = CommitteeParams
    default_termination = ""  # one round: no condition applies

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        p: CommitteeParams = params
        readers = sorted({r for r in ctx.task.roles if not can_change_files(ctx.role(r))})
        if not (p.apply and ctx.workspace is not None and readers):
            return await self._execute(ctx, p, stop, rec)
        # `apply` needs every member to propose a change; a member without a file-writing
        # tool never could, so the committee votes on answers instead, and says so
        note = (f"{', '.join(readers)} cannot change files (no write_file/edit_file): "
                "voted on answers, nothing applied")
        ctx.tracer.event("committee_votes_on_answers", "WARNING",
                               {"task": ctx.task.id, "roles": readers})
        result = await self._execute(ctx, p.model_copy(update={"apply": False}), stop, rec)
        result.summary = f"{note}. {result.summary}"
        return result

    async def _execute(self, ctx: PatternContext, p: CommitteeParams, stop: Condition,
                       rec: Record) -> PatternResult:
        members = list(ctx.task.roles)
        if not members:
            raise UserError(f"task {ctx.task.id!r}: a committee needs members", field="roles")
        for key in ("models", "temperatures"):
            given = getattr(p, key)
            if given is not None and len(given) != len(members):
                raise UserError(f"committee: params.{key} has {len(given)} entries for "
                                f"{len(members)} members", field=f"params.{key}")
        if p.aggregation == "chair":
            ctx.role(p.chair)
        code = p.apply and ctx.workspace is not None
        st = self.restore(ctx, rec, CommitteeState)

        async def play(rnd: int) -> RoundState:  # the members answer concurrently
            if code:
                st.proposals = await gather_all(*(self._propose(ctx, rec, p, i, r)
                                                  for i, r in enumerate(members)))
            else:
                st.proposals = await gather_all(*(self._ballot(ctx, rec, p, i, r)
                                                  for i, r in enumerate(members)))
            rec.votes.extend(x.vote() for x in st.proposals if x is not None)
            return RoundState(round=rnd, guard_stopped=rec.guard is not None)

        await self.rounds(ctx, rec, st, stop, 1, play)  # one round: answers are not re-asked
        valid = [x for x in st.proposals if x is not None]
        if len(valid) < p.quorum:
            return self.result(rec, Outcome.NO_CONSENSUS, f"no quorum: {len(valid)} valid "
                               f"answer(s) of {len(members)}, quorum {p.quorum}")
        chosen, summary = await self._aggregate(ctx, rec, p, members, valid, code)
        if chosen is None:
            return self.result(rec, Outcome.NO_CONSENSUS, summary)
        artifacts = Artifacts()
        if code and ctx.workspace is not None:
            base = await asyncio.to_thread(ctx.workspace.head)
            merged = await gitops.merge(ctx.workspace, chosen.wid or "")
            if not isinstance(merged, str):
                return self.result(rec, Outcome.FAILED, f"the chosen proposal does not merge: "
                                   f"conflict in {', '.join(merged.paths)}",
                                   decision=chosen.answer)
            artifacts = await gitops.changes_since(ctx.workspace, base)
        return self.result(rec, Outcome.DONE, summary, decision=chosen.answer,
                           artifacts=artifacts)

    def _variant(self, ctx: PatternContext, p: CommitteeParams, i: int, role: str
                 ) -> tuple[str, float]:
        spec = ctx.role(role)
        return ((p.models[i] if p.models else spec.model),
                (p.temperatures[i] if p.temperatures else spec.temperature))

    async def _ballot(self, ctx: PatternContext, rec: Record, p: CommitteeParams, i: int,
                      role: str) -> Proposal | None:
        alias, temp = self._variant(ctx, p, i, role)
        user = "\n\n".join(x for x in (ctx.context_text(), ctx.task.prompt(), BALLOT_NOTE) if x)
        msgs = [system_message(ctx, role), {"role": "user", "content": user}]
        dead = False  # the provider failed even after retries: an abstention
        try:
            b, raw, error = await try_ask(ctx, role, i + 1, msgs, ballot_schema(p.options),
                                          purpose="ballot", alias=alias, temperature=temp)
        except ProviderError as e:
            b, raw, error, dead = None, None, str(e), True
        rec.call(role, 1, "ballot", BALLOT_NOTE)
        if b is None:
            answer, rationale = read_ballot(raw, p.options)
            reason = (DegradedReason.PROVIDER_DOWN if dead else DegradedReason.ABSTAINED
                      if answer is None else DegradedReason.READ_FROM_TEXT)
            degrade(rec, DecisionKind.BALLOT, reason, role=role, rnd=i + 1, task=ctx.task.id,
                    error=error, text=raw)
            if answer is None:
                rec.votes.append({"member": i + 1, "role": role, "error": error[:300]})
                return None
            return Proposal(member=i + 1, role=role, model=alias, answer=answer,
                            rationale=rationale)
        data = b.model_dump()
        return Proposal(member=i + 1, role=role, model=alias, answer=str(data["answer"]),
                        rationale=data.get("rationale", ""))

    async def _propose(self, ctx: PatternContext, rec: Record, p: CommitteeParams, i: int,
                       role: str) -> Proposal | None:
        assert ctx.workspace is not None
        ws = ctx.workspace
        alias, temp = self._variant(ctx, p, i, role)
        wid = f"{ctx.task.id[:52]}-m{i + 1}"
        workdir = await gitops.task_worktree(ws, wid)
        res = await run_agent(ctx, rec, 1, role, workdir, task=ctx.task.prompt(),
                              purpose=f"member:{i + 1}", alias=alias, temperature=temp)
        if not res.final:
            return None
        art = await gitops.commit(ws, wid, f"{ctx.task.title} (proposal {i + 1})", role,
                                  res.text or "")
        if art.commit is None:
            return None
        diff = await gitops.diff_of(workdir, f"{art.commit}~1", limit=3000)
        return Proposal(member=i + 1, role=role, model=alias, wid=wid,
                        answer=(res.text or "").strip()[:1500], files=list(art.files_changed),
                        diff=diff)

    async def _aggregate(self, ctx: PatternContext, rec: Record, p: CommitteeParams,
                         members: list[str], valid: list[Proposal], code: bool
                         ) -> tuple[Proposal | None, str]:
        if p.aggregation == "majority" and not code:
            groups: dict[str, list[Proposal]] = {}
            for v in valid:
                groups.setdefault(norm(v.answer), []).append(v)
            win, tied = plurality([norm(v.answer) for v in valid])
            if win is None:
                return None, "tie between: " + " | ".join(tied)
            n = len(groups[win])
            return groups[win][0], f"{n} of {len(valid)} members answered: {groups[win][0].answer}"
        listing = "\n\n".join(
            f"## Proposal {k}\n{v.answer}"
            + (f"\nFiles: {', '.join(v.files)}\n{v.diff}" if code else "")
            for k, v in enumerate(valid, 1))
        question = f"{ctx.task.prompt()}\n\n{listing}"
        if p.aggregation == "chair":
            # the members answered the task; the chair gets its title and every ballot's
            # answer with its rationale (a split verdict and reasons keeps both)
            answers = "\n".join(
                f"{k}. {v.answer}" + (f" — {v.rationale}" if v.rationale else "")
                for k, v in enumerate(valid, 1))
            user = (f"{question}\n\n{CHAIR_NOTE}" if code else  # proposals: diffs to judge
                    f"# {ctx.task.title}\n\n## Answers\n{answers}\n\n{CHAIR_NOTE}")
            msgs = [system_message(ctx, p.chair), {"role": "user", "content": user}]
            d, raw, error = await try_ask(ctx, p.chair, 1, msgs, ChairDecision, purpose="chair")
            rec.call(p.chair, 1, "chair", CHAIR_NOTE)
            if d is None:
                d = read_chair(raw, [v.answer for v in valid], code)
                degrade(rec, DecisionKind.CHAIR, DegradedReason.NO_DECISION if d is None
                        else DegradedReason.READ_FROM_TEXT, role=p.chair, rnd=1,
                        task=ctx.task.id, error=error, text=raw)
                if d is None:
                    return None, "no decision: the chair's answer could not be read"
            rec.votes.append({"role": p.chair, "chair": True, **d.model_dump()})
            if d.chosen is not None and 1 <= d.chosen <= len(valid):
                picked = valid[d.chosen - 1].model_copy(update={"answer": d.decision})
                return picked, d.rationale or d.decision
            if code:
                return None, f"the chair chose no proposal: {d.rationale}"
            return Proposal(role=p.chair, answer=d.decision), d.rationale or d.decision
        schema: type[BaseModel] = Ranking if p.aggregation == "ranking" else Vote
        note = RANK_NOTE if schema is Ranking else VOTE_NOTE
        voters = [v.role for v in valid]
        with traced_round(ctx, 2, phase="vote"):  # the members vote concurrently under it
            ballots = await gather_all(*(self._vote(ctx, rec, r, k, question, schema, note,
                                                    len(valid))
                                         for k, r in enumerate(voters, 1)))
        cast = [b for b in ballots if b is not None]
        if len(cast) < p.quorum:
            return None, f"no quorum: {len(cast)} valid vote(s), quorum {p.quorum}"
        if schema is Ranking:
            win_i, tied_i, scores = borda([b.order for b in cast], len(valid))
            rec.votes.append({"borda": scores})
        else:
            choices = [str(b.choice) for b in cast if 1 <= b.choice <= len(valid)]
            w, t = plurality(choices)
            win_i, tied_i = (int(w) if w else None), [int(x) for x in t]
        if win_i is None:
            return None, "tie between proposals " + ", ".join(map(str, tied_i))
        return valid[win_i - 1], f"proposal {win_i} chosen by {p.aggregation}: " \
                                 f"{valid[win_i - 1].answer[:300]}"

    async def _vote(self, ctx: PatternContext, rec: Record, role: str, k: int, question: str,
                    schema: type[BaseModel], note: str, n: int) -> Any:
        msgs = [system_message(ctx, role), {"role": "user", "content": f"{question}\n\n{note}"}]
        try:
            b, raw, error = await try_ask(ctx, role, k, msgs, schema, purpose="vote")
        except ProviderError as e:  # the provider failed even after retries: an abstention
            degrade(rec, DecisionKind.VOTE, DegradedReason.PROVIDER_DOWN, role=role, rnd=k,
                    task=ctx.task.id, error=str(e), text=None)
            rec.votes.append({"voter": k, "role": role, "error": str(e)[:300]})
            return None
        rec.call(role, 1, "vote", note)
        if b is None:
            b = read_vote(raw, schema, n)
            degrade(rec, DecisionKind.VOTE, DegradedReason.ABSTAINED if b is None
                    else DegradedReason.READ_FROM_TEXT, role=role, rnd=k, task=ctx.task.id,
                    error=error, text=raw)
            if b is None:
                rec.votes.append({"voter": k, "role": role, "error": error[:300]})
                return None
        rec.votes.append({"voter": k, "role": role, **b.model_dump()})
        return b
