"""The autogen engine: each member turn of a crew pattern is taken by an AutoGen AgentChat
`AssistantAgent`; the pattern's loop (rounds, consensus, judge, ballots, termination, guards,
budget, checkpoints, outcome) is crew's own, unchanged.

The agent gets the conversation crew's loop built: the system message becomes its
`system_message`, the earlier messages its model context, the last user message its task. Every
model call goes through crew's LLM layer (CrewChatCompletionClient: Router, ledger, budgets,
tracer, replay keys); tools are crew's, confined to the workdir and the sandbox (CrewWorkbench).
A turn that used all its tool iterations without a text answer is reported as not final, so
crew's guard stop applies as on native.
"""

from __future__ import annotations

import re
from pathlib import Path

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import TextMessage
from autogen_core.model_context import UnboundedChatCompletionContext
from pydantic import ValidationError

from crew.agent_prompt import system_prompt
from crew.errors import CrewRuntimeError, ModelBehaviorError
from crew.interop.autogen_client import (
    ABSTAIN,
    CrewChatCompletionClient,
    CrewWorkbench,
    ErrorBox,
    from_openai,
    to_openai,
)
from crew.llm.types import Message, estimate_tokens
from crew.patterns.base import PatternContext, start_messages
from crew.patterns.turns import EngineTurn, M, OnTurn, call_params
from crew.tools.registry import ToolRegistry

ENGINE = "autogen"


def agent_name(role: str) -> str:
    """An AutoGen agent name (a Python identifier) for `role`."""
    return "m_" + re.sub(r"\W", "_", role)


class AutogenTurns:
    """crew's MemberTurns on AutoGen: one AssistantAgent run per member turn."""

    engine = ENGINE
    records_steps = False  # an AssistantAgent turn runs whole

    async def agent(self, ctx: PatternContext, role: str, workdir: Path | None, *,
                    task: str | None = None, messages: list[Message] | None = None,
                    purpose: str = "", task_id: str | None = None, alias: str | None = None,
                    temperature: float | None = None,
                    on_turn: OnTurn | None = None) -> EngineTurn:
        msgs = messages if messages is not None else start_messages(ctx, role, workdir,
                                                                    task or "")
        spec = ctx.role(role)
        tools = (ctx.run_context.tools_for(spec.tools) if workdir is not None and spec.tools
                 else None)
        client, text, history = await self._run(
            ctx, role, msgs, purpose=purpose, task_id=task_id, alias=alias,
            temperature=temperature, workdir=workdir, tools=tools)
        _, glue = system_prompt(spec, with_tools=tools is not None)
        final = text is not None
        return EngineTurn(
            text=text if final else _last_text(history), messages=history, turns=client.calls,
            framework_tokens=estimate_tokens(glue) * client.calls, final=final,
            detail="final answer" if final else f"reached max_turns ({spec.max_turns})")

    async def text(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message], *,
                   purpose: str = "", alias: str | None = None,
                   temperature: float | None = None) -> str:
        _, text, _ = await self._run(ctx, role, messages, purpose=purpose, alias=alias,
                                     temperature=temperature, turn=rnd)
        return (text or "").strip()

    async def ask(self, ctx: PatternContext, role: str, rnd: int, messages: list[Message],
                  schema: type[M], *, purpose: str = "", alias: str | None = None,
                  temperature: float | None = None) -> M:
        _, text, _ = await self._run(ctx, role, messages, purpose=purpose, alias=alias,
                                     temperature=temperature, turn=rnd, schema=schema)
        if text is None or text.startswith(ABSTAIN):
            raise ModelBehaviorError((text or ABSTAIN + "no answer")[len(ABSTAIN):])
        try:
            return schema.model_validate_json(text)
        except ValidationError as e:
            raise ModelBehaviorError(f"{role}: the answer does not match {schema.__name__}: "
                                     f"{e}") from None

    async def _run(self, ctx: PatternContext, role: str, msgs: list[Message], *,
                   purpose: str, task_id: str | None = None, alias: str | None = None,
                   temperature: float | None = None, workdir: Path | None = None,
                   tools: ToolRegistry | None = None, turn: int | None = None,
                   schema: type[M] | None = None
                   ) -> tuple[CrewChatCompletionClient, str | None, list[Message]]:
        """Run one AssistantAgent on `msgs`: (its client, its text answer or None when it
        ended on tool calls, the whole conversation after it)."""
        spec = ctx.role(role)
        call = ctx.call(role, task_id=task_id, purpose=purpose)
        errors = ErrorBox()
        done = sum(1 for m in msgs if m.get("role") == "assistant")
        client = CrewChatCompletionClient(
            ctx.llm, alias or spec.model, call, params=call_params(ctx, role, temperature),
            schema=schema, errors=errors, turn_offset=done if turn is None else turn - 1,
            tracer=ctx.tracer)
        bench = (CrewWorkbench(tools, ctx.run_context.tool_context(workdir, call), errors=errors)
                 if tools is not None and workdir is not None else None)
        system = [m for m in msgs[:1] if m.get("role") == "system"]
        rest = msgs[len(system):]
        if not rest or rest[-1].get("role") != "user":
            raise CrewRuntimeError(f"{role}: a member turn must end with a user message")
        context = UnboundedChatCompletionContext(initial_messages=from_openai(rest[:-1]))
        agent = AssistantAgent(
            agent_name(role), model_client=client, workbench=bench, model_context=context,
            system_message=str(system[0]["content"]) if system else None,
            description=spec.title or role, reflect_on_tool_use=False,
            max_tool_iterations=max(1, spec.max_turns) if bench else 1)
        try:
            result = await agent.run(task=TextMessage(content=str(rest[-1].get("content") or ""),
                                                      source="user"))
        except Exception as e:  # AgentChat re-raises an agent's failure as a bare error
            if errors.error is not None:
                raise errors.error from None
            raise CrewRuntimeError(f"the AutoGen agent failed: {type(e).__name__}: {e}"
                                   ) from None
        if errors.error is not None:  # swallowed by autogen somewhere: still a failure
            raise errors.error
        last = result.messages[-1] if result.messages else None
        text = last.to_text() if isinstance(last, TextMessage) else None
        history = [*system, *to_openai(await context.get_messages())]
        return client, text, history


def _last_text(messages: list[Message]) -> str | None:
    for m in reversed(messages):
        if m.get("role") == "assistant" and m.get("content"):
            return str(m["content"])
    return None
