"""One agent's turn loop (`TurnLoop`), its guards and what it returns (`AgentResult`).

Each turn sends the conversation, runs the requested tool calls concurrently and feeds their
results back. The loop stops at a final answer (a reply without tool calls), at max_turns, or
at a guard: the same tool call repeated, the same assistant message repeated, or no new tool
result for a number of turns. The conversation grows append-only (crew.agent_prompt lays out
its start), so provider prompt caches keep hitting.

Tool calls a model wrote as text (crew.llm.text_tools) are read when a reply has no native
ones and become ordinary calls; an empty reply, or a call in a tag that cannot be read, is
answered once with a short note. A tool's infrastructure failure (crew.errors.
InfrastructureError, a plugin's UserError) is not fed back: it ends the loop by raising.
Turns, tool calls and guard stops are traced with the agent's RunContext tracer.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from crew.agent_prompt import system_prompt
from crew.llm.text_tools import parse_text_tool_calls
from crew.llm.types import CallContext, Completion, Message, ToolCall, Usage
from crew.tools.registry import OutcomeStatus, ToolOutcome

if TYPE_CHECKING:
    from crew.agent import Agent

NOT_RUN = "Not run: the agent was stopped ({reason})."
ELIDED = "[old output elided ({chars} chars) to keep the context short; call the tool again if needed]"
TRUNCATION_NOTE_CHARS = 40  # "[... N characters omitted ...]" added by the registry
EMPTY_NUDGE = ("Your reply was empty. Continue the task: call a tool, or reply with your final "
               "answer.")
# the task's change would be refused at commit (a protected path, a secret): told this many
# times at most per agent run before its final answer stands (the commit then refuses it)
COMMIT_REFUSED = "Your change cannot be committed:\n{problems}\nUndo that, then answer again."
COMMIT_ASKS = 2
UNREADABLE_CALL = ("Your tool call could not be read ({problem}). Call tools natively, or write "
                   'each call as <tool_call>{{"name": "...", "arguments": {{...}}}}</tool_call> '
                   "with valid JSON.")


class StopReason(StrEnum):
    FINAL = "final"
    MAX_TURNS = "max_turns"
    REPEATED_TOOL_CALL = "repeated_tool_call"
    REPEATED_MESSAGE = "repeated_message"
    NO_PROGRESS = "no_progress"


@dataclass(frozen=True)
class Guards:
    """Deterministic loop guards (0 disables one)."""

    repeated_tool_call: int = 3  # the same call with the same arguments N times in a row
    repeated_message: int = 3  # the same assistant message N turns in a row
    no_progress: int = 4  # N turns in a row without a tool result not seen before


@dataclass(frozen=True)
class ContextLimits:
    """How lean the context stays."""

    tool_output_chars: int = 12_000  # one tool result; longer ones keep head + tail
    history_chars: int = 160_000  # above this, old tool results are elided
    keep_recent_turns: int = 4  # turns whose tool results are never elided


@dataclass
class TurnRecord:
    """Handed to `on_turn` after every turn: enough for a checkpointer to resume from."""

    turn: int
    completion: Completion
    outcomes: list[ToolOutcome]
    messages: list[Message]
    stop_reason: StopReason | None
    detail: str = ""  # why it stopped (with stop_reason)


@dataclass
class AgentResult:
    """How an agent's run ended and what it did."""

    text: str | None  # the final answer, or the last assistant text when stopped early
    stop_reason: StopReason
    detail: str  # a human-readable reason
    messages: list[Message]
    tool_calls: list[ToolOutcome] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    turns: int = 0
    framework_tokens: int = 0  # framework-added prompt text, summed over every call
    tool_schema_tokens: int = 0  # size of the tool schemas sent with each call

    @property
    def final(self) -> bool:
        return self.stop_reason is StopReason.FINAL


OnTurn = Callable[[TurnRecord], Any]


# Timings ("(0.4s)", "in 1.02s") differ between otherwise identical results: not progress.
_TIMINGS = re.compile(r"\d+\.\d+s?")


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except json.JSONDecodeError:
        return arguments


