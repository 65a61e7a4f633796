"""The tool registry: tools by name (built-ins, `crew.tools` entry points, your own), hooks
before and after each call, the approval policy, and `invoke`, which never raises for a
tool's failure: unknown names, bad arguments (with the tool's parameters), vetoes, refusals and
ToolErrors all come back as text for the model. What is not the model's problem — a sandbox
that cannot start, a plugin's UserError, a tool or hook that crashed — raises instead, so the
task stops with it (crew.tools.base.model_facing draws the line)."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, cast

from pydantic import ValidationError

from crew.errors import CrewError, UserError
from crew.llm.types import ToolCall, ToolSpec
from crew.spec.catalog import BUILTIN_TOOL_MODULES, BUILTIN_TOOLS
from crew.textsafe import safe_text, unusable_at
from crew.tools.base import (
    Approval,
    Tool,
    ToolBug,
    ToolContext,
    ToolError,
    ToolOutput,
    model_facing,
)
from crew.tools.sandbox.base import cap_text

log = logging.getLogger(__name__)

# Where each built-in lives (imported on first use): crew.spec.catalog's one table.
BUILTIN_MODULES: dict[str, str] = BUILTIN_TOOL_MODULES

# A before-hook returns None to allow the call, or a reason to veto it.
BeforeHook = Callable[[ToolCall, ToolContext], "Awaitable[str | None] | str | None"]
AfterHook = Callable[[ToolCall, "ToolOutcome", ToolContext], "Awaitable[None] | None"]
# An approver returns None to approve, or a reason to refuse.
Approver = Callable[[Tool, dict[str, Any]], "Awaitable[str | None] | str | None"]


class OutcomeStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the tool ran and failed (ToolError, a path-level OSError)
    INVALID_ARGS = "invalid_args"
    UNKNOWN_TOOL = "unknown_tool"
    VETOED = "vetoed"  # a before-hook said no
    REFUSED = "refused"  # the approval policy said no (deny, or ask answered no)


@dataclass(frozen=True)
class ToolOutcome:
    """One tool call and what came of it; `output` is exactly what the model sees."""

    call: ToolCall
    output: str
    status: OutcomeStatus
    data: dict[str, Any] | None = None
    duration_s: float = 0.0
    truncated: bool = False  # the output was cut to the context's output_chars

    @property
    def is_error(self) -> bool:
        return self.status is not OutcomeStatus.OK

    def as_message(self) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": self.call.id, "content": self.output}


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


_prompt_lock = asyncio.Lock()


async def terminal_approver(tool: Tool, args: dict[str, Any]) -> str | None:
    """Ask on an interactive terminal; refuse with a clear reason when nobody can answer."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return (
            f"tool {tool.name!r} needs a human's approval (policy 'ask') but this run is not "
            "interactive, so it was refused; set its approval to 'auto' to allow it"
        )
    shown = json.dumps(args, ensure_ascii=False)[:500]
    async with _prompt_lock:  # parallel calls ask one at a time
        answer = await asyncio.to_thread(input, f"\nAllow {tool.name}({shown})? [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return None
    return f"a human refused the call to {tool.name!r}"


def load_builtin(name: str) -> Tool:
    module = importlib.import_module(BUILTIN_MODULES[name])
    return cast(Tool, getattr(module, name))


def load_entry_point(name: str) -> Tool:
    """A third-party tool from the `crew.tools` entry-point group (a Tool or a plain function)."""
    from importlib.metadata import entry_points

    from crew.tools.base import tool as make_tool

    for ep in entry_points(group="crew.tools"):
        if ep.name == name:
            try:
                obj = ep.load()
            except Exception as e:
                raise UserError(
                    f"tool {name!r} (entry point {ep.value}) failed to load: {e}",
                    hint="check that the plugin package is installed correctly",
                ) from e
            if isinstance(obj, Tool):
                return obj if obj.name == name else _renamed(obj, name)
            if callable(obj):
                return cast(Tool, make_tool(obj, name=name))
            raise UserError(f"entry point {ep.value} for tool {name!r} is not a Tool or function")
    raise KeyError(name)


def _renamed(t: Tool, name: str) -> Tool:
    return replace(t, name=name)


def _traced_args(arguments: str) -> Any:
    """The call's arguments as a JSON object when they parse, else the raw text."""
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return arguments


class ToolRegistry:
    """Tools by name, with hooks and approval policy. `select(names)` gives a role its tools."""

    def __init__(
        self,
        tools: Iterable[Tool] = (),
        *,
        approvals: Mapping[str, Approval | str] | None = None,
        approver: Approver | None = None,
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self._before: list[BeforeHook] = []
        self._after: list[AfterHook] = []
        self.approvals: dict[str, Approval] = {k: Approval(v) for k, v in (approvals or {}).items()}
        self.approver: Approver = approver or terminal_approver
        for t in tools:
            self.register(t)

    # ------------------------------------------------------------------ contents

    @classmethod
    def builtin(cls, **kwargs: Any) -> ToolRegistry:
        """Every built-in tool."""
        return cls((load_builtin(n) for n in BUILTIN_TOOLS), **kwargs)

    def register(self, t: Tool, *, replace: bool = False) -> Tool:
        if not isinstance(t, Tool):
            raise TypeError(f"expected a Tool (use the @tool decorator), got {type(t).__name__}")
        if t.name in self._tools and not replace and self._tools[t.name] is not t:
            raise ValueError(f"a tool named {t.name!r} is already registered")
        self._tools[t.name] = t
        return t

    def get(self, name: str) -> Tool:
        """The tool called `name`: registered here, built in, or from an entry point."""
        if name in self._tools:
            return self._tools[name]
        if name in BUILTIN_MODULES:
            return self.register(load_builtin(name))
        try:
            return self.register(load_entry_point(name))
        except KeyError:
            pass
        from crew.spec.catalog import known_tool_names
        from crew.spec.suggest import did_you_mean

        known = set(self._tools) | known_tool_names()
        raise UserError(
            f"unknown tool {name!r}{did_you_mean(name, known)}",
            field="tools",
            hint=f"known tools: {', '.join(sorted(known))}",
        )

    def select(self, names: Iterable[str]) -> ToolRegistry:
        """A registry with just `names` (in that order), sharing hooks and approval policy.
        `mcp:<server>/<tool or glob>` picks the registered MCP tools it matches."""
        sub = ToolRegistry(approver=self.approver)
        sub.approvals = self.approvals
        sub._before, sub._after = self._before, self._after
        for n in names:
            if n.startswith("mcp:"):
                for t in self._mcp_tools(n):
                    sub.register(t)
            else:
                sub.register(self.get(n))
        return sub

    def _mcp_tools(self, ref: str) -> list[Tool]:
        found = [t for t in self._tools.values() if t.ref != t.name and fnmatchcase(t.ref, ref)]
        if not found:
            from crew.spec.suggest import did_you_mean

            refs = [t.ref for t in self._tools.values() if t.ref != t.name]
            raise UserError(f"no MCP tool matches {ref!r}{did_you_mean(ref, refs)}",
                            field="tools", hint=f"MCP tools of this run: {', '.join(refs)}"
                            if refs else "declare the server under `mcp_servers:`")
        return found

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def specs(self) -> list[ToolSpec]:
        """The tools in OpenAI function format, in registration order (stable for caching)."""
        return [t.spec() for t in self._tools.values()]

    # ------------------------------------------------------------------ hooks and policy

    def before_call(self, hook: BeforeHook) -> BeforeHook:
        """Register a hook run before each call; returning a string vetoes the call with it."""
        self._before.append(hook)
        return hook

    def after_call(self, hook: AfterHook) -> AfterHook:
        """Register a hook run after each call (also after vetoes, refusals and errors)."""
        self._after.append(hook)
        return hook

    def set_approval(self, name: str, policy: Approval | str) -> None:
        self.approvals[name] = Approval(policy)

    def approval_of(self, t: Tool) -> Approval:
        """The most specific rule for `t` (exact name, then the longest glob), else its own."""
        from crew.tools.approvals import rule_for, tool_names

        return rule_for(self.approvals, tool_names(t)) or t.approval

    # ------------------------------------------------------------------ calling

    async def invoke(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        """Run one call from the model. Never raises for the tool's failure."""
        start = time.monotonic()
        with ctx.tracer.tool(call.name, _traced_args(call.arguments), call_id=call.id) as obs:
            outcome = await self._invoke(call, ctx)
            outcome = replace(outcome, duration_s=time.monotonic() - start)
            if outcome.is_error:  # failures, refusals and vetoes: level ERROR
                obs.end(outcome.output, error=outcome.output[:300], status=str(outcome.status))
            else:
                obs.end(outcome.output, status=str(outcome.status), truncated=outcome.truncated)
        for hook in self._after:
            try:
                await _maybe_await(hook(call, outcome, ctx))
            except Exception:
                log.exception("after-call hook %r failed", hook)
        return outcome

    async def _invoke(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        def out(text: str, status: OutcomeStatus, data: dict[str, Any] | None = None) -> ToolOutcome:
            # what a tool or a command printed, made safe before anyone stores or sends it
            shown, cut = cap_text(safe_text(text), ctx.output_chars)
            return ToolOutcome(call, shown, status, data, truncated=cut)

        t = self._tools.get(call.name)
        if t is None:
            from crew.spec.suggest import did_you_mean

            return out(
                f"Error: unknown tool {call.name!r}{did_you_mean(call.name, self._tools)}. "
                f"Available tools: {', '.join(self._tools) or 'none'}.",
                OutcomeStatus.UNKNOWN_TOOL,
            )
        try:
            raw = json.loads(call.arguments) if call.arguments.strip() else {}
        except json.JSONDecodeError as e:
            return out(
                f"Error: the arguments for {t.name} are not valid JSON ({e.msg} at char {e.pos}). "
                "Send a JSON object matching the tool's parameters.",
                OutcomeStatus.INVALID_ARGS,
            )
        if not isinstance(raw, dict):
            return out(
                f"Error: the arguments for {t.name} must be a JSON object, not {type(raw).__name__}.",
                OutcomeStatus.INVALID_ARGS,
            )
        bad = unusable_at(raw)
        if bad is not None:  # no path, process argument or UTF-8 file can hold it
            return out(
                f"Error: invalid arguments for {t.name}: {safe_text(bad) or 'arguments'} holds a "
                "NUL byte or an invalid unicode character (a lone surrogate). Send plain text.",
                OutcomeStatus.INVALID_ARGS,
            )
        try:
            args = t.args_model.model_validate(raw)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in err['loc']) or 'arguments'}: {err['msg']}"
                for err in e.errors()
            )
            return out(
                f"Error: invalid arguments for {t.name}: {problems}. Fix them and call again. "
                f"Parameters (JSON Schema): {_parameters(t)}",
                OutcomeStatus.INVALID_ARGS,
            )
        policy = self.approval_of(t)
        if policy is Approval.DENY:
            _decided(ctx, t, policy, "refused", "the approval policy denies it", "policy")
            return out(
                f"Refused: the approval policy denies the tool {t.name!r}.", OutcomeStatus.REFUSED
            )
        if policy is Approval.ASK:
            reason = await _maybe_await(self.approver(t, raw))
            by = str(getattr(self.approver, "basis", "") or "approver")
            _decided(ctx, t, policy, "refused" if reason else "approved", reason, by)
            if reason is not None:
                return out(f"Refused: {reason}.", OutcomeStatus.REFUSED)
        for hook in self._before:
            try:
                veto = await _maybe_await(hook(call, ctx))
            except Exception as e:
                stop = _stop(e, f"the before-call hook {_hook_name(hook)} failed on {t.name}")
                if stop is e:
                    raise
                raise stop from e
            if veto is not None:
                return out(f"Vetoed: {veto}", OutcomeStatus.VETOED)
        try:
            result: ToolOutput = await t.invoke(ctx, args)
        except Exception as e:
            if not model_facing(e):  # the machinery failed, not the model: stop the task
                log.debug("tool %s raised", t.name, exc_info=True)
                stop = _stop(e, f"tool {t.name} failed")
                if stop is e:
                    raise
                raise stop from e
            detail = str(e) if isinstance(e, ToolError) else f"{t.name} failed: {e}"
            return out(f"Error: {detail}", OutcomeStatus.ERROR)
        status = OutcomeStatus.ERROR if result.is_error else OutcomeStatus.OK
        return out(result.text, status, result.data)


def _parameters(t: Tool) -> str:
    """The tool's parameter schema as sent to the model (compact JSON)."""
    params = t.spec()["function"].get("parameters", {})
    return json.dumps(params, separators=(",", ":"), ensure_ascii=False)[:2000]


def _hook_name(hook: Any) -> str:
    return repr(getattr(hook, "__qualname__", None) or type(hook).__name__)


def _stop(e: Exception, what: str) -> Exception:
    """The exception that stops the task: crew's own errors as they are (a plugin's
    UserError, a SandboxError, a budget stop), anything else as a ToolBug naming `what`."""
    if isinstance(e, CrewError):
        return e
    return ToolBug(f"{what}: {type(e).__name__}: {e}")


def _decided(ctx: ToolContext, t: Tool, policy: Approval, decision: str, reason: str | None,
             by: str) -> None:
    """An `approval` event (under the tool's observation): events.jsonl and the trace."""
    ctx.tracer.event("approval", "WARNING" if decision == "refused" else "DEFAULT", {
        "tool": t.name, "policy": str(policy), "decision": decision, "by": by,
        **({"reason": reason} if reason else {})})

