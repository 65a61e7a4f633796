"""CrewAI ↔ crew adapters: loading CrewAI safely, a CrewAI LLM over crew's LLM layer, crew's
tools as CrewAI tools, and the bridge from CrewAI's synchronous calls to crew's event loop.

CrewAI (1.6) drives agents with a ReAct text loop and calls `LLM.call` synchronously from the
thread running `Crew.kickoff`. `Bridge.run` schedules crew's coroutine on the run's loop and
waits for it there, so every model call goes through crew's Router, ledger, budgets and tracer.

Tool calls are native on the wire although CrewAI 1.6.1's executor is text-only (it never
passes tools to `LLM.call`: crew_agent_executor.py `_invoke_loop` → agent_utils.py
`get_llm_response`; its only function-calling path, llm.py `_handle_tool_call`, runs the
function inside `LLM.call` and returns the result as the answer, never as a tool message).
`CrewLLM` sends the tools as function specs, hands CrewAI the model's first tool call as the
ReAct step its parser expects, and on the next call rewrites CrewAI's "<step>\nObservation:
<result>" message into the assistant message with that tool call and a `role: tool` result —
so the model never sees ReAct text. CrewAI's ReAct instructions are dropped from its prompt
(`slim_i18n`) and its console output (colour codes) is silenced (`quiet_crewai`).
The first crew error (a budget stop, a provider failure) is kept: CrewAI catches and retries,
so later calls re-raise it without reaching the model, and the engine re-raises it after the
kickoff, whatever CrewAI made of it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import importlib
import itertools
import json
import logging
import os
import re
import tempfile
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ConfigDict, PrivateAttr

from crew.errors import CrewError, CrewRuntimeError, UserError
from crew.llm.types import (
    CallContext,
    Completion,
    Message,
    StructuredChatModel,
    ToolSpec,
    estimate_tokens,
)

if TYPE_CHECKING:
    from crew.observability.tracer import Observation, Tracer
    from crew.tools.base import ToolContext
    from crew.tools.registry import ToolRegistry

T = TypeVar("T")

# CrewAI's telemetry (OTLP to its servers; +~10 s at exit on a closed network) is armed once,
# when crewai is imported: these hold for that import only, unless the user set them (a user
# who sets CREWAI_DISABLE_TELEMETRY=false consents). Never OTEL_SDK_DISABLED: it would also
# silence crew's own Langfuse export. CrewAI's cloud tracing follows the user's own consent
# (CREWAI_TRACING_ENABLED, or CrewAI's stored answer); its first-run trace upload and 20 s
# stdin prompt are disarmed after the import (`_no_first_run_prompt`). See ARCHITECTURE.md.
IMPORT_ENV = {"CREWAI_DISABLE_TELEMETRY": "true", "CREWAI_DISABLE_TRACKING": "true",
              "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
CREWAI_INJECTED = frozenset({"security_context"})  # arguments CrewAI adds to every tool call
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
OBSERVATION = "\nObservation:"
# CrewAI prompt slices replaced (crewai/translations/en.json): the ReAct format and the tool
# list in text (tools go as function specs), the "Begin! ... your job depends on it" coda.
SLIM_SLICES = {"tools": "", "no_tools": "", "task": "\n\n{input}", "expected_output": ""}
log = logging.getLogger("crew.interop.crewai")


def _writable_ancestor(path: Path) -> Path | None:
    """None if `path` (or the nearest existing ancestor, where it would be created) takes a
    file; else that ancestor."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        with tempfile.TemporaryFile(dir=p):
            return None
    except OSError:
        return p


def check_home() -> None:
    """CrewAI creates directories under HOME when imported: a clear UserError if it cannot."""
    home = Path.home()
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    for target in (data, home / ".config" / "crewai"):
        bad = _writable_ancestor(target)
        if bad is not None:
            raise UserError(
                f"the crewai engine cannot start: CrewAI writes under {target} when imported, "
                f"and {bad} is not writable", field="engine",
                hint="point HOME (and XDG_DATA_HOME, if set) at a writable directory, or use "
                     "engine: native")


def load_crewai() -> ModuleType:
    """Import crewai with its telemetry off (unless the user turned it on) and its first-run
    trace prompt disarmed; the process environment is left as it was. UserError when the
    extra or a writable HOME is missing. Blocking (seconds): call it off the event loop."""
    check_home()
    try:
        with _import_env():
            crewai = importlib.import_module("crewai")
    except ImportError as e:
        if (e.name or "").split(".")[0] != "crewai":
            raise
        raise UserError("the crewai engine needs the crewai package, which is not installed",
                        field="engine", hint="pip install 'crew[crewai]', or use engine: native"
                        ) from None
    except OSError as e:
        raise UserError(f"the crewai engine cannot start: importing crewai failed: {e}",
                        field="engine", hint="point HOME at a writable directory") from None
    _no_first_run_prompt()
    quiet_crewai()
    return crewai


