"""`crew validate`'s router check without litellm (crew.llm.offline_check) gives litellm's
own answers: every provider it takes from the installed enum is one get_llm_provider splits
off plainly, its prices are get_model_info's, the settings it accepts are ones the Router
and litellm take, and on configs it settles it finds what `LLM(config)` finds; on anything
else it steps aside (None) and the caller builds `LLM`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from crew.errors import UserError
from crew.llm import LLM
from crew.llm.offline_check import (
    SAFE_LITELLM_SETTINGS,
    SAFE_ROUTER_SETTINGS,
    InstalledLitellm,
    check_offline,
    installed_litellm,
)
from crew.spec.models import ModelsConfig


def _litellm() -> Any:
    from crew.llm._litellm import load_litellm

    return load_litellm()


def test_the_installed_files_are_read_and_every_provider_taken_is_split_off_plainly() -> None:
    found = installed_litellm()
    assert found is not None
    providers, cost_map = found
    lt = _litellm()
    assert {"openai", "anthropic", "ollama_chat", "azure"} <= providers
    assert providers <= {getattr(p, "value", p) for p in lt.provider_list}
    for p in sorted(providers):
        assert lt.get_llm_provider(model=f"{p}/some-model")[1] == p, p
    assert len(cost_map) > 1000


def test_prices_found_offline_are_litellms() -> None:
    found = installed_litellm()
    assert found is not None
    providers, cost_map = found
    lt = _litellm()
    offline = InstalledLitellm(providers, cost_map)
    models = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", *sorted(f"{v['litellm_provider']}/{k}" for k, v in cost_map.items() if isinstance(v, dict) and v.get("litellm_provider") in ("openai", "anthropic", "groq", "mistral") and v.get("input_cost_per_token") and "/" not in k)[:60]]
    for model in models:
        mine = offline.get_model_info(model)
        theirs = lt.get_model_info(model=model)
        assert (mine["input_cost_per_token"], mine["output_cost_per_token"]) == (
            theirs["input_cost_per_token"], theirs["output_cost_per_token"]), model


def test_the_settings_it_accepts_are_the_routers_and_litellms() -> None:
    lt = _litellm()
    params = set(inspect.signature(lt.Router.__init__).parameters)
    assert params >= SAFE_ROUTER_SETTINGS, SAFE_ROUTER_SETTINGS - params
    assert all(hasattr(lt, k) for k in SAFE_LITELLM_SETTINGS)


def _config(*deployments: dict[str, Any], **extra: Any) -> ModelsConfig:
    return ModelsConfig.model_validate({"model_list": list(deployments), **extra})


def _dep(alias: str, **params: Any) -> dict[str, Any]:
    return {"model_name": alias, "litellm_params": params}


SETTLED = {
    "scaffold": _config(_dep("smart", model="anthropic/claude-sonnet-4-5", api_key="k"),
                        _dep("fast", model="openai/gpt-4o-mini", api_key="k"),
                        router_settings={"fallbacks": [{"smart": ["fast"]}], "num_retries": 2,
                                         "timeout": 120}),
    "local-unpriced": _config(_dep("m", model="openai/m", api_base="http://127.0.0.1:9/v1",
                                   api_key="k"),
                              litellm_settings={"drop_params": True}),
    "replay": _config(_dep("smart", model="replay/x", replay_script="s.yaml")),
    "bad-replay-script": _config(_dep("smart", model="replay/x", replay_script="none.yaml")),
    "unset-variable": _config(_dep("m", model="openai/gpt-4o", api_key="os.environ/CREW_NOPE")),
}
UNSETTLED = {
    "bare-model": _config(_dep("m", model="gpt-4o-mini")),
    "unknown-provider": _config(_dep("m", model="nosuch/x")),
    "network-provider": _config(_dep("m", model="github_copilot/gpt-4o")),
    "cache": _config(_dep("m", model="openai/gpt-4o"),
                     litellm_settings={"cache": True, "cache_params": {"type": "local"}}),
    "routing-strategy": _config(_dep("m", model="openai/gpt-4o"),
                                router_settings={"routing_strategy": "nonsense"}),
    "env-setting": _config(_dep("m", model="openai/gpt-4o"),
                           router_settings={"timeout": "os.environ/CREW_T"}),
    "odd-param": _config(_dep("m", model="openai/gpt-4o", rpm="many")),
}


def _outcome(build: Any) -> Any:
    try:
        got = build()
    except UserError as e:
        return sorted((p.message, p.field) for p in e.problems)
    if got is None:
        return None
    return sorted(got.aliases), {a: got.unpriced(a) for a in sorted(got.aliases)}, \
        got.unroutable("absent") is not None


@pytest.mark.parametrize("name", sorted(SETTLED))
def test_a_config_it_settles_gets_llms_answer(tmp_path: Path, name: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREW_NOPE", raising=False)
    (tmp_path / "s.yaml").write_text("answers:\n  - content: hi\n", encoding="utf-8")
    config = SETTLED[name]
    # its prices matter (a USD budget) except where none is known (see the last test)
    aliases = [d.model_name for d in config.model_list if name != "local-unpriced"]
    offline = _outcome(lambda: check_offline(config, base_dir=tmp_path, source="m.yaml",
                                             priced=aliases))
    assert offline is not None
    real = _outcome(lambda: LLM(config, base_dir=tmp_path, source="m.yaml", warm=False))
    assert offline == real


@pytest.mark.parametrize("name", sorted(UNSETTLED))
def test_anything_else_is_left_to_litellm(tmp_path: Path, name: str) -> None:
    assert check_offline(UNSETTLED[name], base_dir=tmp_path, source=None) is None


def test_an_unknown_price_under_a_usd_budget_is_left_to_litellm(tmp_path: Path) -> None:
    config = SETTLED["local-unpriced"]
    assert check_offline(config, base_dir=tmp_path, source=None, priced=()) is not None
    assert check_offline(config, base_dir=tmp_path, source=None, priced=["m"]) is None


def test_a_provider_it_calls_misspelt_is_one_litellm_cannot_tell_either() -> None:
    from crew.llm.offline_check import misspelt_providers

    models = ["opnai/gpt-4o", "antropic/claude-sonnet-4-5", "OpenAI/gpt-4o", "olama/llama3",
              "gemeni/gemini-pro", "meta-llama/Llama-3.3-70B-Instruct", "openai/gpt-4o",
              "ollama_chat/qwen2.5-coder:7b", "gpt-4o", "foo/bar", "replay/x"]
    config = _config(*(_dep(f"a{i}", model=m) for i, m in enumerate(models)))
    flagged = {p.field: p for p in misspelt_providers(config)}
    lt = _litellm()
    for i, model in enumerate(models):
        if f"model_list[{i}].litellm_params.model" not in flagged:
            continue
        with pytest.raises(Exception):  # noqa: B017 - litellm's own error, whatever its class
            lt.get_llm_provider(model=model)
    assert sorted(flagged) == [f"model_list[{i}].litellm_params.model" for i in range(6)]
    assert "openai/gpt-4o," in (flagged["model_list[0].litellm_params.model"].hint or "")
