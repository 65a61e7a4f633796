"""crew.llm.LLM through the real litellm.Router and its HTTP path, against the stub server."""

from __future__ import annotations

import json

import pytest
from llm_stub_helpers import IN_PRICE, OUT_PRICE, MakeLLM
from pydantic import BaseModel

from crew.errors import BudgetExceeded, ContextTooLongError, ProviderError, UserError
from crew.llm import Budget, BudgetWarning, CallContext, Limits, StructuredOutputError
from crew.testing.stub_server import StubReply, StubServer

HI = [{"role": "user", "content": "hi"}]


class Verdict(BaseModel):
    approved: bool
    reasons: list[str]


async def test_usage_and_cost_recorded_equal_what_the_server_returned(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"})
    stub.enqueue(StubReply.text("hello", prompt_tokens=1234, completion_tokens=56))
    ctx = CallContext(run_id="r1", task_id="t1", role="coder", pattern="single", turn=3)
    c = await llm.complete("smart", HI, context=ctx, temperature=0.3, max_tokens=99)
    assert c.content == "hello" and c.alias == "smart" and c.model == "openai/model-a"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (1234, 56)
    assert c.cost_usd == pytest.approx(1234 * IN_PRICE + 56 * OUT_PRICE)
    [e] = llm.ledger.entries
    assert (e.alias, e.deployment, e.prompt_tokens, e.completion_tokens) == (
        "smart", "openai/model-a", 1234, 56)
    assert e.cost_usd == pytest.approx(c.cost_usd)
    assert (e.run_id, e.task_id, e.role, e.pattern, e.turn) == ("r1", "t1", "coder", "single", 3)
    assert e.latency_s > 0
    sent = stub.requests[0].body
    assert sent["model"] == "model-a" and sent["messages"] == HI
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 99
    assert "metadata" not in sent  # crew's attribution stays out of the provider request


async def test_fallback_from_a_failing_alias_to_a_working_one(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "broken", "fast": "working"}, fallbacks=[{"smart": ["fast"]}])
    stub.always(StubReply.error(500), model="broken")
    stub.enqueue(StubReply.text("from fast", prompt_tokens=7, completion_tokens=3),
                 model="working")
    c = await llm.complete("smart", HI, context=CallContext(task_id="t", role="coder"))
    assert c.content == "from fast"
    assert c.alias == "smart" and c.model == "openai/working"
    assert [r.model for r in stub.requests] == ["broken", "working"]
    assert llm.ledger.entries[0].deployment == "openai/working"
    assert llm.ledger.by("alias")["smart"].calls == 1


async def test_rate_limited_then_success_is_retried_by_litellm(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "busy"}, num_retries=2)
    stub.enqueue(StubReply.rate_limited(retry_after=0), StubReply.text("ok"), model="busy")
    c = await llm.complete("smart", HI)
    assert c.content == "ok"
    assert len(stub.requests_for("busy")) == 2
    assert len(llm.ledger.entries) == 1


async def test_rate_limited_for_good_is_a_transient_provider_error(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "busy"})
    stub.always(StubReply.rate_limited(retry_after=0), model="busy")
    with pytest.raises(ProviderError) as info:
        await llm.complete("smart", HI)
    assert info.value.transient and "rate limited" in str(info.value)
    assert llm.ledger.entries == []


async def test_timeout_is_a_transient_provider_error(stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "slow"}, timeout=0.3)
    stub.always(StubReply.timeout(30), model="slow")
    with pytest.raises(ProviderError) as info:
        await llm.complete("smart", HI)
    assert info.value.transient and "Timeout" in str(info.value)


async def test_timeout_falls_back(stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "slow", "fast": "quick"}, timeout=0.3,
                   fallbacks=[{"smart": ["fast"]}])
    stub.always(StubReply.timeout(30), model="slow")
    stub.enqueue(StubReply.text("quick answer"), model="quick")
    c = await llm.complete("smart", HI)
    assert (c.content, c.model) == ("quick answer", "openai/quick")


async def test_context_too_long_and_bad_credentials_map_to_crew_errors(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "small"})
    stub.enqueue(StubReply.context_too_long(), model="small")
    with pytest.raises(ContextTooLongError, match="context window"):
        await llm.complete("smart", HI)
    stub.enqueue(StubReply.error(401, "Incorrect API key provided: sk-stub-not-a-key"),
                 model="small")
    with pytest.raises(UserError) as info:
        await llm.complete("smart", HI)
    assert "credentials" in str(info.value)
    assert "sk-stub-not-a-key" not in str(info.value)  # secrets never reach messages