def quiet_crewai() -> None:
    """CrewAI's console output off: its Printer writes raw ANSI colour codes to stdout (which
    carries crew's --json), its event listener and agent utils print rich panels. Printer text
    goes to the `crew.interop.crewai` logger at DEBUG, colour codes removed."""
    from crewai.events.event_listener import event_listener
    from crewai.utilities import agent_utils
    from crewai.utilities.printer import Printer

    def to_log(content: Any, color: Any = None, *args: Any, **kwargs: Any) -> None:
        text = content if isinstance(content, str) else "".join(c.text for c in content)
        log.debug("crewai: %s", _ANSI.sub("", text).strip())

    Printer.print = staticmethod(to_log)  # type: ignore[method-assign]
    event_listener.formatter.console.quiet = True
    agent_utils.console.quiet = True


@functools.cache
def slim_i18n() -> Any:
    """CrewAI's I18N with SLIM_SLICES: the agent's prompt keeps its role, backstory, goal and
    task, without instructions for a text tool format the model never uses here."""
    from crewai.utilities.i18n import I18N, get_i18n

    prompts = json.loads(json.dumps(get_i18n()._prompts))
    prompts["slices"].update(SLIM_SLICES)
    fd, path = tempfile.mkstemp(prefix="crew-crewai-prompts-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(prompts, f)
    atexit.register(_unlink, path)  # CrewAI re-reads it whenever it validates an agent
    return I18N(prompt_file=path)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


@contextlib.contextmanager
def _import_env() -> Iterator[None]:
    """IMPORT_ENV's defaults for the block (crewai's import), restored after it."""
    added = [k for k in IMPORT_ENV if k not in os.environ]
    for k in added:
        os.environ[k] = IMPORT_ENV[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _no_first_run_prompt() -> None:
    """CrewAI's trace listener (made at import) arms itself on a first run to collect the
    run's events, upload them and ask on stdin for 20 s whether to show them: disarm it.
    (CrewAI's own switch for this, CREWAI_TESTING, is a test mode: crew never sets it.)"""
    try:
        from crewai.events.listeners.tracing.trace_listener import TraceCollectionListener
    except ImportError:
        return
    instance = getattr(TraceCollectionListener, "_instance", None)
    handler = getattr(instance, "first_time_handler", None)
    if handler is not None:
        handler.is_first_time = False


class Bridge:
    """Runs crew coroutines on the run's event loop from CrewAI's worker thread; traces the
    CrewAI agent's steps with `tracer` (the run context's)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tracer: Tracer) -> None:
        self.loop = loop
        self.tracer = tracer
        self.error: CrewError | None = None
        self.closed = False
        self._turn: Observation | None = None
        self.turn_output: str | None = None
        self.tool_output: str | None = None  # what crew's tool last returned (CrewTool)

    def open_turn(self, role: str, turn: int, messages: list[Message], **meta: Any) -> None:
        """The `agent` observation of one CrewAI agent step, as native agents trace a turn:
        the generation and the tool calls that follow it nest under it; it stays current
        until the next step (of any agent) or `close_turn`. Called on CrewAI's thread."""
        self.close_turn()
        tracer = self.tracer
        if not tracer.enabled:
            return
        shown = [m for m in messages if m.get("role") != "system"]
        obs = tracer.agent(role, turn, input=shown[-2:] if turn > 1 else shown,
                           **{k: v for k, v in meta.items() if v})
        obs.__enter__()
        self._turn, self.turn_output = obs, None

    def close_turn(self, output: Any = None, *, error: str | None = None) -> None:
        obs, self._turn = self._turn, None
        if obs is not None:
            obs.end(output if output is not None else self.turn_output, error=error)
            obs.__exit__(None, None, None)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.error is not None or self.closed:
            coro.close()
            raise self.error or CrewRuntimeError("the crewai run was stopped")
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # waiting here would deadlock the loop the coroutine needs
            coro.close()
            raise CrewRuntimeError("CrewAI called the model on crew's event loop thread; "
                                   "kickoff must run in a worker thread")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        while True:
            try:
                return fut.result(timeout=0.5)
            except concurrent.futures.TimeoutError:
                if self.closed:  # the run was cancelled: do not wait for a loop that is gone
                    fut.cancel()
                    raise CrewRuntimeError("the crewai run was stopped") from None
            except CrewError as e:
                if self.error is None:
                    self.error = e
                raise


def tool_name(name: str) -> str:
    """A function-calling name for a CrewAI tool name ("Delegate work to coworker")."""
    return _TOOL_NAME.sub("_", name)[:64]


def react_text(c: Completion, names: dict[str, str]) -> str:
    """A completion as CrewAI's ReAct text: its first tool call becomes Action/Action Input
    (ReAct runs one action per step); a plain answer stays as it is (CrewAI takes unformatted
    text as the final answer)."""
    content = (c.content or "").strip()
    if not c.tool_calls:
        return content
    call = c.tool_calls[0]
    thought = content or f"I will use {names.get(call.name, call.name)}."
    return (f"Thought: {thought}\nAction: {names.get(call.name, call.name)}\n"
            f"Action Input: {call.arguments or '{}'}")


def _native_specs(agent: Any) -> tuple[list[ToolSpec], dict[str, str]]:
    """Function-calling specs for the tools CrewAI gave `agent` for this task, and the map
    from spec name back to CrewAI's tool name."""
    executor = getattr(agent, "agent_executor", None)
    specs: list[ToolSpec] = []
    names: dict[str, str] = {}
    # the executor holds CrewAI's conversions (CrewStructuredTool, description rewritten);
    # crew's own tools carry their compact spec, found by name on the agent
    own = {str(t.name): t.crew_spec for t in getattr(agent, "tools", None) or []
           if getattr(t, "crew_spec", None)}
    for t in getattr(executor, "tools", None) or []:
        name = tool_name(str(t.name))
        schema = getattr(t, "args_schema", None)
        params: dict[str, Any] = (schema.model_json_schema() if schema is not None
                                  else {"type": "object", "properties": {}})
        params.pop("title", None)
        crew_spec = getattr(t, "crew_spec", None) or own.get(str(t.name))
        spec = crew_spec or {"type": "function", "function": {
            "name": name, "description": str(t.description)[:1024], "parameters": params}}
        specs.append(spec)
        names[name] = str(t.name)
    return specs, names


@dataclass
class _Step:
    """One tool step: the ReAct text CrewAI got, and what the model really sent."""

    react: str
    assistant: Message  # the assistant message with the (one) tool call CrewAI runs
    call_id: str
    result: str | None = None  # the tool message's content
    seen: str = ""  # CrewAI's observation text for it


def native_messages(msgs: list[Message], steps: list[_Step]) -> list[Message]:
    """CrewAI's conversation with each of its "<step>\nObservation: <result>" messages as the
    model's assistant message with the tool call and a `role: tool` result (crew's tool output
    when crew's tool ran, else CrewAI's observation, e.g. its refusal of a repeated call).
    CrewAI repeats a step when it forces a final answer: only its added note is kept."""
    out: list[Message] = []
    nxt = 0
    for m in msgs:
        content = str(m.get("content") or "")
        if m.get("role") != "assistant" or not steps:
            out.append(m)
            continue
        if nxt < len(steps) and content.startswith(steps[nxt].react):
            step, nxt = steps[nxt], nxt + 1
            step.seen = content[len(step.react):].removeprefix(OBSERVATION).strip()
            if step.result is None:
                step.result = step.seen
            out += [step.assistant,
                    {"role": "tool", "tool_call_id": step.call_id, "content": step.result}]
            continue
        done = next((s for s in reversed(steps[:nxt]) if content.startswith(s.react)), None)
        if done is None:
            out.append(m)
            continue
        note = content[len(done.react):].removeprefix(OBSERVATION).strip()
        note = note.removeprefix(done.seen).strip()
        if note:
            out.append({"role": "user", "content": note})
    return out


class CallStats:
    """What one CrewAI agent's LLM did: calls, prompt text the framework added."""

    def __init__(self) -> None:
        self.calls = 0
        self.framework_tokens = 0
        self.last_messages: list[Message] = []


@functools.cache
def llm_class(crewai: ModuleType) -> type[Any]:
    """The CrewAI LLM class over crew's LLM layer (built lazily: its base is CrewAI's)."""
    base: type[Any] = crewai.BaseLLM

    class CrewLLM(base):  # type: ignore[misc]
        """A CrewAI LLM whose every call is `chat.complete(alias, ...)` with crew's context."""

        def __init__(self, chat: StructuredChatModel, alias: str, call: CallContext,
                     bridge: Bridge, *, params: dict[str, Any] | None = None,
                     own_text: str = "", native_tools: bool = True,
                     first_turn: int = 1) -> None:
            p = dict(params or {})
            super().__init__(model=f"crew/{alias}", temperature=p.get("temperature"))
            self.chat, self.alias, self.context, self.bridge = chat, alias, call, bridge
            self.params = p
            self.own_chars = len(own_text)  # the role's and task's own text in the prompt
            self.native_tools = native_tools
            self.stats = CallStats()
            self._turns = itertools.count(first_turn)
            self._first = first_turn
            self._steps: list[_Step] = []

        def call(self, messages: str | list[Message], tools: Any = None,
                 callbacks: Any = None, available_functions: Any = None,
                 from_task: Any = None, from_agent: Any = None,
                 response_model: Any = None) -> str:
            msgs = ([{"role": "user", "content": messages}] if isinstance(messages, str)
                    else [dict(m) for m in messages])
            specs, names = _native_specs(from_agent) if self.native_tools else ([], {})
            params = dict(self.params)
            if self.native_tools:
                if self._steps and self._steps[-1].result is None:
                    self._steps[-1].result, self.bridge.tool_output = self.bridge.tool_output, None
                msgs = native_messages(msgs, self._steps)
            elif self.stop:
                params["stop"] = list(self.stop)[:4]
            turn = next(self._turns)
            ctx = replace(self.context, turn=turn)
            if turn == self._first:
                first = sum(len(str(m.get("content") or "")) for m in msgs)
                self._fw_static = estimate_tokens("x" * max(0, first - self.own_chars))
            self.stats.calls += 1
            self.stats.framework_tokens += getattr(self, "_fw_static", 0)
            self.bridge.open_turn(ctx.role, turn, msgs, purpose=ctx.purpose,
                                  task_id=ctx.task_id)
            try:
                completion = self.bridge.run(self.chat.complete(
                    self.alias, msgs, tools=specs or None, context=ctx, **params))
            except Exception as e:
                self.bridge.close_turn(error=f"{type(e).__name__}: {e}")
                raise
            self.stats.last_messages = msgs
            self._track_token_usage_internal({
                "prompt_tokens": completion.usage.prompt_tokens,
                "completion_tokens": completion.usage.completion_tokens,
                "total_tokens": completion.usage.total_tokens})
            text = self._apply_stop_words(react_text(completion, names)) or "(empty answer)"
            if self.native_tools and completion.tool_calls:
                tc = completion.tool_calls[0]
                cid = tc.id or f"call_{turn}"
                self.bridge.tool_output = None
                self._steps.append(_Step(text, {
                    "role": "assistant", "content": completion.content,
                    "tool_calls": [{"id": cid, "type": "function", "function": {
                        "name": tc.name, "arguments": tc.arguments or "{}"}}]}, cid))
            self.bridge.turn_output = text  # the turn ends at the next step, after its tool call
            return text

        def supports_function_calling(self) -> bool:
            # True would not reach the agent loop (CrewAI 1.6.1's executor never passes tools
            # to `call`); it would only route CrewAI's converters through `available_functions`,
            # which this LLM does not execute. Tool calls are native here all the same.
            return False

        def get_context_window_size(self) -> int:
            return 100_000

    return CrewLLM


@functools.cache
def tool_classes(crewai_tools: ModuleType) -> type[Any]:
    """A CrewAI BaseTool that delegates to one tool of crew's ToolRegistry."""
    base: type[Any] = crewai_tools.BaseTool

    class CrewTool(base):  # type: ignore[misc]
        crew_spec: dict[str, Any] | None = None
        _crew: Any = PrivateAttr(default=None)

        def _run(self, **kwargs: Any) -> str:
            from crew.llm.types import ToolCall

            registry, tool_ctx, bridge, ids = self._crew
            args = {k: v for k, v in kwargs.items() if k not in CREWAI_INJECTED}
            call = ToolCall(id=f"crewai_{next(ids)}", name=self.name,
                            arguments=json.dumps(args, default=str))
            outcome = bridge.run(registry.invoke(call, tool_ctx))
            bridge.tool_output = str(outcome.output)  # the tool message's content (CrewLLM)
            return str(outcome.output)

    return CrewTool


def crewai_tools(crewai: ModuleType, registry: ToolRegistry, tool_ctx: ToolContext,
                 bridge: Bridge) -> list[Any]:
    """A role's tools (`registry`) as CrewAI tools, each call given `tool_ctx` (the run
    context's: workdir, path policy, sandbox and limits, test command, tracer)."""
    if not len(registry):
        return []
    cls = tool_classes(importlib.import_module("crewai.tools"))
    ids = itertools.count(1)
    out = []
    for t in registry:
        # CrewAI adds `security_context` to the arguments it validates: let that through here;
        # crew's registry validates the rest strictly again.
        lenient = type(t.args_model.__name__, (t.args_model,),
                       {"model_config": ConfigDict(extra="ignore"), "__module__": __name__})
        inst = cls(name=t.name, description=t.description, args_schema=lenient,
                   crew_spec=t.spec())
        inst._crew = (registry, tool_ctx, bridge, ids)
        out.append(inst)
    return out
