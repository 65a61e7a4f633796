"""A proxy config's settings applied the way LiteLLM's proxy applies them (ProxyConfig.load_config
in litellm/proxy/proxy_server.py, 1.106.2), minus what crew does itself or never does.

- `environment_variables` (strings, numbers; null skipped) are set unless already set (the
  user's environment wins); the proxy's blocked keys (PATH, LD_PRELOAD, ...) are skipped.
- `os.environ/VAR` is resolved in router_settings and litellm_settings at any depth (the proxy
  resolves every section); an unset variable is a UserError naming the field.
- `litellm_settings: {cache: true, cache_params: {...}}` builds `litellm.Cache(**cache_params)`
  (type redis by default, as in the proxy) and turns on the router's response caching.
- `set_verbose` never sets `litellm.set_verbose` (its prints go to stdout and would corrupt
  `--json`): litellm's loggers go to DEBUG on stderr instead.
- Callbacks and Python import paths (IGNORED_LITELLM_SETTINGS) are not applied: crew traces
  with its own sink and never imports code named in YAML; `crew validate` names them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crew.errors import Problem, UserError
from crew.spec.models import IGNORED_LITELLM_SETTINGS, ModelsConfig

log = logging.getLogger("crew.llm")
ENV_PREFIX = "os.environ/"
# Keys the proxy refuses to take from environment_variables (ProxyConfig._BLOCKED_ENV_KEYS).
BLOCKED_ENV_KEYS = frozenset({
    "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES",
    "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "HOME", "USER", "SHELL", "LOGNAME", "NO_PROXY",
    "no_proxy"})


@dataclass
class ProxySettings:
    router_settings: dict[str, Any]
    litellm_settings: dict[str, Any]


def _resolve(value: Any, where: str, problems: list[Problem], source: str | None,
             pointer: Any) -> Any:
    """`value` with every `os.environ/VAR` string replaced by the variable's value."""
    if isinstance(value, Mapping):
        return {k: (v if pointer(str(k)) else
                    _resolve(v, f"{where}.{k}", problems, source, pointer))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{where}[{i}]", problems, source, pointer)
                for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        var = value[len(ENV_PREFIX):]
        got = os.environ.get(var)
        if got is None:
            problems.append(Problem(f"environment variable {var} is not set", file=source,
                                    field=where, hint=f"export {var}=..."))
        return got
    return value


def set_environment(config: ModelsConfig) -> None:
    """Apply `environment_variables` as the proxy does, without overriding the environment."""
    for key, value in config.environment_variables.items():
        if key in BLOCKED_ENV_KEYS or value is None:
            continue
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            value = os.environ.get(value[len(ENV_PREFIX):])
            if value is None:
                continue
        os.environ.setdefault(key, str(value).lower() if isinstance(value, bool) else
                              str(value))


def verbose_to_stderr() -> None:
    """LiteLLM's debug output on, on stderr (set_verbose's replacement). At DEBUG litellm also
    prints a rich table of each redis connection to stdout: that one becomes a log line
    (without the redis package there is no such table, and nothing to patch)."""
    from crew.llm._litellm import LITELLM_LOGGERS

    for name in LITELLM_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        from litellm import _redis
    except ImportError:  # litellm._redis imports redis, an optional package (crew[cache])
        return
    masked = getattr(_redis, "_redis_kwargs_for_logging", None)

    def _log_redis_config(redis_kwargs: dict[str, Any]) -> None:
        shown = masked(redis_kwargs) if masked else {}
        logging.getLogger("LiteLLM").debug("redis connection: %s", sorted(shown))

    _redis._pretty_print_redis_config = _log_redis_config


def apply_proxy_settings(lt: Any, config: ModelsConfig, source: str | None) -> ProxySettings:
    """Set the environment and litellm's module settings; return the resolved router settings."""
    from litellm.types.router import holds_secret_pointer

    set_environment(config)
    problems: list[Problem] = []
    router = _resolve(config.router_settings, "router_settings", problems, source,
                      holds_secret_pointer)
    used = {k: v for k, v in config.litellm_settings.items()
            if k not in IGNORED_LITELLM_SETTINGS}
    settings = _resolve(used, "litellm_settings", problems, source, holds_secret_pointer)
    if problems:
        raise UserError("", problems=problems)
    lt.cache = None  # module-global: a previous config's cache must not linger
    if settings.get("cache") is True:
        lt.cache = _build_cache(settings, source)
        router.setdefault("cache_responses", True)
    elif settings.get("cache") not in (False, None):
        raise UserError("cache must be true or false (settings go in cache_params)",
                        file=source, field="litellm_settings.cache")
    for key, value in settings.items():
        if key in ("cache", "cache_params"):
            continue
        if key == "set_verbose":
            if value:
                verbose_to_stderr()
        elif hasattr(lt, key):
            setattr(lt, key, value)
        else:
            log.warning("models config: litellm has no setting %r; ignored", key)
    if router.get("set_verbose"):
        verbose_to_stderr()
    lt.set_verbose = False  # its print() calls write to stdout
    return ProxySettings(router, settings)


def _build_cache(settings: Mapping[str, Any], source: str | None) -> Any:
    """`Cache(**cache_params)` as the proxy builds it: redis by default, and with no
    cache_params at all, REDIS_HOST / REDIS_PORT / REDIS_PASSWORD from the environment."""
    import importlib.util

    from litellm.caching.caching import Cache

    if any(importlib.util.find_spec(m) is None for m in ("fastapi", "soundfile")):
        raise UserError("LiteLLM's cache needs its proxy extra (a cache hit imports proxy code)",
                        file=source, field="litellm_settings.cache",
                        hint="pip install 'crew[cache]'")
    params = dict(settings.get("cache_params") or {})
    if not params:
        params = {k: v for k, v in (("host", os.environ.get("REDIS_HOST")),
                                    ("port", os.environ.get("REDIS_PORT")),
                                    ("password", os.environ.get("REDIS_PASSWORD"))) if v}
    params.setdefault("type", "redis")
    try:
        return Cache(**params)
    except ImportError as e:
        raise UserError(f"the {params['type']} cache needs {e.name or 'a package'}",
                        file=source, field="litellm_settings.cache_params",
                        hint="pip install 'crew[cache]', or cache_params: {type: local}") from None
    except (TypeError, ValueError) as e:
        raise UserError(f"LiteLLM rejected cache_params: {e}", file=source,
                        field="litellm_settings.cache_params",
                        hint="e.g. {type: redis, host: os.environ/REDIS_HOST} or {type: local}"
                        ) from None
