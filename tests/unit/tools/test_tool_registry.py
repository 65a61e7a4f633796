"""Tool protocol and registry: @tool, schemas, lookup by name, entry points, hooks, approvals,
and every kind of bad call coming back to the model as text instead of an exception."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from crew.errors import UserError
from crew.llm.types import ToolCall
from crew.plugins import entry_point_names
from crew.spec.catalog import BUILTIN_TOOLS, known_tool_names
from crew.tools import (
    Approval,
    OutcomeStatus,
    Tool,
    ToolContext,
    ToolError,
    ToolOutcome,
    ToolRegistry,
    tool,
)
from crew.tools.registry import BUILTIN_MODULES, terminal_approver


@tool
async def add(a: int, b: Annotated[int, Field(description="second term")] = 2) -> str:
    """Add two integers."""
    return str(a + b)


@tool(name="shout", approval="ask")
def shout_tool(ctx: ToolContext, text: str) -> str:
    """Upper-case a text (a sync tool)."""
    return f"{text.upper()} in {ctx.workspace.name}"


class BoomArgs(BaseModel):
    why: str


@tool(args=BoomArgs)
async def boom(ctx: ToolContext, args: BoomArgs) -> str:
    """Always fails."""
    if args.why == "tool":
        raise ToolError("the file is locked")
    raise RuntimeError("unexpected bug")


def call(name: str, args: Any = None, raw: str | None = None, cid: str = "c1") -> ToolCall:
    return ToolCall(cid, name, raw if raw is not None else json.dumps(args or {}))


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path)


def test_decorator_builds_schema_in_openai_format() -> None:
    assert isinstance(add, Tool)
    spec = add.spec()
    assert spec["type"] == "function"
    fn = spec["function"]
    assert fn["name"] == "add" and fn["description"] == "Add two integers."
    params = fn["parameters"]
    assert params["required"] == ["a"]
    assert params["properties"]["a"] == {"type": "integer"}
    assert params["properties"]["b"]["description"] == "second term"
    assert "title" not in json.dumps(params)  # titles are tokens the model does not need


def test_optional_fields_are_compact_in_the_schema() -> None:
    @tool
    async def find(pattern: str, glob: str | None = None, limit: int | None = None) -> str:
        """Find things."""
        return pattern

    props = find.spec()["function"]["parameters"]["properties"]
    assert props["glob"] == {"type": "string"} and props["limit"] == {"type": "integer"}
    assert find.spec()["function"]["parameters"]["required"] == ["pattern"]


def test_decorator_needs_a_description() -> None:
    with pytest.raises(TypeError, match="needs a description"):
        tool(lambda x: x)


async def test_invoke_validates_and_runs(ctx: ToolContext) -> None:
    reg = ToolRegistry([add, shout_tool])
    out = await reg.invoke(call("add", {"a": 40}), ctx)
    assert (out.status, out.output) == (OutcomeStatus.OK, "42")
    reg.set_approval("shout", "auto")
    out = await reg.invoke(call("shout", {"text": "hi"}), ctx)
    assert out.output == f"HI in {ctx.workspace.name}"


@pytest.mark.parametrize(
    ("c", "status", "text"),
    [
        (call("add", {"a": "many"}), OutcomeStatus.INVALID_ARGS, "invalid arguments for add: a:"),
        (call("add", {}), OutcomeStatus.INVALID_ARGS, "a: Field required"),
        (call("add", {"a": 1, "c": 3}), OutcomeStatus.INVALID_ARGS, "c: Extra inputs"),
        (call("add", raw="{not json"), OutcomeStatus.INVALID_ARGS, "not valid JSON"),
        (call("add", raw="[1, 2]"), OutcomeStatus.INVALID_ARGS, "must be a JSON object"),
        (call("ad", {"a": 1}), OutcomeStatus.UNKNOWN_TOOL, "unknown tool 'ad' (did you mean 'add'?)"),
        (call("boom", {"why": "tool"}), OutcomeStatus.ERROR, "Error: the file is locked"),
    ],
)
async def test_bad_calls_come_back_as_text(
    ctx: ToolContext, c: ToolCall, status: OutcomeStatus, text: str
) -> None:
    out = await ToolRegistry([add, boom]).invoke(c, ctx)
    assert out.status is status and out.is_error
    assert text in out.output
    assert out.as_message() == {"role": "tool", "tool_call_id": "c1", "content": out.output}


async def test_long_output_is_truncated_with_a_note(tmp_path: Path) -> None:
    @tool
    async def big() -> str:
        """Lots of text."""
        return "a" * 5000 + "END"

    out = await ToolRegistry([big]).invoke(call("big"), ToolContext(tmp_path, output_chars=1000))
    assert out.truncated and len(out.output) < 1100
    assert "characters omitted" in out.output and out.output.endswith("END")


async def test_before_hook_vetoes_and_after_hook_sees_everything(ctx: ToolContext) -> None:
    reg = ToolRegistry([add])
    seen: list[ToolOutcome] = []

    @reg.before_call
    async def no_big_numbers(c: ToolCall, _ctx: ToolContext) -> str | None:
        return "numbers above 100 are not allowed" if json.loads(c.arguments)["a"] > 100 else None

    reg.after_call(lambda c, outcome, _ctx: seen.append(outcome))
    ok = await reg.invoke(call("add", {"a": 1}), ctx)
    vetoed = await reg.invoke(call("add", {"a": 500}), ctx)
    assert ok.output == "3"
    assert vetoed.status is OutcomeStatus.VETOED
    assert vetoed.output == "Vetoed: numbers above 100 are not allowed"
    assert [o.status for o in seen] == [OutcomeStatus.OK, OutcomeStatus.VETOED]


async def test_approval_policies(ctx: ToolContext) -> None:
    asked: list[dict[str, Any]] = []

    def approver(t: Tool, args: dict[str, Any]) -> str | None:
        asked.append(args)
        return None if args["text"] == "ok" else "the reviewer said no"

    reg = ToolRegistry([add, shout_tool], approver=approver, approvals={"add": "deny"})
    denied = await reg.invoke(call("add", {"a": 1}), ctx)
    assert denied.status is OutcomeStatus.REFUSED and "denies the tool 'add'" in denied.output
    assert (await reg.invoke(call("shout", {"text": "ok"}), ctx)).status is OutcomeStatus.OK
    no = await reg.invoke(call("shout", {"text": "rm"}), ctx)
    assert no.status is OutcomeStatus.REFUSED and "the reviewer said no" in no.output
    assert asked == [{"text": "ok"}, {"text": "rm"}]
    assert reg.approval_of(shout_tool) is Approval.ASK


async def test_ask_is_refused_when_not_interactive(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))  # noqa: SIM115 - closed by the interpreter
    reason = await terminal_approver(shout_tool, {"text": "x"})
    assert reason is not None and "not interactive" in reason
    out = await ToolRegistry([shout_tool]).invoke(call("shout", {"text": "x"}), ctx)
    assert out.status is OutcomeStatus.REFUSED
    assert "needs a human's approval (policy 'ask')" in out.output


def test_select_by_name_and_unknown_names() -> None:
    reg = ToolRegistry().select(["read_file", "git_diff"])
    assert reg.names() == ["read_file", "git_diff"]
    with pytest.raises(UserError) as e:
        ToolRegistry().select(["read_fil"])
    assert "unknown tool 'read_fil' (did you mean 'read_file'?)" in str(e.value)


def test_builtins_match_the_catalog() -> None:
    assert set(BUILTIN_MODULES) == set(BUILTIN_TOOLS)
    reg = ToolRegistry.builtin()
    assert set(reg.names()) == set(BUILTIN_TOOLS)
    for spec in reg.specs():
        assert spec["function"]["description"]
        assert spec["function"]["parameters"]["type"] == "object"


def test_third_party_tool_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crew_demo_plugin.py").write_text(textwrap.dedent('''
        from crew.tools import tool

        @tool
        async def word_count(text: str) -> str:
            """Count words."""
            return str(len(text.split()))

        def plain(n: int) -> str:
            """A plain function."""
            return "x" * n
    '''))
    dist = tmp_path / "crew_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crew-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[crew.tools]\nword_count = crew_demo_plugin:word_count\nrepeat = crew_demo_plugin:plain\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    entry_point_names.cache_clear()
    try:
        assert {"word_count", "repeat"} <= known_tool_names()
        reg = ToolRegistry().select(["word_count", "repeat"])
        out = asyncio.run(reg.invoke(call("word_count", {"text": "a b c"}), ToolContext(tmp_path)))
        assert out.output == "3"
        out = asyncio.run(reg.invoke(call("repeat", {"n": 3}), ToolContext(tmp_path)))
        assert out.output == "xxx"
    finally:
        entry_point_names.cache_clear()
        sys.modules.pop("crew_demo_plugin", None)


def test_register_rejects_duplicates_and_non_tools() -> None:
    reg = ToolRegistry([add])
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Tool("add", "other", BoomArgs, lambda: None))
    with pytest.raises(TypeError, match="expected a Tool"):
        reg.register(lambda: None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("answer", "expected"), [("y", "APPROVED"), ("n", "REFUSED")])
def test_ask_prompts_on_an_interactive_terminal(answer: str, expected: str) -> None:
    import os
    import pty
    import subprocess

    child = textwrap.dedent('''
        import asyncio
        from crew.tools import tool
        from crew.tools.registry import terminal_approver

        @tool(approval="ask")
        def rm(path: str) -> str:
            """Remove a file."""
            return path

        reason = asyncio.run(terminal_approver(rm, {"path": "x.txt"}))
        print("APPROVED" if reason is None else "REFUSED: " + reason, flush=True)
    ''')
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=slave, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while b"[y/N]" not in seen:
            seen += os.read(master, 1024)
        assert b'Allow rm({"path": "x.txt"})?' in seen
        os.write(master, f"{answer}\n".encode())
        while expected.encode() not in seen:
            chunk = os.read(master, 1024)
            if not chunk:
                break
            seen += chunk
    finally:
        proc.wait(timeout=30)
        os.close(master)
    assert expected.encode() in seen
