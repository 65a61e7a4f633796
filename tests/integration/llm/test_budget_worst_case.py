"""Each call reserves its worst case (prompt estimate + maximum output at the dearest price)
before it reaches the model, so a limit is crossed by at most the prompt estimate's error
(issue 26: one call estimated at $0.00997 cost $0.0149, crossing a $0.01 limit by 49%)."""

from __future__ import annotations

import asyncio

import pytest
from llm_stub_helpers import OUT_PRICE, MakeLLM

from crew.errors import BudgetExceeded
from crew.llm import Budget, CallContext, Limits
from crew.llm.deployments import DEFAULT_MAX_OUTPUT
from crew.testing import StubReply, StubServer

ASK = [{"role": "user", "content": "Write the export function, please."}]
CENT = 0.01


async def _spend_until_stopped(llm: object, parallel: int) -> list[BaseException | object]:
    out: list[BaseException | object] = []
    for _ in range(20):
        got = await asyncio.gather(*(llm.complete(  # type: ignore[attr-defined]
            "smart", ASK, context=CallContext(run_id="r", task_id="t", role="coder"))
            for _ in range(parallel)), return_exceptions=True)
        out += got
        if any(isinstance(g, BudgetExceeded) for g in got):
            break
    return out


@pytest.mark.parametrize("parallel", [1, 3])
async def test_a_one_cent_limit_is_never_crossed_by_more_than_ten_percent(
        stub: StubServer, make_llm: MakeLLM, parallel: int) -> None:
    # 300 output tokens at $8e-6 = $0.0024 a call; the model says so in model_info
    stub.always(StubReply.text("done", prompt_tokens=12, completion_tokens=300))
    llm = make_llm(budget=Budget(Limits(usd=CENT)), model_info={"max_output_tokens": 300})
    results = await _spend_until_stopped(llm, parallel)
    assert any(isinstance(r, BudgetExceeded) for r in results)
    assert 0 < llm.ledger.total.cost_usd <= CENT * 1.1, llm.ledger.total.cost_usd
    assert all(r.body.get("max_tokens") == 300 for r in stub.requests)


async def test_an_unbounded_model_gets_a_max_tokens_it_is_reserved_for(
        stub: StubServer, make_llm: MakeLLM) -> None:
    """Nothing states a maximum: crew sends max_tokens so the worst case it reserved holds."""
    stub.always(StubReply.text("long", prompt_tokens=12, completion_tokens=100_000))
    usd = 2.5 * DEFAULT_MAX_OUTPUT * OUT_PRICE
    # a model name of its own: LiteLLM keeps the model_info other tests register, per name
    llm = make_llm({"smart": "model-unbounded"}, budget=Budget(Limits(usd=usd)))
    await _spend_until_stopped(llm, 1)
    assert [r.body.get("max_tokens") for r in stub.requests] == [DEFAULT_MAX_OUTPUT] * 2
    assert llm.ledger.total.cost_usd <= usd * 1.1


async def test_a_role_limit_reserves_too(stub: StubServer, make_llm: MakeLLM) -> None:
    stub.always(StubReply.text("done", prompt_tokens=12, completion_tokens=300))
    llm = make_llm(budget=Budget(per_role={"coder": Limits(usd=CENT)}),
                   model_info={"max_output_tokens": 300})
    await _spend_until_stopped(llm, 2)
    assert 0 < llm.ledger.role("coder").cost_usd <= CENT * 1.1