async def test_tool_calls_through_the_router(stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"})
    tools = [{"type": "function", "function": {
        "name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                       "required": ["path"]}}}]
    stub.enqueue(StubReply.tool_call(("read_file", {"path": "todo.py"}),
                                     ("read_file", {"path": "cli.py"})),
                 StubReply.text("both read"))
    c = await llm.complete("smart", HI, tools=tools)
    assert [(t.name, json.loads(t.arguments)) for t in c.tool_calls] == [
        ("read_file", {"path": "todo.py"}), ("read_file", {"path": "cli.py"})]
    assert c.finish_reason == "tool_calls"
    assert stub.requests[0].body["tools"] == tools
    convo = [*HI, c.as_message(),
             *({"role": "tool", "tool_call_id": t.id, "content": "..."} for t in c.tool_calls)]
    c2 = await llm.complete("smart", convo, tools=tools)
    assert c2.content == "both read" and not c2.tool_calls
    sent = stub.requests[1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "read_file"
    assert [m["tool_call_id"] for m in sent[2:]] == ["call_0", "call_1"]


async def test_malformed_json_is_repaired_without_a_reask(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"})
    stub.enqueue(StubReply.malformed_json_content(
        "Sure! ```json\n{'approved': True, 'reasons': ['tests pass',],}\n```"))
    v = await llm.ask("smart", HI, Verdict)
    assert v == Verdict(approved=True, reasons=["tests pass"])
    assert len(stub.requests) == 1
    last = stub.requests[0].body["messages"][-1]["content"]
    assert last.startswith("hi\n\nJSON: {") and "reasons" in last  # the format, on the ask


async def test_malformed_json_is_reasked_with_the_validation_error(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"})
    stub.enqueue(StubReply.malformed_json_content('{"approved": "maybe"}'),
                 StubReply.empty(),
                 StubReply.text('{"approved": false, "reasons": ["no tests"]}'))
    v = await llm.ask("smart", HI, Verdict, max_reasks=2)
    assert v == Verdict(approved=False, reasons=["no tests"])
    assert len(stub.requests) == 3
    reask = stub.requests[1].body["messages"]
    assert reask[-2] == {"role": "assistant", "content": '{"approved": "maybe"}'}
    assert "approved" in reask[-1]["content"] and "reasons" in reask[-1]["content"]
    assert "empty" in stub.requests[2].body["messages"][-1]["content"]
    assert llm.ledger.total.calls == 3


async def test_structured_output_gives_up_with_a_typed_error(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"})
    stub.always(StubReply.malformed_json_content("I refuse to answer in JSON"))
    with pytest.raises(StructuredOutputError) as info:
        await llm.ask("smart", HI, Verdict, max_reasks=1)
    assert info.value.attempts == 2 and info.value.last_output == "I refuse to answer in JSON"
    assert len(stub.requests) == 2


async def test_native_json_schema_when_the_deployment_supports_it(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"}, model_info={"supports_response_schema": True})
    stub.enqueue(StubReply.text('{"approved": true, "reasons": []}'))
    assert await llm.ask("smart", HI, Verdict) == Verdict(approved=True, reasons=[])
    body = stub.requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["approved", "reasons"]
    assert body["messages"] == HI


async def test_budget_stops_before_the_call_that_would_cross_it(
        stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"}, budget=Budget(Limits(tokens=1000)))
    stub.always(StubReply.text("ok", prompt_tokens=700, completion_tokens=100))
    await llm.complete("smart", HI, max_tokens=100)
    with pytest.raises(BudgetExceeded) as info:
        await llm.complete("smart", HI, max_tokens=300)  # 800 + ~10 + 300 > 1000
    assert (info.value.scope, info.value.kind, info.value.limit) == ("run", "tokens", 1000)
    assert len(stub.requests) == 1  # the second call never left crew


async def test_usd_budget_per_task_and_the_80_percent_warning(
        stub: StubServer, make_llm: MakeLLM) -> None:
    budget = Budget(per_task={"t1": Limits(usd=1000 * IN_PRICE / 0.85)})
    warnings: list[BudgetWarning] = []
    budget.listeners.append(warnings.append)
    llm = make_llm({"smart": "model-a"}, budget=budget)
    stub.always(StubReply.text("ok", prompt_tokens=1000, completion_tokens=0))
    ctx = CallContext(task_id="t1")
    await llm.complete("smart", HI, context=ctx, max_tokens=1)  # its worst case fits
    assert [(w.scope, w.kind) for w in warnings] == [("task:t1", "usd")]
    with pytest.raises(BudgetExceeded) as info:
        await llm.complete("smart", HI, context=ctx, max_tokens=100)  # 100 * OUT_PRICE too much
    assert info.value.scope == "task:t1" and info.value.kind == "usd"
    assert len(stub.requests) == 1
    await llm.complete("smart", HI, context=CallContext(task_id="t2"))  # other tasks go on
    assert len(stub.requests) == 2


async def test_unknown_alias_is_a_user_error_with_a_suggestion(make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "model-a"})
    with pytest.raises(UserError, match="did you mean 'smart'"):
        await llm.complete("smrat", HI)


async def test_context_window_fallbacks_are_honoured(stub: StubServer, make_llm: MakeLLM) -> None:
    llm = make_llm({"smart": "small", "big": "large"},
                   context_window_fallbacks=[{"smart": ["big"]}])
    stub.enqueue(StubReply.context_too_long(), model="small")
    stub.enqueue(StubReply.text("fits"), model="large")
    c = await llm.complete("smart", HI)
    assert (c.content, c.model) == ("fits", "openai/large")


async def test_unknown_price_counts_zero_with_one_warning(
        stub: StubServer, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    from crew.llm import LLM
    from crew.spec.models import ModelsConfig

    cfg = ModelsConfig.model_validate({"model_list": [{"model_name": "local", "litellm_params": {
        "model": "openai/my-local-model", "api_base": stub.url, "api_key": "sk-stub-not-a-key"}}],
        "router_settings": {"num_retries": 0}})
    llm = LLM(cfg)
    stub.always(StubReply.text("ok", prompt_tokens=100, completion_tokens=100))
    with caplog.at_level("WARNING", logger="crew.llm"):
        for _ in range(3):
            assert (await llm.complete("local", HI)).cost_usd == 0.0
    price_warnings = [r for r in caplog.records if "no price known" in r.getMessage()]
    assert len(price_warnings) == 1
    assert "openai/my-local-model" in price_warnings[0].getMessage()
    assert llm.ledger.total.calls == 3 and llm.ledger.total.cost_usd == 0.0
    stub.enqueue(StubReply.error(401, "bad key"))
    with pytest.raises(UserError):
        await llm.complete("local", HI)
    out, err = capfd.readouterr()
    assert "sk-stub-not-a-key" not in out + err  # litellm's own logging stays quiet
