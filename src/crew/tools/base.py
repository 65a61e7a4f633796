"""The Tool type, the @tool decorator and what a tool receives (ToolContext) and returns.

Two kinds of failure: a `ToolError` (a refused path, a failing command, bad input for the
tool) goes back to the model as the call's result; anything else a tool raises is the
machinery's problem (`ToolBug`, `SandboxError`, a plugin's `UserError`): the task stops with it
(see `model_facing`)."""

from __future__ import annotations

import asyncio
import errno
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, create_model

from crew.errors import CrewError, CrewRuntimeError, InfrastructureError
from crew.llm.types import CallContext, ToolSpec
from crew.observability.tracer import Tracer, null_tracer
from crew.tools.sandbox.base import SandboxBackend

if TYPE_CHECKING:
    from crew.tools.paths import PathPolicy

__all__ = ["Approval", "Tool", "ToolBug", "ToolContext", "ToolError", "ToolOutput",
           "model_facing", "tool"]


DEFAULT_TEST_COMMAND = "python3 -m pytest -q"  # what run_tests runs unless told otherwise


class ToolError(CrewRuntimeError):
    """A tool could not do what was asked (a refused path, a failing command, a missing file).
    The message goes back to the model as the result; the model can act on it."""


class ToolBug(InfrastructureError):
    """A tool (or a hook around it) raised something other than ToolError: a bug or a broken
    environment, not the model's doing. The task stops with it; the model never sees it."""


# OSErrors that say the machine is in trouble (not the path the model named): they stop the
# task. Any other OSError from a tool (permission denied, no such file, is a directory, ...)
# is about the path the model asked for and goes back to it.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.ENOMEM,
                            errno.EMFILE, errno.ENFILE})


def model_facing(exc: BaseException) -> bool:
    """Whether an exception raised by a tool goes back to the model as its result (True) or
    stops the task (False): ToolError and path-level OSErrors are the model's to handle;
    crew's own errors (UserError, InfrastructureError, BudgetExceeded, ...), machine-level
    OSErrors and every other exception (a bug) are not."""
    if isinstance(exc, ToolError):
        return True
    if isinstance(exc, CrewError):
        return False
    return isinstance(exc, OSError) and exc.errno not in MACHINE_ERRNOS and exc.errno is not None


class Approval(StrEnum):
    """Per-tool approval policy: run freely, ask a human first, or never run."""

    AUTO = "auto"
    ASK = "ask"
    DENY = "deny"


@dataclass
class ToolContext:
    """What a tool may use: the workspace (through `paths`), the sandbox, who is calling, and
    the tracer its call and approval are recorded with (all handed down by the agent, from
    its crew.context.RunContext)."""

    workspace: Path
    sandbox: SandboxBackend | None = None
    paths: PathPolicy | None = None
    call: CallContext = field(default_factory=CallContext)
    command_timeout: float = 300.0
    test_command: str = DEFAULT_TEST_COMMAND
    diff_base: str | None = None  # the task's base commit: git_diff's default comparison
    env: dict[str, str] = field(default_factory=dict)  # extra env for sandboxed commands
    output_chars: int = 12_000  # cap on one tool result's text
    tracer: Tracer = field(default_factory=null_tracer)

    def __post_init__(self) -> None:
        self.workspace = Path(self.workspace).resolve()
        if self.paths is None:
            from crew.tools.paths import PathPolicy

            self.paths = PathPolicy(self.workspace)

    @property
    def policy(self) -> PathPolicy:
        assert self.paths is not None
        return self.paths

    def require_sandbox(self) -> SandboxBackend:
        if self.sandbox is None:
            raise ToolError("no sandbox is configured for this agent, so commands cannot run")
        return self.sandbox


@dataclass(frozen=True)
class ToolOutput:
    """A tool's result: text for the model, optional structured data for the framework."""

    text: str
    data: dict[str, Any] | None = None
    is_error: bool = False


