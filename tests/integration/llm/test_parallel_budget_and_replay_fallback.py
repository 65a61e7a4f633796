"""Parallel calls under a budget, model strings without a provider, and replay mismatches
behind fallbacks — through the real litellm.Router with the replay provider."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from crew.errors import BudgetExceeded, UserError
from crew.llm import LLM, Budget, CallContext, Limits
from crew.llm.replay_script import ReplayMismatchError

ASK = [{"role": "user", "content": "go"}]


def write(tmp_path: Path, models: str, script: str) -> Path:
    (tmp_path / "script.yaml").write_text(textwrap.dedent(script))
    path = tmp_path / "models.yaml"
    path.write_text(textwrap.dedent(models))
    return path


# $0.1 per call: 100 completion tokens at $0.001, nothing for the prompt; the caller's
# max_tokens=100 makes crew's estimate of each call exactly $0.1 too.
PRICED = """\
model_list:
  - model_name: smart
    litellm_params: {model: replay/priced, replay_script: script.yaml,
                     input_cost_per_token: 0.0, output_cost_per_token: 0.001}
router_settings: {num_retries: 0}
"""
ANSWERS = """\
answers:
  - {content: done, usage: {prompt_tokens: 0, completion_tokens: 100}, repeat: true}
"""


@pytest.mark.slow
async def test_parallel_calls_stop_at_the_usd_limit(tmp_path: Path) -> None:
    llm = LLM.from_file(write(tmp_path, PRICED, ANSWERS), budget=Budget(Limits(usd=0.25)))
    results = await asyncio.gather(
        *(llm.complete("smart", ASK, max_tokens=100,
                       context=CallContext(run_id="r", task_id=f"t{i}")) for i in range(8)),
        return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    stopped = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(done) == 2 and len(stopped) == 6, results
    assert all((e.scope, e.kind) == ("run", "usd") for e in stopped)
    served = next(iter(llm._replay.scripts.values())).served
    assert len(served) == 2  # the stopped calls never reached the model
    assert len(llm.ledger.entries) == 2
    assert llm.ledger.total.cost_usd == pytest.approx(0.2)
    # Finished calls gave their reservations back: $0.05 more still fits (0.2 + 0.05).
    assert llm.budget is not None
    llm.budget.check_before(llm.ledger, CallContext(), est_usd=0.05)
    with pytest.raises(BudgetExceeded):
        llm.budget.check_before(llm.ledger, CallContext(), est_usd=0.06)


@pytest.mark.slow
async def test_a_failed_call_releases_its_reservation(tmp_path: Path) -> None:
    script = """\
    answers:
      - {error: server}
      - {content: done, usage: {prompt_tokens: 0, completion_tokens: 100}}
    """
    llm = LLM.from_file(write(tmp_path, PRICED, script), budget=Budget(Limits(usd=0.15)))
    results = await asyncio.gather(llm.complete("smart", ASK, max_tokens=100),
                                   llm.complete("smart", ASK, max_tokens=100),
                                   return_exceptions=True)
    assert isinstance(results[1], BudgetExceeded)  # the first call's $0.1 was in flight
    assert not isinstance(results[0], BudgetExceeded)  # it failed as scripted
    c = await llm.complete("smart", ASK, max_tokens=100)  # nothing is held any more
    assert c.content == "done" and llm.ledger.total.cost_usd == pytest.approx(0.1)


@pytest.mark.parametrize(("model", "fix"), [("gpt4o", "openai/gpt4o"),
                                          ("foo/bar", "openai/foo/bar"),
                                          ("opnai/gpt-4o", "openai/gpt-4o")])
def test_a_model_without_a_provider_is_a_user_error_naming_the_entry(
        tmp_path: Path, model: str, fix: str, caplog: pytest.LogCaptureFixture) -> None:
    models = write(tmp_path, f"""\
    model_list:
      - model_name: fast
        litellm_params: {{model: replay/x, replay_script: script.yaml}}
      - model_name: smart
        litellm_params: {{model: {model}, api_key: sk-stub-not-a-key}}
    """, ANSWERS)
    llm = LLM.from_file(models)  # the proxy skips such a deployment too (with a warning)
    assert llm.aliases == {"fast"}
    with pytest.raises(UserError) as info:  # calling its alias names the entry
        asyncio.run(llm.complete("smart", [{"role": "user", "content": "hi"}]))
    text = str(info.value)
    assert "models.yaml" in text and "model_list[1].litellm_params.model" in text
    assert f": {fix} " in text or f": {fix}," in text  # the provider prefixed or replaced
    assert "openai/opnai" not in text
    assert "Traceback" not in text
    # the alias has no deployment left: that is the error above, not also a log line
    assert "skipping" not in caplog.text


def test_a_deployment_skipped_beside_another_of_its_alias_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    models = write(tmp_path, """\
    model_list:
      - model_name: smart
        litellm_params: {model: replay/x, replay_script: script.yaml}
      - model_name: smart
        litellm_params: {model: opnai/gpt-4o, api_key: sk-stub-not-a-key}
    """, ANSWERS)
    assert LLM.from_file(models).aliases == {"smart"}  # served by the other deployment
    assert "skipping model_list[1]" in caplog.text and "opnai/gpt-4o" in caplog.text


def test_an_explicit_custom_llm_provider_is_accepted(tmp_path: Path) -> None:
    models = write(tmp_path, """\
    model_list:
      - model_name: smart
        litellm_params: {model: gpt4o, custom_llm_provider: openai, api_key: sk-stub-not-a-key}
    """, ANSWERS)
    assert LLM.from_file(models).aliases == {"smart"}


def test_any_router_construction_error_is_a_user_error(tmp_path: Path) -> None:
    models = write(tmp_path, PRICED.replace("{num_retries: 0}", "{model_group_alias: 5}"),
                   ANSWERS)
    with pytest.raises(UserError) as info:  # litellm.Router raises AttributeError here
        LLM.from_file(models)
    text = str(info.value)
    assert "models.yaml" in text and "router_settings" in text and "AttributeError" in text


FALLBACKS = """\
model_list:
  - model_name: smart
    litellm_params: {model: replay/primary, replay_script: script.yaml}
  - model_name: fast
    litellm_params: {model: replay/backup, replay_script: script.yaml}
