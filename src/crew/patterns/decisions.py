"""Degraded decisions: what a pattern (or the run's planner) does when a structured answer
cannot be read (or, for a committee member, cannot be had), so one bad answer never ends a run.

Every structured decision first goes through the model's structured path (native json_schema
or instructions, repair, re-asks, the alias's fallback). When that still fails, the decision is
read from the raw answer: its fields when it is (repairable) JSON that only failed the schema
(a `"winner": 0` where a string was wanted must not turn the whole JSON into the decision),
else the plain marker the role was asked for (APPROVED / CHANGES REQUESTED, a chosen option or
proposal number); else a documented fallback applies:

| decision | unreadable → |
|---|---|
| reviewer's verdict, lead's review | changes requested, the text as the feedback (max rounds bound it) |
| committee ballot or vote | the member abstains (unless the text names one option / proposal) |
| committee ballot or vote, provider down | the member abstains (`provider_down`) |
| committee chair | text committee: the chair's text is the decision; code: no decision |
| debate judge | no decision (`no_consensus`); the debaters' final answers are kept |
| lead's plan | one subtask, the whole task, for the first worker |
| the run's plan | the goal as one task (the `implement` template, else a coder) |

Each is recorded as a `Degraded` on the pattern's result (and the run state), shown in the
report and emitted as a `decision_degraded` trace event.
"""

from __future__ import annotations

import contextlib
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from crew.errors import ModelBehaviorError

if TYPE_CHECKING:
    from crew.observability.tracer import Tracer
    from crew.patterns.base import PatternContext, Record

M = TypeVar("M", bound=BaseModel)
TEXT_CHARS = 2000  # raw text kept as feedback / decision
EXCERPT_CHARS = 300  # raw text kept in the record (report, trace)


class DecisionKind(StrEnum):
    VERDICT = "verdict"  # review_loop: the reviewer's verdict
    JUDGE = "judge"  # debate: the judge's verdict
    BALLOT = "ballot"  # committee: a member's answer
    VOTE = "vote"  # committee: a member's vote or ranking
    CHAIR = "chair"  # committee: the chair's decision
    LEAD_PLAN = "lead_plan"  # supervisor_worker: the lead's subtasks
    LEAD_REVIEW = "lead_review"  # supervisor_worker: the lead's review
    RUN_PLAN = "run_plan"  # the run's supervisor: the task plan


class DegradedReason(StrEnum):
    READ_FROM_TEXT = "read_from_text"  # decided by a plain marker in the text
    CHANGES_REQUESTED = "changes_requested"  # counted as changes requested, text as feedback
    ABSTAINED = "abstained"  # the member abstained
    PROVIDER_DOWN = "provider_down"  # the member's provider failed after retries: abstained
    NO_DECISION = "no_decision"  # nobody decided; the proposals are kept
    SINGLE_SUBTASK = "single_subtask"  # the whole task as one subtask for the first worker
    SINGLE_TASK = "single_task"  # the goal as one task


class Degraded(BaseModel):
    """One decision taken by the fallback instead of a valid structured answer."""

    model_config = ConfigDict(extra="forbid")

    decision: DecisionKind
    reason: DegradedReason
    role: str = ""
    round: int = 0
    task: str = ""
    error: str = ""  # why the structured answer failed
    excerpt: str = ""  # the start of the raw answer

    def describe(self) -> str:
        who = f" by {self.role}" if self.role else ""
        rnd = f" (round {self.round})" if self.round else ""
        return f"{self.decision.value}{who}{rnd}: {self.reason.value}"


def trace_degraded(tracer: Tracer, d: Degraded) -> None:
    """A `decision_degraded` WARNING event under `tracer`'s current observation."""
    tracer.event("decision_degraded", "WARNING", d.model_dump(mode="json"))


def degrade(rec: Record, kind: DecisionKind, reason: DegradedReason, *, role: str,
            rnd: int, task: str, error: str, text: str | None) -> Degraded:
    """Record (result, trace) that `kind` was decided by the fallback `reason`."""
    d = Degraded(decision=kind, reason=reason, role=role, round=rnd, task=task,
                 error=error[:EXCERPT_CHARS], excerpt=" ".join((text or "").split())[
                     :EXCERPT_CHARS])
    rec.degraded.append(d)
    trace_degraded(rec.tracer, d)
    return d


