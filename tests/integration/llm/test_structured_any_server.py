"""Structured output on any OpenAI-compatible server, through the real Router and HTTP path:
response_format json_schema exactly where the deployment declares it, the compact instruction
elsewhere, json-repair before a re-ask, and re-asks that move to the alias's router fallback."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from crew.llm import LLM, CallContext, StructuredOutputError
from crew.spec.models import ModelsConfig
from crew.testing.stub_server import StubReply, StubServer

HI = [{"role": "user", "content": "Review it."}]


class Verdict(BaseModel):
    approved: bool
    reasons: list[str]


def _llm(stub: StubServer, deployments: dict[str, tuple[str, dict[str, Any] | None]],
         **router: Any) -> LLM:
    model_list = []
    for alias, (name, info) in deployments.items():
        d: dict[str, Any] = {"model_name": alias, "litellm_params": {
            "model": name if "/" in name else f"openai/{name}", "api_base": stub.url,
            "api_key": "sk-stub-not-a-key"}}
        if info is not None:
            d["model_info"] = info
        model_list.append(d)
    return LLM(ModelsConfig.model_validate({"model_list": model_list, "router_settings": {
        "num_retries": 0, **router}}))


@pytest.fixture
def stub() -> Any:
    with StubServer() as server:
        yield server


async def test_response_format_is_sent_where_model_info_declares_it_and_nowhere_else(
        stub: StubServer) -> None:
    llm = _llm(stub, {
        "local": ("qwen-local", {"supports_response_schema": True}),  # unknown to LiteLLM
        "plain": ("llama-local", None),  # unknown, undeclared
        "refused": ("gpt-4o-mini", {"supports_response_schema": False}),  # known, turned off
    })
    stub.always(StubReply.text('{"approved": true, "reasons": []}'))
    for alias in ("local", "plain", "refused"):
        assert await llm.ask(alias, HI, Verdict) == Verdict(approved=True, reasons=[])
    native, plain, refused = (r.body for r in stub.requests)
    assert native["response_format"]["type"] == "json_schema"
    assert native["response_format"]["json_schema"]["name"] == "Verdict"
    assert native["messages"] == HI  # no instruction when the server enforces the schema
    for body in (plain, refused):
        assert "response_format" not in body
        assert body["messages"][-1]["content"] == HI[-1]["content"] + (
            '\n\nJSON: {"approved":bool,"reasons":[str,...]}')


async def test_json_repair_saves_a_re_ask(stub: StubServer) -> None:
    llm = _llm(stub, {"smart": ("model-a", None)})
    stub.enqueue(StubReply.text("Here you go:\n{approved: false, reasons: ['no tests',]"))
    assert await llm.ask("smart", HI, Verdict) == Verdict(approved=False, reasons=["no tests"])
    assert len(stub.requests) == 1


async def test_re_asks_go_to_the_router_fallback_when_the_alias_keeps_failing(
        stub: StubServer) -> None:
    llm = _llm(stub, {"smart": ("prose-model", None),
                      "fast": ("json-model", {"supports_response_schema": True})},
               fallbacks=[{"smart": ["fast"]}])
    stub.always(StubReply.text("It looks fine to me overall."), model="prose-model")
    stub.always(StubReply.text('{"approved": true, "reasons": ["tests pass"]}'),
                model="json-model")
    ctx = CallContext(task_id="t1", role="reviewer", purpose="verdict")
    v = await llm.ask("smart", HI, Verdict, context=ctx, max_reasks=2)
    assert v == Verdict(approved=True, reasons=["tests pass"])
    assert [r.model for r in stub.requests] == ["prose-model", "prose-model", "json-model"]
    to_fallback = stub.requests[2].body
    assert to_fallback["messages"] == HI  # a fresh ask, in the fallback's own mode
    assert to_fallback["response_format"]["type"] == "json_schema"
    assert [e.alias for e in llm.ledger.entries] == ["smart", "smart", "fast"]


async def test_without_a_fallback_the_alias_is_re_asked_then_gives_up(
        stub: StubServer) -> None:
    llm = _llm(stub, {"smart": ("prose-model", None), "fast": ("json-model", None)})
    stub.always(StubReply.text("No JSON from me."), model="prose-model")
    with pytest.raises(StructuredOutputError) as info:
        await llm.ask("smart", HI, Verdict, max_reasks=2)
    assert info.value.attempts == 3 and info.value.last_output == "No JSON from me."
    assert {r.model for r in stub.requests} == {"prose-model"}