router_settings: {num_retries: 0, fallbacks: [{smart: [fast]}]}
"""


async def test_a_replay_mismatch_is_not_hidden_by_a_fallback(tmp_path: Path) -> None:
    script = """\
    answers:
      - {model: primary, role: coder, content: from primary}
      - {model: backup, content: from backup, repeat: true}
    """
    llm = LLM.from_file(write(tmp_path, FALLBACKS, script))
    with pytest.raises(ReplayMismatchError) as info:
        await llm.complete("smart", ASK, context=CallContext(task_id="t", role="tester"))
    text = str(info.value)
    assert "model='primary'" in text and "role='tester'" in text and "script.yaml" in text
    assert llm.ledger.entries == []
    script_state = next(iter(llm._replay.scripts.values()))
    assert script_state.served == []  # the backup's answer was not consumed either
    # A matching ask is still answered by the primary, and the backup stays a fallback.
    c = await llm.complete("smart", ASK, context=CallContext(role="coder"))
    assert (c.content, c.model) == ("from primary", "replay/primary")
    c = await llm.complete("fast", ASK)
    assert c.content == "from backup"


async def test_concurrent_mismatch_and_match_do_not_mix(tmp_path: Path) -> None:
    script = """\
    answers:
      - {model: primary, role: coder, content: from primary}
      - {model: backup, content: from backup, repeat: true}
    """
    llm = LLM.from_file(write(tmp_path, FALLBACKS, script))
    ok, bad = await asyncio.gather(
        llm.complete("smart", ASK, context=CallContext(role="coder")),
        llm.complete("smart", ASK, context=CallContext(role="tester")),
        return_exceptions=True)
    assert not isinstance(ok, BaseException) and ok.content == "from primary"
    assert isinstance(bad, ReplayMismatchError)
    assert llm._replay.misses == {}  # nothing left behind per call
