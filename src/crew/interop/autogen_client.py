"""AutoGen (autogen-agentchat 0.7) adapters over crew's own layers.

`CrewChatCompletionClient` is an AutoGen ChatCompletionClient whose every call goes through
crew's ChatModel (Router, ledger, budgets, tracer, replay keys). `CrewWorkbench` is an AutoGen
Workbench over crew's ToolRegistry, so tools stay confined to the workspace and the sandbox.
Only the autogen engine imports this module (loaded by the engine registry on first use):
`import crew` never loads autogen.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelCapabilities,
    ModelFamily,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import TextResultContent, Tool, ToolResult, ToolSchema, Workbench
from pydantic import BaseModel

from crew.errors import CrewError, ModelBehaviorError, ProviderError
from crew.llm.types import (
    CallContext,
    Completion,
    Message,
    StructuredChatModel,
    ToolCall,
    ToolSpec,
    estimate_tokens,
)
from crew.observability.tracer import Tracer, null_tracer
from crew.patterns.turns import traced_call
from crew.tools.base import ToolContext
from crew.tools.registry import ToolRegistry

_FINISH: dict[str, Literal["stop", "length", "function_calls", "content_filter", "unknown"]] = {
    "stop": "stop", "length": "length", "tool_calls": "function_calls",
    "function_call": "function_calls", "content_filter": "content_filter"}
ABSTAIN = "ABSTAIN: "  # prefix of a structured answer that failed (an abstention, not a crash)


class ErrorBox:
    """The first crew error raised inside a team. AgentChat re-raises agent failures as a bare
    RuntimeError(str(e)); the engine re-raises this instead, so BudgetExceeded and UserError
    keep their type."""

    def __init__(self) -> None:
        self.error: CrewError | None = None

    def keep(self, e: CrewError) -> None:
        if self.error is None:
            self.error = e


def to_openai(messages: Sequence[LLMMessage]) -> list[Message]:
    """AutoGen LLMMessages → OpenAI-style chat dicts (other agents' messages are labelled)."""
    out: list[Message] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content})
        elif isinstance(m, UserMessage):
            text = m.content if isinstance(m.content, str) else "\n".join(
                p for p in m.content if isinstance(p, str))
            if m.source and m.source != "user":
                text = f"[{m.source}]\n{text}"
            out.append({"role": "user", "content": text})
        elif isinstance(m, AssistantMessage):
            if isinstance(m.content, str):
                out.append({"role": "assistant", "content": m.content})
            else:
                out.append({"role": "assistant", "content": m.thought, "tool_calls": [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": c.arguments}}
                    for c in m.content]})
        elif isinstance(m, FunctionExecutionResultMessage):
            out.extend({"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                       for r in m.content)
    return out


def from_openai(messages: Sequence[Message], source: str = "assistant") -> list[LLMMessage]:
    """OpenAI-style chat dicts (no system message) → AutoGen LLMMessages (a model context)."""
    out: list[LLMMessage] = []
    names: dict[str, str] = {}  # tool call id → tool name
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role == "user":
            out.append(UserMessage(content=str(content or ""), source="user"))
        elif role == "assistant" and m.get("tool_calls"):
            calls = [FunctionCall(id=c.get("id") or f"call_{i}", name=c["function"]["name"],
                                  arguments=c["function"].get("arguments") or "{}")
                     for i, c in enumerate(m["tool_calls"])]
            names.update((c.id, c.name) for c in calls)
            out.append(AssistantMessage(content=calls, thought=content or None, source=source))
        elif role == "assistant":
            out.append(AssistantMessage(content=str(content or ""), source=source))
        elif role == "tool":
            call_id = str(m.get("tool_call_id") or "")
            res = FunctionExecutionResult(content=str(content or ""), call_id=call_id,
                                          name=names.get(call_id, ""))
            if out and isinstance(out[-1], FunctionExecutionResultMessage):
                out[-1].content.append(res)
            else:
                out.append(FunctionExecutionResultMessage(content=[res]))
    return out


def tool_specs(tools: Sequence[Tool | ToolSchema]) -> list[ToolSpec]:
    """AutoGen tools or tool schemas → OpenAI function-calling specs."""
    specs: list[ToolSpec] = []
    for t in tools:
        schema: Mapping[str, Any] = t if isinstance(t, dict) else t.schema
        fn: dict[str, Any] = {"name": schema["name"],
                              "parameters": dict(schema.get("parameters") or
                                                 {"type": "object", "properties": {}})}
        if schema.get("description"):
            fn["description"] = schema["description"]
        specs.append({"type": "function", "function": fn})
    return specs


def to_create_result(c: Completion) -> CreateResult:
    """A crew Completion → AutoGen CreateResult (tool calls → FunctionCalls)."""
    usage = RequestUsage(prompt_tokens=c.usage.prompt_tokens,
                         completion_tokens=c.usage.completion_tokens)
    if c.tool_calls:
        calls = [FunctionCall(id=t.id or f"call_{i}", name=t.name, arguments=t.arguments)
                 for i, t in enumerate(c.tool_calls)]
        return CreateResult(finish_reason="function_calls", content=calls, usage=usage,
                            cached=False, thought=c.content or None)
    return CreateResult(finish_reason=_FINISH.get(c.finish_reason or "stop", "unknown"),
                        content=c.content or "", usage=usage, cached=False)


class CrewChatCompletionClient(ChatCompletionClient):
    """An AutoGen model client for one crew role: calls `llm.complete(alias, ...)` with a
    CallContext carrying the role, the turn (one per agent reply; tool iterations share it)
    and the purpose; each call is an `agent` observation of `tracer` (the run context's; the
    generation nests under it). With `schema` (or a pydantic `json_output`), calls `llm.ask`
    and answers the validated JSON; a failed structured answer becomes an ABSTAIN text, like a
    native committee's abstention."""

    def __init__(self, llm: StructuredChatModel, alias: str, context: CallContext, *,
                 params: Mapping[str, Any] | None = None, schema: type[BaseModel] | None = None,
                 errors: ErrorBox | None = None, turn_offset: int = 0,
                 tracer: Tracer | None = None) -> None:
        self.llm = llm
        self.tracer = tracer if tracer is not None else null_tracer()
        self.alias = alias
        self.context = context
        self.params = dict(params or {})
        self.schema = schema
        self.errors = errors or ErrorBox()
        self.turn = turn_offset
        self.calls = 0  # model calls made
        self._last = RequestUsage(0, 0)
        self._total = RequestUsage(0, 0)

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        if self.errors.error is not None:  # a tool's infrastructure failure: never asked about
            raise self.errors.error
        if not messages or not isinstance(messages[-1], FunctionExecutionResultMessage):
            self.turn += 1  # a new reply; a call after tool results continues the same one
        self.calls += 1
        ctx = replace(self.context, turn=self.turn)
        msgs = to_openai(messages)
        params = {**self.params, **dict(extra_create_args)}
        schema = json_output if isinstance(json_output, type) else self.schema
        try:
            with traced_call(self.tracer, ctx.role, ctx.turn, ctx.purpose, msgs) as obs:
                if schema is not None:
                    result = await self._structured(msgs, schema, ctx, params)
                    obs.end({"role": "assistant", "content": result.content})
                else:
                    specs = tool_specs(tools) if tools and tool_choice != "none" else None
                    completion = await self.llm.complete(self.alias, msgs, tools=specs,
                                                         context=ctx, **params)
                    obs.end(completion.as_message())
                    result = to_create_result(completion)
        except CrewError as e:
            self.errors.keep(e)
            raise
        self._last = result.usage
        self._total = RequestUsage(self._total.prompt_tokens + result.usage.prompt_tokens,
                                   self._total.completion_tokens + result.usage.completion_tokens)
        return result

    async def _structured(self, msgs: list[Message], schema: type[BaseModel], ctx: CallContext,
                          params: dict[str, Any]) -> CreateResult:
        ledger = getattr(self.llm, "ledger", None)
        start = len(ledger.entries) if ledger is not None else 0
        try:
            answer = await self.llm.ask(self.alias, msgs, schema, context=ctx, **params)
            text = answer.model_dump_json()
        except (ModelBehaviorError, ProviderError) as e:
            text = ABSTAIN + str(e)[:300]
        usage = RequestUsage(0, 0)
        if ledger is not None:  # this call's entries (concurrent members have other roles)
            mine = [x for x in ledger.entries[start:]
                    if (x.role, x.task_id, x.turn) == (ctx.role, ctx.task_id, ctx.turn)]
            usage = RequestUsage(sum(x.prompt_tokens for x in mine),
                                 sum(x.completion_tokens for x in mine))
        return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        """No token streaming: crew's layer returns whole completions; yields the one result."""
        yield await self.create(messages, tools=tools, tool_choice=tool_choice,
                                json_output=json_output, extra_create_args=extra_create_args,
                                cancellation_token=cancellation_token)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(self, messages: Sequence[LLMMessage], *,
                     tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return estimate_tokens(json.dumps(to_openai(messages)) + json.dumps(tool_specs(tools)))

    def remaining_tokens(self, messages: Sequence[LLMMessage], *,
                         tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return max(0, 128_000 - self.count_tokens(messages, tools=tools))

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(vision=False, function_calling=True, json_output=True)

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(vision=False, function_calling=True, json_output=True,
                         family=ModelFamily.UNKNOWN, structured_output=True,
                         multiple_system_messages=True)


class CrewWorkbench(Workbench):
    """AutoGen Workbench over crew's ToolRegistry: the role's tools, each call given `tool_ctx`
    (built by the run context: workdir, path policy, sandbox and limits, test command,
    tracer), with the registry's hooks and approvals; a tool's failure comes back as text, an
    infrastructure failure is kept in `errors` (the client refuses to call the model again)."""

    def __init__(self, registry: ToolRegistry, tool_ctx: ToolContext, *,
                 errors: ErrorBox | None = None) -> None:
        self.registry = registry
        self.errors = errors or ErrorBox()
        self.tool_ctx = tool_ctx
        self.calls = 0

    async def list_tools(self) -> list[ToolSchema]:
        out: list[ToolSchema] = []
        for spec in self.registry.specs():
            fn = spec["function"]
            out.append(ToolSchema(name=fn["name"], description=fn.get("description", ""),
                                  parameters=fn["parameters"]))
        return out

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None,
                        cancellation_token: CancellationToken | None = None,
                        call_id: str | None = None) -> ToolResult:
        self.calls += 1
        call = ToolCall(id=call_id or f"call_{self.calls}", name=name,
                        arguments=json.dumps(dict(arguments or {})))
        try:
            outcome = await self.registry.invoke(call, self.tool_ctx)
        except CrewError as e:  # infrastructure, not the model's: the turn stops with it
            self.errors.keep(e)
            raise
        return ToolResult(name=name, result=[TextResultContent(content=outcome.output)],
                          is_error=outcome.is_error)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def reset(self) -> None:
        return None

    async def save_state(self) -> Mapping[str, Any]:
        return {}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        return None
