"""On the autogen engine too, a tool's infrastructure failure is not the model's problem: the
workbench keeps it, and the client refuses to ask the model again (the engine re-raises it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from crew.context import RunContext
from crew.llm.types import CallContext
from crew.testing import ScriptedLLM
from crew.tools import ToolContext, ToolRegistry, tool
from crew.tools.sandbox import SandboxError

pytestmark = [
    pytest.mark.slow,  # importing AutoGen takes seconds
    pytest.mark.skipif(importlib.util.find_spec("autogen_agentchat") is None,
                       reason="the autogen extra is not installed"),
]


@tool
async def needs_sandbox(ctx: ToolContext) -> str:
    """Runs something in a sandbox that cannot start."""
    raise SandboxError("bwrap could not start the sandbox: Can't mount proc")


async def test_the_workbench_keeps_the_error_and_the_client_stops(tmp_path: Path) -> None:
    from autogen_core.models import UserMessage

    from crew.interop.autogen_client import CrewChatCompletionClient, CrewWorkbench, ErrorBox

    errors = ErrorBox()
    llm = ScriptedLLM(["never asked"])
    bench = CrewWorkbench(ToolRegistry([needs_sandbox]),
                          RunContext().tool_context(tmp_path, CallContext(role="coder")),
                          errors=errors)
    with pytest.raises(SandboxError, match="Can't mount proc"):
        await bench.call_tool("needs_sandbox", {})
    assert isinstance(errors.error, SandboxError)
    client = CrewChatCompletionClient(llm, "smart", CallContext(role="coder"), errors=errors)
    with pytest.raises(SandboxError):
        await client.create([UserMessage(content="go on", source="user")])
    assert llm.calls == []


async def test_the_workbench_honours_the_crews_protected_list(tmp_path: Path) -> None:
    """Regression (issue 24): the AutoGen workbench used the default protected list, so a
    crew's `sandbox: protected: [secrets/*.json]` was readable through its tools."""
    from types import SimpleNamespace

    from crew.interop.autogen_client import CrewWorkbench

    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db.json").write_text('{"password": "hunter2"}')
    sandbox = SimpleNamespace(protected=(".git", ".crew", "secrets/*.json"))
    env = RunContext(sandbox=sandbox, test_command="npm test")  # type: ignore[arg-type]
    bench = CrewWorkbench(ToolRegistry.builtin().select(["read_file"]),
                          env.tool_context(tmp_path, CallContext(role="coder")))
    result = await bench.call_tool("read_file", {"path": "secrets/db.json"})
    text = "".join(getattr(part, "content", "") for part in result.result)
    assert "protected" in text and "hunter2" not in text
    assert bench.tool_ctx.test_command == "npm test"