ToolFn = Callable[..., Any]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Tool:
    """A name, a description, a pydantic argument model and an async (or sync) callable.

    With `pass_model`, `fn(ctx, args)` receives the validated model; otherwise
    `fn([ctx,] **fields)`. The argument model's JSON Schema goes to the model.
    """

    name: str
    description: str
    args_model: type[BaseModel]
    fn: ToolFn
    approval: Approval = Approval.AUTO
    pass_model: bool = False
    wants_context: bool = True

    @property
    def ref(self) -> str:
        """The name roles and approval rules use (an MCP tool: `mcp:<server>/<tool>`)."""
        return self.name

    def spec(self) -> ToolSpec:
        """OpenAI function-calling format."""
        schema = _compact(self.args_model.model_json_schema())
        schema.pop("additionalProperties", None)  # still enforced: extras come back as errors
        schema.setdefault("properties", {})
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": schema},
        }

    async def invoke(self, ctx: ToolContext, args: BaseModel) -> ToolOutput:
        """Run with validated `args`; a plain string result becomes ToolOutput(text)."""
        call_args: list[Any] = [ctx] if self.wants_context else []
        kwargs: dict[str, Any] = {}
        if self.pass_model:
            call_args.append(args)
        else:
            kwargs = {k: getattr(args, k) for k in type(args).model_fields}
        if inspect.iscoroutinefunction(self.fn):
            result = await self.fn(*call_args, **kwargs)
        else:
            result = await asyncio.to_thread(self.fn, *call_args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ToolOutput):
            return result
        return ToolOutput("" if result is None else str(result))


def _compact(schema: Any) -> Any:
    """Fewer schema tokens, same meaning: no auto-generated titles, and an optional field
    (`X | None = None`) shown as plain X, simply not required."""
    if isinstance(schema, list):
        return [_compact(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _compact(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    any_of = out.get("anyOf")
    if (isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of
            and "default" in out and out["default"] is None):
        (kept,) = [x for x in any_of if x != {"type": "null"}]
        del out["anyOf"], out["default"]
        out = {**kept, **out}
    return out


def _model_from_signature(fn: ToolFn, name: str) -> tuple[type[BaseModel], bool]:
    hints = get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())
    wants_context = bool(params) and (
        hints.get(params[0].name) is ToolContext or params[0].name in ("ctx", "context")
    )
    if wants_context:
        params = params[1:]
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *args/**kwargs cannot be described to a model")
        ann = hints.get(p.name, str)
        fields[p.name] = (ann, ... if p.default is p.empty else p.default)
    model = create_model(f"{name}_args", __base__=_Args, **fields)
    return model, wants_context


@overload
def tool(
    fn: ToolFn,
    *,
    name: str | None = ...,
    description: str | None = ...,
    args: type[BaseModel] | None = ...,
    approval: Approval | str = ...,
) -> Tool: ...


@overload
def tool(
    fn: None = None,
    *,
    name: str | None = ...,
    description: str | None = ...,
    args: type[BaseModel] | None = ...,
    approval: Approval | str = ...,
) -> Callable[[ToolFn], Tool]: ...


def tool(
    fn: ToolFn | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    args: type[BaseModel] | None = None,
    approval: Approval | str = Approval.AUTO,
) -> Tool | Callable[[ToolFn], Tool]:
    """Make a Tool from a function. Bare (`@tool`) or with options (`@tool(approval="ask")`).

    The description defaults to the docstring. Without `args`, the parameters (after an
    optional first `ctx: ToolContext`) become the argument model; with `args`, the function is
    called as `fn(ctx, args)`.
    """

    def make(f: ToolFn) -> Tool:
        tool_name = name or f.__name__
        desc = description or inspect.getdoc(f) or ""
        if not desc:
            raise TypeError(f"tool {tool_name!r} needs a description (a docstring will do)")
        if args is not None:
            return Tool(tool_name, desc, args, f, Approval(approval), pass_model=True)
        model, wants_ctx = _model_from_signature(f, tool_name)
        return Tool(tool_name, desc, model, f, Approval(approval), wants_context=wants_ctx)

    return make(fn) if fn is not None else make
