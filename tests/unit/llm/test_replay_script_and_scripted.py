"""Replay script format and matching; ScriptedLLM for users' tests (no litellm)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crew.errors import ContextTooLongError, ProviderError, UserError
from crew.llm import CallContext, ChatModel, Completion, ToolCall
from crew.llm.replay_script import ReplayMismatchError, ReplayScript, load_script, parse_entries
from crew.llm.types import StructuredChatModel
from crew.testing import ScriptedLLM


def asked(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"model": "m", "alias": "smart", "task": "", "role": "",
                               "pattern": "", "purpose": "", "turn": 0}
    return {**base, **kw}


def test_entries_are_served_first_match_in_order_once_unless_repeat() -> None:
    script = ReplayScript(parse_entries({"answers": [
        {"role": "coder", "turn": 1, "content": "coder turn 1"},
        {"role": "coder", "content": "coder any turn"},
        {"role": "reviewer", "content": "APPROVED", "repeat": True},
        {"content": "anyone"},
    ]}))
    assert script.take(asked(role="coder", turn=1)).content == "coder turn 1"
    assert script.take(asked(role="coder", turn=1)).content == "coder any turn"
    for _ in range(3):
        assert script.take(asked(role="reviewer")).content == "APPROVED"
    assert script.take(asked(role="coder", turn=1)).content == "anyone"
    with pytest.raises(ReplayMismatchError) as info:
        script.take(asked(role="coder", task="t9", turn=2))
    assert "role='coder'" in str(info.value) and "task='t9'" in str(info.value)
    assert "#2 role=reviewer" in str(info.value)
    assert script.served == [0, 1, 2, 2, 2, 3] and script.unserved() == []


def test_tool_calls_content_mappings_and_usage_are_parsed(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("answers:\n"
                 "  - tool_calls: [{name: read_file, arguments: {path: a.py}}]\n"
                 "    usage: {prompt_tokens: 3, completion_tokens: 4}\n"
                 "  - content: {approved: true}\n"
                 "  - just text\n")
    first, second, third = load_script(p)
    assert first.tool_calls == (ToolCall("call_0_0", "read_file", '{"path": "a.py"}'),)
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (3, 4)  # type: ignore[union-attr]
    assert second.content == '{"approved": true}' and third.content == "just text"


@pytest.mark.parametrize(("text", "problem"), [
    ("answers: 3", "a list under `answers`"),
    ("answers: [{role: coder}]", "needs `content`, `tool_calls` or `error`"),
    ("answers: [{content: x, turnn: 1}]", "did you mean 'turn'"),
    ("answers: [{error: explode}]", "unknown error kind"),
    ("answers: [{tool_calls: [{arguments: {}}]}]", "needs a `name`"),
    ("answers: [x: [", "invalid YAML"),
])
def test_bad_scripts_are_user_errors_with_file_and_field(
        tmp_path: Path, text: str, problem: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(UserError) as info:
        load_script(p)
    assert problem in str(info.value) and "bad.yaml" in str(info.value)


async def test_scripted_llm_records_calls_and_asserts_completeness() -> None:
    llm = ScriptedLLM([
        {"role": "coder", "tool_calls": [{"name": "run_tests", "arguments": "{}"}]},
        Completion(content="done"),
        {"role": "reviewer", "content": "unused"},
    ])
    assert isinstance(llm, ChatModel) and isinstance(llm, StructuredChatModel)
    ctx = CallContext(task_id="t", role="coder")
    messages = [{"role": "user", "content": "go"}]
    c = await llm.complete("smart", messages, context=ctx, temperature=0.1,
                           tools=[{"type": "function", "function": {"name": "run_tests"}}])
    assert c.tool_calls[0].name == "run_tests" and c.finish_reason == "tool_calls"
    messages.append(c.as_message())
    assert (await llm.complete("fast", messages, context=ctx)).content == "done"
    assert [call.alias for call in llm.calls] == ["smart", "fast"]
    assert llm.calls[0].params == {"temperature": 0.1} and len(llm.calls[0].messages) == 1
    assert llm.calls[1].messages[-1]["tool_calls"][0]["function"]["name"] == "run_tests"
    assert llm.ledger.by("role")["coder"].calls == 2
    with pytest.raises(AssertionError, match=r"1 scripted answer\(s\) never asked for: #2"):
        llm.assert_complete()


async def test_scripted_llm_keys_make_concurrent_agents_deterministic() -> None:
    llm = ScriptedLLM([{"role": r, "turn": t, "content": f"{r}-{t}"}
                       for r in ("a", "b", "c") for t in range(3)])

    async def agent(role: str) -> list[str | None]:
        out = []
        for t in range(3):
            c = await llm.complete("smart", [], context=CallContext(role=role, turn=t))
            out.append(c.content)
            await asyncio.sleep(0)
        return out

    results = await asyncio.gather(agent("c"), agent("a"), agent("b"))
    assert list(results) == [[f"{r}-{t}" for t in range(3)] for r in ("c", "a", "b")]
    llm.assert_complete()


async def test_scripted_errors_raise_crew_errors() -> None:
    llm = ScriptedLLM([{"error": "rate_limit"}, {"error": "context_window"}, {"error": "auth"}])
    with pytest.raises(ProviderError) as info:
        await llm.complete("smart", [])
    assert info.value.transient
    with pytest.raises(ContextTooLongError):
        await llm.complete("smart", [])
    with pytest.raises(UserError):
        await llm.complete("smart", [])
    with pytest.raises(ReplayMismatchError, match="every entry was served"):
        await llm.complete("smart", [])


def test_scripted_llm_from_file(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("answers:\n  - {role: coder, content: hi}\n")
    llm = ScriptedLLM.from_file(p)
    assert asyncio.run(llm.complete("smart", [], context=CallContext(role="coder"))).content == "hi"
    llm.assert_complete()
