"""What crew knows of each deployment of a models config, from its litellm_params and
model_info and LiteLLM's model map: prices, output bounds, structured-output support, the
environment variables it reads, and whether LiteLLM can route it (used by `LLM`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crew.errors import Problem

ENV_PREFIX = "os.environ/"
PRICE_KEYS = ("input_cost_per_token", "output_cost_per_token")
OUT_KEYS = ("max_tokens", "max_completion_tokens")
# A call's worst-case output when a usd/tokens budget applies and neither the call, the
# deployment's litellm_params nor its model_info bound it (then crew sends it as max_tokens,
# so the reservation is a real bound); also the most a model map's maximum is trusted with.
DEFAULT_MAX_OUTPUT = 4096

# Providers whose model-info lookups query a hub over the network (huggingface: the provider
# mapping and tokenizer config on huggingface.co), synchronously: building an LLM must not.
_HUB_PROVIDERS = frozenset({"huggingface"})


def probes_network(lt: Any, model: str, params: Mapping[str, Any]) -> bool:
    try:
        provider = lt.get_llm_provider(model=model,
                                       custom_llm_provider=params.get("custom_llm_provider"))[1]
    except Exception:
        return False
    return provider in _HUB_PROVIDERS


@dataclass
class Deployment:
    alias: str
    model: str  # LiteLLM model string
    env_vars: tuple[str, ...]
    price: tuple[float, float] | None  # (input, output) usd per token, None if unknown
    native_schema: bool
    offline: bool = False
    warned_price: bool = False
    max_output: int | None = None  # set by the user: litellm_params max_tokens or model_info
    sends_max: bool = False  # litellm_params already sends max_tokens on every call
    default_max: int = DEFAULT_MAX_OUTPUT  # else: this, or the model map's maximum if lower
    api_base: str | None = None  # where it is served (named when it cannot be reached)


def stated_max_output(params: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment's bound on output tokens, as its config states it."""
    for src, sent in ((params, True), (info, False)):
        for key in (*OUT_KEYS, "max_output_tokens"):
            if isinstance(src.get(key), int) and src[key] > 0:
                return {"max_output": int(src[key]), "sends_max": sent and key in OUT_KEYS}
    return {}


def env_refs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(k, v[len(ENV_PREFIX):]) for k, v in params.items()
            if isinstance(v, str) and v.startswith(ENV_PREFIX)]


def price_of(lt: Any, model: str, params: Mapping[str, Any], info: Mapping[str, Any]
           ) -> tuple[float, float] | None:
    for src in (params, info):
        if any(src.get(k) is not None for k in PRICE_KEYS):
            return (float(src.get(PRICE_KEYS[0]) or 0.0),
                    float(src.get(PRICE_KEYS[1]) or 0.0))
    if probes_network(lt, model, params):
        return None
    try:
        mi = lt.get_model_info(model=model)
    except Exception:
        return None
    pin, pout = mi.get(PRICE_KEYS[0]), mi.get(PRICE_KEYS[1])
    return (float(pin or 0.0), float(pout or 0.0)) if pin or pout else None

def map_max_output(lt: Any, model: str, params: Mapping[str, Any]) -> int:
    """DEFAULT_MAX_OUTPUT, or LiteLLM's maximum output for `model` when that is lower."""
    if model.startswith("replay/") or probes_network(lt, model, params):
        return DEFAULT_MAX_OUTPUT
    try:
        known = lt.get_model_info(model=model).get("max_output_tokens")
    except Exception:
        return DEFAULT_MAX_OUTPUT
    return min(DEFAULT_MAX_OUTPUT, known) if isinstance(known, int) and known > 0 else (
        DEFAULT_MAX_OUTPUT)

def provider_problem(lt: Any, model: str, params: Mapping[str, Any], field: str,
                      source: str | None) -> Problem | None:
    """A Problem if LiteLLM cannot tell which provider serves `model`, else None."""
    try:
        lt.get_llm_provider(model=model, custom_llm_provider=params.get("custom_llm_provider"),
                            api_base=params.get("api_base"))
    except Exception:
        known = {str(getattr(p, "value", p)) for p in getattr(lt, "provider_list", ())}
        return unknown_provider(model, field, source,
                                known | {str(p) for p in getattr(lt, "providers", ())})
    return None


def unknown_provider(model: str, field: str, source: str | None,
                     known: Iterable[str]) -> Problem:
    """The problem of a model string LiteLLM finds no provider for; its fix: a misspelt
    provider (`opnai/gpt-4o`) replaced by the nearest of `known`, else a provider prefixed."""
    return Problem(f"LiteLLM cannot tell which provider serves model {model!r}",
                   file=source, field=field, hint=_provider_hint(model, {*known, "replay"}))


def misspelt_provider(model: str, known: Iterable[str]) -> str | None:
    """The provider of `known` that `model`'s prefix misspells (`opnai/...`: openai)."""
    from crew.spec.suggest import nearest

    pool = set(known)
    prefix, _, rest = model.partition("/")
    return nearest(prefix, pool) if rest and prefix not in pool else None


def _provider_hint(model: str, known: set[str]) -> str:
    rest = model.partition("/")[2]
    best = misspelt_provider(model, known)
    if best is not None:
        return f"replace the misspelt provider: {best}/{rest}, or set custom_llm_provider"
    return (f"prefix the provider: openai/{model or 'gpt-4o'} (or anthropic/..., ollama/..., "
            "replay/...), or set custom_llm_provider")

def supports_schema(lt: Any, model: str, info: Mapping[str, Any]) -> bool:
    if "supports_response_schema" in info:
        return bool(info["supports_response_schema"])
    if model.startswith("replay/") or probes_network(lt, model, {}):
        return False
    return bool(lt.supports_response_schema(model=model))
