"""Issue 13 item 4: only a tool's own failures go back to the model. A tool that crashes, a
plugin's UserError, a sandbox that cannot start or a broken hook raises out of the registry
(the task stops with it); a ToolError or a refused path is the model's to handle. Invalid
arguments and unknown names are answered with what the model needs to fix the call."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from crew.errors import InfrastructureError, UserError
from crew.llm.types import ToolCall
from crew.tools import OutcomeStatus, ToolContext, ToolError, ToolRegistry, tool
from crew.tools.base import ToolBug, model_facing
from crew.tools.sandbox import SandboxError


class Why(BaseModel):
    model_config = ConfigDict(extra="forbid")
    why: str


@tool(args=Why)
async def flaky(ctx: ToolContext, args: Why) -> str:
    """Fails in the way asked."""
    raise {
        "tool": ToolError("the file is locked"),
        "denied": PermissionError(errno.EACCES, "Permission denied", "secret.txt"),
        "disk": OSError(errno.ENOSPC, "No space left on device"),
        "bug": KeyError("oops"),
        "plugin": UserError("plugin misconfigured", hint="set its token"),
        "sandbox": SandboxError("docker could not start the sandbox: no such image"),
    }[args.why]


def call(name: str, args: dict[str, object]) -> ToolCall:
    return ToolCall("c1", name, json.dumps(args))


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(tmp_path)


@pytest.mark.parametrize(("why", "shown"), [("tool", "Error: the file is locked"),
                                             ("denied", "Permission denied")])
async def test_tool_errors_go_back_to_the_model(ctx: ToolContext, why: str, shown: str) -> None:
    out = await ToolRegistry([flaky]).invoke(call("flaky", {"why": why}), ctx)
    assert out.status is OutcomeStatus.ERROR
    assert shown in out.output


@pytest.mark.parametrize(("why", "raised", "message"), [
    ("bug", ToolBug, "tool flaky failed: KeyError: 'oops'"),
    ("disk", ToolBug, "No space left on device"),
    ("plugin", UserError, "plugin misconfigured"),
    ("sandbox", SandboxError, "docker could not start the sandbox"),
])
async def test_infrastructure_failures_raise(ctx: ToolContext, why: str,
                                             raised: type[Exception], message: str) -> None:
    with pytest.raises(raised, match=message.replace("(", r"\(")):
        await ToolRegistry([flaky]).invoke(call("flaky", {"why": why}), ctx)


async def test_a_crashing_hook_stops_the_task(ctx: ToolContext) -> None:
    reg = ToolRegistry([flaky])

    def broken(c: ToolCall, _: ToolContext) -> str | None:
        raise ValueError("hook bug")

    reg.before_call(broken)
    with pytest.raises(ToolBug, match=r"before-call hook .*broken.* failed on flaky: "
                                      r"ValueError: hook bug"):
        await reg.invoke(call("flaky", {"why": "tool"}), ctx)


def test_the_error_families() -> None:
    assert issubclass(SandboxError, InfrastructureError)
    assert issubclass(ToolBug, InfrastructureError)
    assert not issubclass(ToolError, InfrastructureError)
    assert model_facing(ToolError("x")) and model_facing(FileNotFoundError(2, "gone"))
    assert not model_facing(OSError(errno.EROFS, "read-only file system"))
    assert not model_facing(RuntimeError("bug")) and not model_facing(UserError("bad"))


async def test_invalid_arguments_come_back_with_the_schema(ctx: ToolContext) -> None:
    out = await ToolRegistry([flaky]).invoke(call("flaky", {"reason": "x"}), ctx)
    assert out.status is OutcomeStatus.INVALID_ARGS
    assert "why: Field required" in out.output and "reason: Extra inputs" in out.output
    schema = json.loads(out.output.split("Parameters (JSON Schema): ", 1)[1])
    assert schema["required"] == ["why"] and schema["properties"]["why"] == {"type": "string"}


async def test_an_unknown_tool_is_answered_with_the_valid_names(ctx: ToolContext) -> None:
    @tool
    async def git_status() -> str:
        """Status."""
        return "clean"

    out = await ToolRegistry([flaky, git_status]).invoke(call("bash", {"cmd": "ls"}), ctx)
    assert out.status is OutcomeStatus.UNKNOWN_TOOL
    assert out.output == "Error: unknown tool 'bash'. Available tools: flaky, git_status."
