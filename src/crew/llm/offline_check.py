"""`crew validate`'s router check without importing litellm (~2-3 s): the models config is
checked by the same ModelTable `LLM` builds, with LiteLLM's answers read from the installed
package's files (its provider enum in types/utils.py, its model cost map JSON, found with
importlib.util.find_spec, which imports nothing).

Only what these files decide for certain is answered here: a `provider/model` string whose
provider is a plain prefix (PLAIN_PROVIDERS: LiteLLM splits it off and asks nothing else),
prices from the cost map, router and litellm settings whose values the spec already checks
(SAFE_ROUTER_SETTINGS) or that LiteLLM takes as plain module attributes, deployment keys of
known types. Anything else (a bare model name, a provider LiteLLM resolves with logic of its
own, a cache, a callback, an `os.environ/` setting, an unknown key) makes `check_offline`
return None and the caller builds the real `LLM`, as before.
tests/integration/llm/test_offline_check.py holds these answers to litellm's own.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from crew.errors import Problem, UserError
from crew.llm.deployments import misspelt_provider, unknown_provider
from crew.llm.model_table import ModelTable
from crew.spec.models import IGNORED_LITELLM_SETTINGS, ModelsConfig

# Providers LiteLLM's get_llm_provider returns for "<provider>/<model>" by splitting the
# prefix off, with no lookup, network or file (several others, e.g. github_copilot and
# chatgpt, fetch credentials over the network just to answer)
PLAIN_PROVIDERS = frozenset(["openai", "anthropic", "azure", "azure_ai", "gemini", "vertex_ai", "bedrock", "ollama", "ollama_chat", "groq", "mistral", "openrouter", "deepseek", "together_ai", "fireworks_ai", "xai", "hosted_vllm", "lm_studio", "cohere_chat", "huggingface", "perplexity", "cerebras", "databricks", "watsonx", "llamafile", "sambanova", "nvidia_nim", "deepinfra", "custom_openai", "text-completion-openai"])
CUSTOM_PROVIDERS = frozenset({"replay"})  # registered by crew.llm._litellm
# router_settings crew's spec checks (crew.spec.resolve: counts, seconds, fallback lists)
SAFE_ROUTER_SETTINGS = frozenset({
    "num_retries", "allowed_fails", "max_fallbacks", "default_max_parallel_requests",
    "timeout", "stream_timeout", "cooldown_time", "retry_after", "client_ttl",
    "polling_interval", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks"})
# litellm_settings that are plain litellm module attributes of these types
SAFE_LITELLM_SETTINGS: Mapping[str, type | tuple[type, ...]] = {
    "drop_params": bool, "modify_params": bool, "request_timeout": (int, float),
    "num_retries": int}
_STR, _NUM, _INT = (str,), (int, float), (int,)
SAFE_PARAMS: Mapping[str, tuple[type, ...]] = {
    "model": _STR, "api_base": _STR, "base_url": _STR, "api_key": _STR, "api_version": _STR,
    "custom_llm_provider": _STR, "replay_script": _STR, "mock_response": _STR,
    "input_cost_per_token": _NUM, "output_cost_per_token": _NUM, "temperature": _NUM,
    "timeout": _NUM, "stream_timeout": _NUM, "max_tokens": _INT,
    "max_completion_tokens": _INT, "rpm": _INT, "tpm": _INT, "max_retries": _INT}
SAFE_INFO: Mapping[str, tuple[type, ...]] = {
    "id": _STR, "supports_response_schema": (bool,), "max_output_tokens": _INT,
    "max_tokens": _INT, "input_cost_per_token": _NUM, "output_cost_per_token": _NUM}


class InstalledLitellm:
    """The few LiteLLM functions ModelTable and crew.llm.deployments call, answered from
    the installed package's files. A question they cannot settle sets `unsure` (the
    answer given is then never used: `check_offline` returns None)."""

    def __init__(self, providers: frozenset[str], cost_map: Mapping[str, Any]) -> None:
        self.providers = providers
        self.cost_map = cost_map
        self.unsure: list[str] = []  # what needed litellm itself
        self.unknown_prices: set[str] = set()

    def get_llm_provider(self, model: str, custom_llm_provider: str | None = None,
                         api_base: Any = None) -> tuple[str, str, None, Any]:
        prefix, _, rest = model.partition("/")
        if custom_llm_provider not in (None, prefix) or not rest:
            self.unsure.append(f"provider of {model!r}")
            return model, "", None, api_base
        if prefix in CUSTOM_PROVIDERS or prefix in self.providers:
            return rest, prefix, None, api_base
        self.unsure.append(f"provider of {model!r}")
        return model, "", None, api_base

    def get_model_info(self, model: str) -> Mapping[str, Any]:
        prefix, _, rest = model.partition("/")
        for key in (model, rest):
            entry = self.cost_map.get(key)
            if isinstance(entry, dict) and entry.get("litellm_provider") == prefix:
                return entry
        self.unknown_prices.add(model)  # LiteLLM's own lookup knows more spellings
        raise LookupError(model)


@cache
def _package_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")  # a top-level package: nothing is imported
    locations = spec.submodule_search_locations if spec is not None else None
    return Path(next(iter(locations))) if locations else None


@cache
def installed_litellm() -> tuple[frozenset[str], dict[str, Any]] | None:
    """(the provider names of LiteLLM's LlmProviders enum, its local model cost map), read
    from the installed package; None when either file is missing or changed shape."""
    root, names = _package_dir(), provider_names()
    if root is None or names is None:
        return None
    try:
        cost_map = json.loads((root / "model_prices_and_context_window_backup.json")
                              .read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(cost_map, dict):
        return None
    return names & PLAIN_PROVIDERS, cost_map


@cache
def provider_names() -> frozenset[str] | None:
    """Every provider of LiteLLM's LlmProviders enum, read from the installed package."""
    root = _package_dir()
    if root is None:
        return None
    try:
        source = (root / "types" / "utils.py").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    body = re.search(r"^class LlmProviders\(str, Enum\):\n((?:    .*\n|\n)+)", source, re.M)
    if body is None:
        return None
    return frozenset(re.findall(r'^    [A-Z0-9_]+ = "([^"]+)"', body.group(1), re.M))


def misspelt_providers(config: ModelsConfig) -> list[Problem]:
    """`crew validate models.yaml`'s provider check, without litellm: a deployment whose
    `provider/` prefix is no provider LiteLLM has but near one (`opnai/gpt-4o`) and that
    nothing else could route (no custom_llm_provider, api_base, or cost-map entry). Other
    unknown providers need litellm itself: the feature's check finds them."""
    names = provider_names()
    found = installed_litellm()
    if names is None or found is None:
        return []
    out = []
    for i, d in enumerate(config.model_list):
        params = d.litellm_params.model_dump()
        model = str(params["model"])
        if any(params.get(k) for k in ("custom_llm_provider", "api_base", "base_url")) or (
                model in found[1] or misspelt_provider(model, names | CUSTOM_PROVIDERS) is None):
            continue
        out.append(unknown_provider(model, f"model_list[{i}].litellm_params.model", None,
                                    names))
    return out


def _typed(values: Mapping[str, Any], allowed: Mapping[str, tuple[type, ...] | type]) -> bool:
    for key, value in values.items():
        kinds = allowed.get(key)
        if kinds is None or not isinstance(value, kinds) or (
                isinstance(value, bool) and bool not in (
                    kinds if isinstance(kinds, tuple) else (kinds,))):
            return False
    return True


def _plain_config(config: ModelsConfig) -> bool:
    """Whether every setting and deployment key is one these files settle."""
    settings = {k: v for k, v in config.litellm_settings.items()
                if k not in IGNORED_LITELLM_SETTINGS}
    if not _typed(settings, SAFE_LITELLM_SETTINGS):
        return False
    rs = config.router_settings
    if not set(rs) <= SAFE_ROUTER_SETTINGS or "os.environ/" in json.dumps(rs, default=str):
        return False
    ids = []
    for d in config.model_list:
        params = d.litellm_params.model_dump()
        if set(d.model_dump()) - {"model_name", "litellm_params", "model_info"}:
            return False
        if not _typed(params, SAFE_PARAMS) or not _typed(d.model_info, SAFE_INFO):
            return False
        ids.append(d.model_info.get("id"))
    given = [i for i in ids if i is not None]
    return len(given) == len(set(given))


def _check_script(path: str) -> object:
    from crew.llm.replay_script import ReplayScript, load_script

    return ReplayScript(load_script(Path(path)), source=path)


def check_offline(config: ModelsConfig, *, base_dir: Path, source: str | None,
                  priced: Iterable[str] = ()) -> ModelTable | None:
    """The ModelTable `LLM(config)` would build (its UserError if that would raise one),
    without importing litellm; None when only litellm can tell (the caller builds `LLM`).
    `priced`: aliases whose prices matter (a USD budget calls them)."""
    found = installed_litellm() if _plain_config(config) else None
    if found is None:
        return None
    from crew.llm.proxy_settings import set_environment

    set_environment(config)  # as LLM does first: deployments may read these variables
    lt = InstalledLitellm(*found)
    try:
        table = ModelTable(config, lt, base=base_dir, source=source,
                           load_script=_check_script, facts=False)
    except UserError:
        if lt.unsure:
            return None
        raise
    if lt.unsure or any(m in lt.unknown_prices for a in priced for m in table.unpriced(a)):
        return None
    return table
