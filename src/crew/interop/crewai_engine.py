"""The crewai engine: each member turn of a crew pattern is a one-agent, one-task CrewAI Crew
kickoff; the pattern's loop (rounds, verdicts, plan and review, termination, guards, budget,
checkpoints, commits, outcome) is crew's own, unchanged.

CrewAI agents keep no memory across kickoffs, so a turn's task text is the conversation crew's
loop built, rendered (earlier messages, then the last instruction); the role's title, goal and
instructions are the agent's role, goal and backstory. A structured turn asks for JSON and
parses it (one structured `ask` through crew's LLM repairs an answer that does not parse).
Every model call goes through crew's LLM layer (crewai_adapters.CrewLLM, bridged from CrewAI's
worker thread) with the native pattern's CallContext (role, purpose), tools as function specs
and tool results as `role: tool` messages (see crewai_adapters); a turn that hit
`max_iter` (CrewAI then forces an answer) is reported as not final, so crew's guard applies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from crew.errors import CrewError, CrewRuntimeError
from crew.interop.crewai_adapters import (
    Bridge,
    CallStats,
    crewai_tools,
    llm_class,
    load_crewai,
    slim_i18n,
)
from crew.llm.structured import parse_as, schema_instruction
from crew.llm.types import Message
from crew.patterns.base import PatternContext, start_messages
from crew.patterns.turns import EngineTurn, M, OnTurn, call_params, traced_call
from crew.tools.conventions import with_conventions

ENGINE = "crewai"
ANSWER = "Your answer, as the task asks."


@dataclass
class _Kickoff:
    """What one kickoff needs and leaves: the bridge, and each agent's call stats."""

    crewai: ModuleType
    ctx: PatternContext
    bridge: Bridge
    stats: dict[str, CallStats] = field(default_factory=dict)

    def agent(self, role: str, *, purpose: str = "", task_text: str = "",
              workdir: Path | None = None, task_id: str | None = None,
              alias: str | None = None, temperature: float | None = None,
              first_turn: int = 1) -> Any:
        """A CrewAI Agent for `role`, backed by crew's LLM; crew's tools in `workdir`."""
        ctx, spec = self.ctx, self.ctx.role(role)
        call = ctx.call(role, purpose=purpose, task_id=task_id)
        own = f"{spec.title}{spec.goal}{spec.instructions}{task_text}"
        llm = llm_class(self.crewai)(ctx.llm, alias or spec.model, call, self.bridge,
                                     params=call_params(ctx, role, temperature), own_text=own,
                                     first_turn=first_turn)
        self.stats[role] = llm.stats
        kit = (crewai_tools(self.crewai, ctx.run_context.tools_for(spec.tools),
                            ctx.run_context.tool_context(workdir, call), self.bridge)
               if workdir is not None else [])
        return self.crewai.Agent(
            role=spec.title, goal=spec.goal.strip(), backstory=spec.instructions.strip(),
            llm=llm, tools=kit, allow_delegation=False, max_iter=spec.max_turns,
            max_retry_limit=0, cache=False, verbose=False, i18n=slim_i18n())

    async def run(self, crew: Any) -> Any:
        """`crew.kickoff()` in a worker thread; crew's own error first, whatever CrewAI did
        with it (a BudgetExceeded becomes the pattern's BUDGET outcome)."""
        try:
            out = await asyncio.to_thread(crew.kickoff)
            self.bridge.close_turn()
        except asyncio.CancelledError:
            self.bridge.closed = True
            raise
        except Exception as e:
            self.bridge.close_turn(error=f"{type(e).__name__}: {e}")
            raise self._crew_error(e) from None
        if self.bridge.error is not None:
            raise self.bridge.error
        return out

    def _crew_error(self, e: Exception) -> Exception:
        if self.bridge.error is not None:
            return self.bridge.error
        if isinstance(e, CrewError):
            return e
        return CrewRuntimeError(f"the CrewAI crew failed: {type(e).__name__}: {e}")


def _crew(crewai: ModuleType, agents: list[Any], tasks: list[Any], **kw: Any) -> Any:
    return crewai.Crew(agents=agents, tasks=tasks, verbose=False, tracing=False, memory=False,
                       cache=False, **kw)


