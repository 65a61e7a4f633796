"""Approval rules (exact name > longest glob; MCP tools match by name and mcp: reference), the
flag approver, MCP references in `select`, the protect hook, hook loading and the HookSink."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crew.errors import UserError
from crew.llm.types import ToolCall
from crew.spec.tooling import HookSpec
from crew.tools.approvals import FlagApprover, rule_for
from crew.tools.base import Approval, ToolContext, tool
from crew.tools.hooks import HookSink, load_hooks
from crew.tools.mcp import McpTool, _AnyArgs, model_name, result_text
from crew.tools.protect import ProtectHook, matches
from crew.tools.registry import OutcomeStatus, ToolRegistry


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


def _mcp(server: str, name: str) -> McpTool:
    return McpTool(name=model_name(server, name), description="d", args_model=_AnyArgs,
                   fn=echo.fn, server=server, remote=name)


def test_rule_precedence() -> None:
    rules = {"mcp:*": Approval.ASK, "mcp:issues/*": Approval.DENY,
             "issues__get_issue": Approval.AUTO, "run_*": Approval.ASK}
    get, close = _mcp("issues", "get_issue"), _mcp("issues", "close_issue")
    search = _mcp("search", "lookup")
    assert rule_for(rules, (get.name, get.ref)) is Approval.AUTO  # exact beats globs
    assert rule_for(rules, (close.name, close.ref)) is Approval.DENY  # longer glob wins
    assert rule_for(rules, (search.name, search.ref)) is Approval.ASK
    assert rule_for(rules, ("run_command",)) is Approval.ASK
    assert rule_for(rules, ("read_file",)) is None


def test_registry_applies_glob_rules_and_records_refusals() -> None:
    reg = ToolRegistry([echo, _mcp("issues", "get_issue")],
                       approvals={"mcp:*": "deny"}, approver=FlagApprover())
    ctx = ToolContext(workspace=Path("."))
    out = asyncio.run(reg.invoke(ToolCall("1", "issues__get_issue", "{}"), ctx))
    assert out.status is OutcomeStatus.REFUSED and "denies" in out.output
    ok = asyncio.run(reg.invoke(ToolCall("2", "echo", '{"text": "hi"}'), ctx))
    assert ok.output == "hi"


@pytest.mark.parametrize("kw, tool_name, approved, basis", [
    ({"yes": True}, "run_command", True, "--yes"),
    ({"patterns": ["run_*"]}, "run_command", True, "--approve-tools"),
    ({"patterns": ["mcp:issues/*"]}, "issues__get_issue", True, "--approve-tools"),
    ({"patterns": ["git_*"]}, "run_command", False, "no-terminal"),
])
def test_flag_approver(kw: dict[str, Any], tool_name: str, approved: bool, basis: str) -> None:
    t = _mcp("issues", "get_issue") if tool_name.startswith("issues") else replace(
        echo, name=tool_name)
    approver = FlagApprover(interactive=lambda: False, **kw)
    reason = asyncio.run(approver(t, {}))
    assert (reason is None) is approved and approver.basis == basis
    if not approved:
        assert f"--approve-tools {tool_name}" in str(reason)


def test_terminal_prompt_pauses_the_view(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    def ask(prompt: str) -> str:
        calls.append(prompt)
        return "y"

    monkeypatch.setattr("crew.tools.approvals._ask", ask)
    approver = FlagApprover(interactive=lambda: True, pause=lambda: calls.append("pause"),
                            resume=lambda: calls.append("resume"))
    assert asyncio.run(approver(echo, {"text": "x"})) is None
    assert calls[0] == "pause" and "allow echo" in calls[1] and calls[2] == "resume"
    assert approver.basis == "human"


def test_select_expands_mcp_references() -> None:
    reg = ToolRegistry([_mcp("issues", "get_issue"), _mcp("issues", "close_issue"),
                        _mcp("search", "lookup")])
    assert reg.select(["mcp:issues/*"]).names() == ["issues__get_issue", "issues__close_issue"]
    assert reg.select(["mcp:search/lookup", "read_file"]).names() == ["search__lookup",
                                                                     "read_file"]
    with pytest.raises(UserError, match="did you mean 'mcp:issues/get_issue'"):
        reg.select(["mcp:issues/get_isue"])


def test_mcp_names_and_results() -> None:
    assert model_name("issues", "get.issue/v2") == "issues__get_issue_v2"
    assert len(model_name("s", "x" * 100)) == 64

    class Text:
        type, text = "text", "hello"

    class Result:
        content, structured_content, is_error = [Text()], {"a": 1}, False

    out = result_text(Result())
    assert out.text == "hello" and out.data == {"a": 1} and not out.is_error
    Result.content = []
    assert result_text(Result()).text == '{"a": 1}'


@pytest.mark.parametrize("path, pattern, hit", [
    ("migrations/001.sql", "migrations/**", True),
    ("./migrations/a/b.sql", "migrations/**", True),
    ("migrations", "migrations/**", True),
    ("src/migrations.py", "migrations/**", False),
    ("uv.lock", "*.lock", True),
    ("sub/uv.lock", "*.lock", True),  # '*' crosses '/'
])
def test_protect_globs(path: str, pattern: str, hit: bool) -> None:
    assert matches(path, pattern) is hit


def test_protect_hook_and_loading() -> None:
    (hook,) = load_hooks([HookSpec(name="protect", settings={"paths": ["docs/**"]})])
    assert isinstance(hook, ProtectHook)
    call = ToolCall("1", "write_file", '{"path": "docs/a.md", "content": ""}')
    assert "docs/a.md is protected" in str(hook.before_tool(call, None))
    assert hook.before_tool(ToolCall("2", "read_file", '{"path": "docs/a.md"}'), None) is None
    with pytest.raises(UserError, match=r"hooks\[0\]\.settings"):
        load_hooks([HookSpec(name="protect", settings={"paths": []})])
    with pytest.raises(UserError, match="unknown hook 'nope'"):
        load_hooks([HookSpec(name="nope")])


def test_hook_sink_maps_observations_to_notifications() -> None:
    seen: list[str] = []

    class H:
        def before_task(self, e: dict[str, Any]) -> None:
            seen.append(f"bt {e['name']}")

        def after_turn(self, e: dict[str, Any]) -> None:
            seen.append(f"at {e['name']}")
            raise RuntimeError("a broken hook does not break the run")

    sink = HookSink([H()])
    for t, n in (("task.start", "t1"), ("agent.start", "coder"), ("agent.end", "coder"),
                 ("tool.start", "x")):
        sink.on_event({"type": t, "name": n, "payload": {}})
    assert seen == ["bt t1", "at coder"]