class TurnLoop:
    """The state of one run: counters for the guards and the usage tallies."""

    def __init__(self, agent: Agent, messages: list[Message], context: CallContext) -> None:
        self.a = agent
        self.messages = messages
        self.context = context if context.role else replace(context, role=agent.role.name)
        self.outcomes: list[ToolOutcome] = []
        self.prompt_tokens = self.completion_tokens = 0
        self.cost = 0.0
        self.framework_tokens = 0
        self.seen_results: set[tuple[str, str, str]] = set()
        self.last_call: tuple[str, str] | None = None
        self.call_run = 0
        self.last_message: tuple[str, tuple[tuple[str, str], ...]] | None = None
        self.message_run = 0
        self.stale_turns = 0
        self.elided: set[int] = set()
        # messages up to here were traced already (a continued conversation: up to the last
        # assistant message); the assistant message of the turn in progress
        self.shown = max((i + 1 for i, m in enumerate(messages) if m.get("role") == "assistant"),
                         default=0)
        self.turn_output: Message | None = None
        self.last_text: str | None = None  # the last assistant text seen
        self.nudged = False  # an empty or unreadable reply was answered once already
        self.commit_asks = 0  # times told the change cannot be committed
        self.specs = agent.tools.specs()
        self.schema_tokens = agent.count_tokens(json.dumps(self.specs)) if self.specs else 0
        _, glue = system_prompt(agent.role, with_tools=len(agent.tools) > 0)
        self.fw_static = agent.count_tokens(glue)  # in every prompt
        self.fw_dynamic = 0  # notes added since (truncations, elisions, not-run results)
        self.tracer = agent.run_context.tracer
        self.tool_ctx = agent.run_context.tool_context(
            agent.workspace, self.context, protected=agent.paths.protected,
            diff_base=agent.diff_base, output_chars=agent.limits.tool_output_chars)

    async def run(self) -> AgentResult:
        turn = sum(1 for m in self.messages if m.get("role") == "assistant")
        tracer = self.tracer
        trace_meta = {k: v for k, v in (("purpose", self.context.purpose),
                                        ("task_id", self.context.task_id)) if v}
        while turn < self.a.max_turns:
            turn += 1
            # One `agent` observation per turn: its input is what is new since the last
            # assistant message; the generation and the tool calls nest under it.
            with tracer.agent(self.context.role, turn, input=self.messages[self.shown:],
                              **trace_meta) as obs:
                result = await self._turn(turn)
                ended = {} if result is None else {"stop_reason": str(result.stop_reason),
                                                   "detail": result.detail}
                obs.end(self.turn_output, **ended)
            if result is not None:
                return result
        # resumed with no turns left
        return self._result(turn, StopReason.MAX_TURNS, f"reached max_turns ({self.a.max_turns})",
                            self.last_text)

    async def _turn(self, turn: int) -> AgentResult | None:
        """One turn: a model call and the tool calls it asks for; the result when it ends."""
        self._window()
        self.framework_tokens += self.fw_static + self.fw_dynamic
        completion = await self.a.model.complete(
            self.a.alias,
            self.messages,
            tools=self.specs or None,
            context=replace(self.context, turn=turn),
            **self.a.params,
        )
        self.prompt_tokens += completion.usage.prompt_tokens
        self.completion_tokens += completion.usage.completion_tokens
        self.cost += completion.cost_usd
        content, raw_calls, problem = self._read_calls(completion, turn)
        calls = _unique_ids(raw_calls, turn)
        said = bool(content and content.strip())
        self.last_text = content if said else self.last_text
        self.turn_output = _assistant(content, calls)
        if not calls:
            note = (EMPTY_NUDGE if not said else
                    UNREADABLE_CALL.format(problem=problem) if problem else None)
            if note is not None and not self.nudged:
                await self._nudge(turn, completion, note)
                return None
            if note is None and await self._refused(turn, completion):
                return None
            self.messages.append(self.turn_output)
            self.shown = len(self.messages)
            detail = "final answer" if note is None else "final answer (after a nudge)"
            return await self._finish(turn, completion, [], StopReason.FINAL, detail,
                                      content if said else self.last_text)
        self.messages.append(self.turn_output)
        self.shown = len(self.messages)
        tripped = self._check_repeats(content, calls)
        if tripped:
            reason, detail = tripped
            skipped = self._not_run(calls, detail)
            return await self._finish(turn, completion, skipped, reason, detail, self.last_text)
        outcomes = await self._invoke(calls)
        self.outcomes.extend(outcomes)
        for o in outcomes:
            self.messages.append(o.as_message())
            if o.truncated:
                self.fw_dynamic += self.a.count_tokens("x" * TRUNCATION_NOTE_CHARS)
        stop = None
        detail = ""
        if self._no_progress(outcomes):
            stop = StopReason.NO_PROGRESS
            detail = f"no new tool result in {self.stale_turns} turns"
        elif turn >= self.a.max_turns:
            stop, detail = StopReason.MAX_TURNS, f"reached max_turns ({self.a.max_turns})"
        if stop:
            return await self._finish(turn, completion, outcomes, stop, detail, self.last_text)
        await self._notify(TurnRecord(turn, completion, outcomes, list(self.messages), None))
        return None

    def _read_calls(self, completion: Completion, turn: int
                    ) -> tuple[str | None, Sequence[ToolCall], str | None]:
        """(content, calls, problem): native calls as they are; else, for an agent with tools,
        the calls written in the text (content is then the text around them)."""
        content = completion.content
        if completion.tool_calls or not self.specs:
            return content, completion.tool_calls, None
        parsed = parse_text_tool_calls(content)
        if parsed is None:
            return content, (), None
        if parsed.calls:
            self.tracer.event("text_tool_calls", "WARNING" if parsed.problem else "DEFAULT", {
                "role": self.context.role, "turn": turn, "format": parsed.format,
                "calls": [c.name for c in parsed.calls],
                **({"problem": parsed.problem} if parsed.problem else {})})
        return parsed.text if parsed.calls else content, parsed.calls, parsed.problem

    async def _refused(self, turn: int, completion: Completion) -> bool:
        """Before a final answer stands: tell the agent (at most COMMIT_ASKS times) what in
        its change the commit would refuse, so it can undo it. True when told."""
        if self.a.commit_check is None or self.commit_asks >= COMMIT_ASKS:
            return False
        problems = await asyncio.to_thread(self.a.commit_check)
        if not problems:
            return False
        self.commit_asks += 1
        await self._nudge(turn, completion, COMMIT_REFUSED.format(
            problems="\n".join(f"- {p}" for p in problems)), once=False)
        return True

    async def _nudge(self, turn: int, completion: Completion, note: str,
                     once: bool = True) -> None:
        """Answer an empty reply, or a call that could not be read, once with `note`. An empty
        reply is not kept (some providers refuse empty assistant messages)."""
        self.nudged = self.nudged or once
        if (completion.content or "").strip():
            self.messages.append(self.turn_output or {})
        self.shown = len(self.messages)
        self.messages.append({"role": "user", "content": note})
        self.fw_dynamic += self.a.count_tokens(note)
        self.tracer.event("agent_nudged", "WARNING", {
            "role": self.context.role, "turn": turn, "note": note[:300]})
        await self._notify(TurnRecord(turn, completion, [], list(self.messages), None))

    async def _invoke(self, calls: Sequence[ToolCall]) -> list[ToolOutcome]:
        """Run the calls concurrently; when one raises (an infrastructure failure), the others
        still finish before the first error is raised, so nothing is left running."""
        results = await asyncio.gather(
            *(self.a.tools.invoke(c, self.tool_ctx) for c in calls), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [r for r in results if isinstance(r, ToolOutcome)]

    # ---------------------------------------------------------------- guards

    def _check_repeats(
        self, content: str | None, calls: Sequence[ToolCall]
    ) -> tuple[StopReason, str] | None:
        g = self.a.guards
        sigs = tuple((c.name, _canonical(c.arguments)) for c in calls)
        for sig in sigs:
            self.call_run = self.call_run + 1 if sig == self.last_call else 1
            self.last_call = sig
            if g.repeated_tool_call and self.call_run >= g.repeated_tool_call:
                return (StopReason.REPEATED_TOOL_CALL,
                        f"{sig[0]} called with the same arguments {self.call_run} times in a row")
        msg_sig = ((content or "").strip(), sigs)
        self.message_run = self.message_run + 1 if msg_sig == self.last_message else 1
        self.last_message = msg_sig
        if g.repeated_message and self.message_run >= g.repeated_message:
            return (StopReason.REPEATED_MESSAGE,
                    f"the same assistant message {self.message_run} turns in a row")
        return None

    def _no_progress(self, outcomes: Sequence[ToolOutcome]) -> bool:
        new = False
        for o in outcomes:
            key = (o.call.name, _canonical(o.call.arguments), _TIMINGS.sub("#", o.output))
            if key not in self.seen_results:
                self.seen_results.add(key)
                new = True
        self.stale_turns = 0 if new else self.stale_turns + 1
        n = self.a.guards.no_progress
        return bool(n) and self.stale_turns >= n

    def _not_run(self, calls: Sequence[ToolCall], detail: str) -> list[ToolOutcome]:
        """Answer every requested call so the conversation stays well-formed for resuming."""
        skipped = [ToolOutcome(c, NOT_RUN.format(reason=detail), OutcomeStatus.VETOED)
                   for c in calls]
        for o in skipped:
            self.messages.append(o.as_message())
            self.fw_dynamic += self.a.count_tokens(o.output)
        return skipped

    # ---------------------------------------------------------------- context

    def _window(self) -> None:
        """Elide old tool results once the history outgrows its budget (rarely: in one sweep,
        so the cached prefix changes once, not every turn)."""
        lim = self.a.limits
        if sum(len(str(m.get("content") or "")) for m in self.messages) <= lim.history_chars:
            return
        assistant_idx = [i for i, m in enumerate(self.messages) if m.get("role") == "assistant"]
        if len(assistant_idx) <= lim.keep_recent_turns:
            return
        cutoff = assistant_idx[-lim.keep_recent_turns] if lim.keep_recent_turns else len(
            self.messages)
        for i in range(cutoff):
            m = self.messages[i]
            content = str(m.get("content") or "")
            if m.get("role") == "tool" and i not in self.elided and len(content) > 200:
                note = ELIDED.format(chars=len(content))
                self.messages[i] = {**m, "content": note}
                self.elided.add(i)
                self.fw_dynamic += self.a.count_tokens(note)

    # ---------------------------------------------------------------- ending

    async def _notify(self, record: TurnRecord) -> None:
        if self.a.on_turn is not None:
            res = self.a.on_turn(record)
            if inspect.isawaitable(res):
                await res

    async def _finish(
        self, turn: int, completion: Completion, outcomes: list[ToolOutcome],
        reason: StopReason, detail: str, text: str | None,
    ) -> AgentResult:
        if reason is not StopReason.FINAL:
            self.tracer.event("guard_stop", "WARNING", {
                "role": self.context.role, "turn": turn, "reason": str(reason),
                "detail": detail})
        await self._notify(TurnRecord(turn, completion, outcomes, list(self.messages), reason,
                                      detail))
        return self._result(turn, reason, detail, text)

    def _result(self, turn: int, reason: StopReason, detail: str, text: str | None) -> AgentResult:
        return AgentResult(
            text=text,
            stop_reason=reason,
            detail=detail,
            messages=self.messages,
            tool_calls=self.outcomes,
            usage=Usage(self.prompt_tokens, self.completion_tokens),
            cost_usd=self.cost,
            turns=turn,
            framework_tokens=self.framework_tokens,
            tool_schema_tokens=self.schema_tokens,
        )


def _unique_ids(calls: Sequence[ToolCall], turn: int) -> list[ToolCall]:
    """Tool call ids as the model gave them, made non-empty and unique within the turn."""
    seen: set[str] = set()
    out = []
    for i, c in enumerate(calls):
        cid = c.id if c.id and c.id not in seen else f"call_{turn}_{i}"
        seen.add(cid)
        out.append(c if cid == c.id else replace(c, id=cid))
    return out


def _assistant(content: str | None, calls: Sequence[ToolCall]) -> Message:
    msg: Message = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return msg