def task_text(messages: list[Message]) -> str:
    """A conversation (after its system message) as one CrewAI task description: the earlier
    text messages, then the last instruction (tool calls and results are not carried)."""
    said = [m for m in messages if m.get("role") in ("user", "assistant") and m.get("content")]
    if not said:
        return ""
    last = str(said[-1]["content"])
    if len(said) == 1:
        return last
    earlier = "\n\n".join(f"[{'you' if m['role'] == 'assistant' else 'user'}]\n{m['content']}"
                           for m in said[:-1])
    return f"## Earlier in this conversation\n{earlier}\n\n## Now\n{last}"


class CrewAITurns:
    """crew's MemberTurns on CrewAI: one Crew kickoff (one agent, one task) per member turn."""

    engine = ENGINE
    records_steps = False  # a one-task Crew runs whole

    def __init__(self) -> None:
        self._crewai: ModuleType | None = None

    async def _kickoff(self, ctx: PatternContext, role: str, desc: str, *, purpose: str,
                       workdir: Path | None = None, task_id: str | None = None,
                       alias: str | None = None, temperature: float | None = None,
                       first_turn: int = 1) -> tuple[str, CallStats]:
        if self._crewai is None:
            self._crewai = await asyncio.to_thread(load_crewai)
        crewai = self._crewai
        desc = with_conventions(desc, ctx.conventions)  # the system message is not carried
        k = _Kickoff(crewai, ctx, Bridge(asyncio.get_running_loop(), ctx.tracer))
        agent = k.agent(role, purpose=purpose, task_text=desc, workdir=workdir, task_id=task_id,
                        alias=alias, temperature=temperature, first_turn=first_turn)
        task = crewai.Task(description=desc, expected_output=ANSWER, agent=agent,
                           i18n=slim_i18n())
        out = await k.run(_crew(crewai, [agent], [task]))
        return str(out.raw).strip(), k.stats[role]

    async def agent(self, ctx: PatternContext, role: str, workdir: Path | None, *,
                    task: str | None = None, messages: list[Message] | None = None,
                    purpose: str = "", task_id: str | None = None, alias: str | None = None,
                    temperature: float | None = None,
                    on_turn: OnTurn | None = None) -> EngineTurn:
        msgs = messages if messages is not None else start_messages(ctx, role, workdir,
                                                                    task or "")
        done = sum(1 for m in msgs if m.get("role") == "assistant")
        text, stats = await self._kickoff(ctx, role, task_text(msgs[1:]), purpose=purpose,
                                          workdir=workdir, task_id=task_id, alias=alias,
                                          temperature=temperature, first_turn=done + 1)
        limit = ctx.role(role).max_turns
        final = stats.calls <= limit  # past max_iter, CrewAI forced an answer
        return EngineTurn(text=text, messages=[*msgs, {"role": "assistant", "content": text}],
                          turns=stats.calls, framework_tokens=stats.framework_tokens,
                          final=final,
                          detail="final answer" if final else f"reached max_turns ({limit})")

    async def text(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message], *,
                   purpose: str = "", alias: str | None = None,
                   temperature: float | None = None) -> str:
        text, _ = await self._kickoff(ctx, role, task_text(messages), purpose=purpose,
                                      alias=alias, temperature=temperature, first_turn=rnd)
        return text

    async def ask(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message],
                  schema: type[M], *, purpose: str = "", alias: str | None = None,
                  temperature: float | None = None) -> M:
        note = schema_instruction(schema)  # the compact field list, as crew's own calls
        text, _ = await self._kickoff(ctx, role, f"{task_text(messages)}\n\n{note}",
                                      purpose=purpose, alias=alias, temperature=temperature,
                                      first_turn=rnd)
        try:
            return parse_as(schema, text)
        except ValueError:  # one structured ask on the same conversation repairs it
            msgs = [*messages, {"role": "assistant", "content": text}]
            with traced_call(ctx.tracer, role, rnd, purpose, msgs[-1:]) as obs:
                answer = await ctx.llm.ask(alias or ctx.role(role).model, msgs, schema,
                                           context=ctx.call(role, turn=rnd, purpose=purpose),
                                           **call_params(ctx, role, temperature))
                obs.end(answer.model_dump())
            return answer
