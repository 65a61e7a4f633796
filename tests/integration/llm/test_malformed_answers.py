"""Issue 31: answers of the wrong shape and texts UTF-8 cannot carry, through the real Router
and LiteLLM's HTTP path (StubServer). A malformed shape is asked again, then read as an empty
answer (never an IndexError); a lone surrogate or NUL in an answer, or in the next request,
is made safe (crew.textsafe) instead of failing the call as "provider failed"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llm_stub_helpers import MakeLLM

from crew.llm.client import MALFORMED_RETRIES
from crew.testing import StubReply, StubServer


def _body(choices: Any, usage: bool = True) -> StubReply:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion", "created": 1,
                            "model": "m", "choices": choices}
    if usage:
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return StubReply(raw_body=json.dumps(body))


def _message(message: dict[str, Any], finish: str = "stop") -> list[dict[str, Any]]:
    return [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}]


HI = [{"role": "user", "content": "hi"}]


async def test_empty_choices_is_asked_again_then_an_empty_answer(stub: StubServer,
                                                                  make_llm: MakeLLM) -> None:
    stub.always(_body([]))
    llm = make_llm()
    c = await llm.complete("smart", HI)  # was: IndexError at llm/client.py
    assert c.content == "" and c.tool_calls == () and c.finish_reason == "malformed"
    assert len(stub.requests) == MALFORMED_RETRIES + 1
    assert llm.ledger.total.calls == 1


async def test_a_malformed_answer_then_a_good_one(stub: StubServer, make_llm: MakeLLM) -> None:
    stub.enqueue(_body([]), StubReply.text("fine"))
    c = await make_llm().complete("smart", HI)
    assert c.content == "fine" and len(stub.requests) == 2


@pytest.mark.parametrize("reply", [
    _body([{"index": 0, "finish_reason": "stop"}]),  # no message
    StubReply.bad_body(),  # a 200 whose body is not JSON
    _body(_message({"content": None})),  # null content without tool calls
])
async def test_no_message_or_null_content_is_an_empty_answer(
        stub: StubServer, make_llm: MakeLLM, reply: StubReply) -> None:
    stub.always(reply)
    c = await make_llm().complete("smart", HI)
    assert not c.content and c.tool_calls == ()


async def test_tool_calls_without_id_name_or_json_arguments(stub: StubServer,
                                                            make_llm: MakeLLM) -> None:
    calls = [{"type": "function", "function": {"arguments": "{}"}},
             {"id": "b", "type": "function", "function": {"name": "f", "arguments": "{oops"}},
             {"id": "c", "type": "function", "function": {"name": "g"}}]
    stub.enqueue(_body(_message({"content": None, "tool_calls": calls}, "tool_calls"),
                       usage=False))
    c = await make_llm().complete("smart", HI)
    assert [(t.name, t.arguments) for t in c.tool_calls] == [
        ("", "{}"), ("f", "{oops"), ("g", "{}")]
    assert all(t.id for t in c.tool_calls)
    assert c.usage.total_tokens >= 0


async def test_surrogates_and_nul_in_an_answer_are_made_safe(stub: StubServer,
                                                             make_llm: MakeLLM) -> None:
    stub.enqueue(StubReply.text("ok \ud800 then\x00 end"),
                 StubReply.tool_call(("write_file", {"path": "a\udfff"})))
    llm = make_llm()
    c = await llm.complete("smart", HI)
    assert c.content == "ok \ufffd then\\x00 end"
    c2 = await llm.complete("smart", HI)
    assert "\\udfff" in c2.tool_calls[0].arguments  # JSON's escape: the tool layer refuses it


async def test_a_surrogate_in_the_next_request_is_sent_replaced(stub: StubServer,
                                                                make_llm: MakeLLM) -> None:
    stub.enqueue(StubReply.text("fine"))
    c = await make_llm().complete("smart", [{"role": "user", "content": "bad \ud800 text\x00"}])
    # was: the body could not be encoded, reported as "provider failed after retries"
    assert c.content == "fine"
    # a surrogate replaced; a NUL travels JSON-escaped (texts from models and tools were made
    # safe where they entered)
    assert stub.requests[0].body["messages"][0]["content"] == "bad \ufffd text\x00"