async def try_ask(ctx: PatternContext, role: str, rnd: int, messages: list[dict[str, Any]],
                  schema: type[M], *, purpose: str, alias: str | None = None,
                  temperature: float | None = None) -> tuple[M | None, str | None, str]:
    """(answer, None, "") or, when no valid answer came, (None, the raw text of the last
    attempt when known, why). Recorded in the TurnStore like a turn, so a resumed round
    gets the same outcome without asking the model again."""
    from crew.patterns.state import AskRecord

    store = ctx.turn_store
    key = ctx.turn_key(role, rnd, purpose) if store is not None else ""
    saved = store.answer(key) if store is not None else None
    if saved is not None and saved.answer is None:
        return None, saved.raw, saved.error
    if saved is not None:
        with contextlib.suppress(ValueError):  # the schema changed since: asked again
            return schema.model_validate(saved.answer), None, ""
    try:
        answer: M | None = await ctx.turns.ask(ctx, role, rnd, messages, schema,
                                               purpose=purpose, alias=alias,
                                               temperature=temperature)
        raw, error = None, ""
    except ModelBehaviorError as e:
        last = getattr(e, "last_output", None)
        answer, raw, error = None, last if isinstance(last, str) else None, str(e)
    if store is not None:
        store.record_answer(key, AskRecord(
            answer=answer.model_dump(mode="json") if answer is not None else None, raw=raw,
            error=error))
    return answer, raw, error


# ---------------------------------------------------------------------- plain-text readers
_MARKER = re.compile(r"^[\s>*_#`\-]*(?:verdict\s*[:\-]?\s*)?[*_`]*"
                     r"(APPROVED|CHANGES[ _]REQUESTED)\b", re.M | re.I)
_PROPOSAL = re.compile(r"\b(?:proposal|option|answer|choice)\s*(?:no\.?|number|#)?\s*(\d+)\b"
                       r"|#(\d+)\b", re.I)
_SEQUENCE = re.compile(r"^[^\d\n]*?(\d+)((?:\s*(?:,|>|->)\s*\d+)+)\W*$", re.M)


def read_fields(text: str | None) -> dict[str, Any]:
    """The JSON object in `text` (fenced, inside prose, or repairable), else {}: the fields
    of an answer that was JSON but failed its schema."""
    from crew.llm.structured import repair_json

    if not text or "{" not in text:
        return {}
    try:
        data = repair_json(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def field_text(fields: dict[str, Any], key: str) -> str | None:
    """Field `key` as stripped text when it is a non-empty string or number, else None."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def read_flag(fields: dict[str, Any], key: str) -> bool | None:
    """Boolean field `key`: a JSON boolean, or a string holding one approval marker."""
    value = fields.get(key)
    if isinstance(value, bool):
        return value
    return read_approval(value) if isinstance(value, str) else None


def read_items(fields: dict[str, Any], key: str, schema: type[M]) -> list[M]:
    """The items of list field `key` that validate as `schema` (the others are dropped)."""
    value = fields.get(key)
    items: list[M] = []
    for item in value if isinstance(value, list) else []:
        with contextlib.suppress(ValueError):
            items.append(schema.model_validate(item))
    return items


def read_approval(text: str | None) -> bool | None:
    """True for APPROVED, False for CHANGES REQUESTED (at a line start, decoration and a
    `Verdict:` prefix allowed); None when neither or both appear."""
    found = {m.group(1).upper().replace("_", " ") for m in _MARKER.finditer(text or "")}
    if len(found) != 1:
        return None
    return found.pop() == "APPROVED"


def read_option(text: str | None, options: list[str]) -> str | None:
    """The one option the text names (whole words, any case), else None."""
    hits = [o for o in options
            if re.search(rf"(?<!\w){re.escape(o)}(?!\w)", text or "", re.I)]
    return hits[0] if len(hits) == 1 else None


def read_number(text: str | None, n: int) -> int | None:
    """The one proposal number (1..n) the text names ("proposal 2", "#2", or only "2")."""
    stripped = (text or "").strip().rstrip(".")
    if stripped.isdigit():
        k = int(stripped)
        return k if 1 <= k <= n else None
    nums = {int(a or b) for a, b in _PROPOSAL.findall(text or "")}
    nums = {k for k in nums if 1 <= k <= n}
    return nums.pop() if len(nums) == 1 else None


def read_ranking(text: str | None, n: int) -> list[int] | None:
    """An explicit ranking line ("2, 1, 3" or "2 > 1 > 3") of proposal numbers, else None."""
    for m in _SEQUENCE.finditer(text or ""):
        order = [int(m.group(1)), *map(int, re.findall(r"\d+", m.group(2)))]
        if all(1 <= k <= n for k in order) and len(set(order)) == len(order):
            return order
    return None
