"""The one place crew imports litellm: offline cost map, quiet logging, replay provider."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import Any

_lock = threading.Lock()  # held for the whole import: never taken by `prewarm`'s caller
_prewarm_lock = threading.Lock()  # guards _prewarm only
_litellm: Any = None
_prewarm: list[threading.Thread] = []
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
# What litellm 1.106.2 imports lazily on the first request (found with `python -X importtime`
# and sys.modules before/after one Router call): its OTel logger, the proxy's file-id helpers, the default tiktoken encoding, and for an HTTP
# deployment the OpenAI client's resources. Imported by `prewarm` so no request pays for them.
FIRST_REQUEST_MODULES = (
    "litellm.integrations.otel.logger",
    "litellm.proxy.openai_files_endpoints.common_utils",
    "litellm.llms.vertex_ai.vertex_ai_partner_models.anthropic.transformation",
    "litellm.llms.openai.chat.gpt_audio_transformation",
)
# litellm's token counter's default encoding (tiktoken's cl100k table, ~0.3 s): loaded by a
# budgeted call's exact prompt count (crew.llm.accounting), not by a request
COUNTING_MODULES = ("litellm.litellm_core_utils.default_encoding",)
HTTP_REQUEST_MODULES = ("litellm.llms.openai.openai", "openai.resources.chat", "jiter",
                        "openai.lib.streaming.chat")  # +8 MB: only for HTTP deployments
# What building the Router and routing the first request import, and the pydantic models
# litellm and openai complete on first use (`defer_build`): ~0.5 s of CPU inside the run
# otherwise. Found by hooking pydantic's model completion and sys.modules around one
# `LLM(...)` + request; tests/integration/llm/test_prewarm.py keeps the lists complete.
ROUTER_MODULES = ("litellm._service_logger", "litellm.integrations.prometheus_services",
                  "litellm.litellm_core_utils.logging_callback_manager",
                  "litellm.router_utils.baseline_request",
                  "litellm.llms.openai_like.dynamic_config",
                  "litellm.llms.litellm_proxy.chat.transformation")
FIRST_USE_MODELS = ("litellm.types.router:LiteLLM_Params", "litellm.types.router:ModelInfo",
                    "litellm.types.router:Deployment", "litellm.types.router:GenericLiteLLMParams",
                    "litellm.types.router:ModelGroupInfo", "litellm.types.utils:Message",
                    "litellm.types.utils:Choices", "litellm.types.utils:Usage",
                    "litellm.types.utils:ModelResponse",
                    "litellm.types.services:ServiceLoggerPayload")
HTTP_MODELS = ("openai.types.chat.chat_completion_message:ChatCompletionMessage",
               "openai.types.chat.chat_completion:Choice",
               "openai.types.chat.chat_completion:ChatCompletion")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (never stdout)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def import_litellm() -> Any:
    """`import litellm` as crew wants it: the offline cost map, and no `.env` read from the
    working directory (litellm loads one at import unless LITELLM_MODE is set; crew takes
    keys from the environment only, so what a run sees never depends on the cwd or on when
    the import happened). The caller's own LITELLM_MODE is respected and left as it was."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # no sys.modules shortcut: while another thread (prewarm) imports litellm, `import` waits
    # for it to finish, where sys.modules already holds the half-initialised module
    mode = os.environ.get("LITELLM_MODE")
    if mode is None:
        os.environ["LITELLM_MODE"] = "PRODUCTION"
    try:
        import litellm
    finally:
        if mode is None:
            os.environ.pop("LITELLM_MODE", None)
    return litellm


def _logs_to_stderr() -> None:
    """litellm's log handler writes records below WARNING to stdout (which carries `--json`):
    give its loggers one plain stderr handler with the same filters and format instead."""
    for logger in logging.Logger.manager.loggerDict.values():
        if not isinstance(logger, logging.Logger) or not logger.name.startswith("LiteLLM"):
            continue
        for h in list(logger.handlers):
            if isinstance(h, logging.StreamHandler) and type(h) not in (
                    logging.StreamHandler, _StderrHandler):
                plain = _StderrHandler()
                plain.setLevel(h.level)
                plain.setFormatter(h.formatter)
                for f in h.filters:
                    plain.addFilter(f)
                logger.removeHandler(h)
                logger.addHandler(plain)


def load_litellm() -> Any:
    """Import and configure litellm once; returns the module.

    Sets LITELLM_LOCAL_MODEL_COST_MAP first (no network at import), silences litellm's own
    loggers and stdout hints (they can carry request details) unless the user asked for them
    with LITELLM_LOG, and registers the `replay` custom provider.
    """
    global _litellm
    if threading.current_thread() not in _prewarm:
        for warm in list(_prewarm):  # one importer at a time, never two in litellm's imports
            warm.join()
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is not None:
            return _litellm
        litellm = import_litellm()
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        # crew never sends litellm's proxy-only `no-log` flag; honouring it makes every
        # success callback check the proxy's callback-disabling headers, which imports the
        # proxy's hooks (+23 MB, ~0.4 s) on the first call
        litellm.global_disable_no_log_param = True
        if not os.environ.get("LITELLM_LOG"):
            for name in LITELLM_LOGGERS:
                logging.getLogger(name).setLevel(logging.CRITICAL)
        _logs_to_stderr()
        from crew.llm.replay import register_replay_provider

        register_replay_provider(litellm)
        from crew.llm._openai_lazy import defer_resources_init

        defer_resources_init()  # the OpenAI client's first chat request loads chat alone
        atexit.register(_quick_teardown)
        _litellm = litellm
        return litellm


def _quick_teardown() -> None:
    """At interpreter exit, after the other exit handlers: move every live object to the
    permanent generation, so the final collections skip litellm's ~100k objects. A library
    user's process otherwise spends ~1 s (5 s on a loaded machine) leaving after its work is
    done; objects are still freed by reference counting, as before."""
    import gc

    gc.freeze()



def _complete_models(names: tuple[str, ...]) -> None:
    import importlib

    for name in names:
        module, _, cls = name.partition(":")
        getattr(importlib.import_module(module), cls).model_rebuild()


def _warm(after: threading.Thread | None, modules: tuple[str, ...],
          models: tuple[str, ...], first_use: bool) -> None:
    import importlib

    if after is not None:
        after.join()
    try:
        litellm = load_litellm()
        for name in modules:
            importlib.import_module(name)
        _complete_models(models)
        if first_use:
            # the provider-config table every first request builds (imports ~20 provider
            # modules); a lookup builds it once for the process
            litellm.ProviderConfigManager.get_provider_chat_config(
                model="gpt-4o", provider=litellm.LlmProviders.OPENAI)
    except Exception:  # the caller's own import reports any real problem
        pass


_STAGES = ((FIRST_REQUEST_MODULES + ROUTER_MODULES, FIRST_USE_MODELS, True),
           (HTTP_REQUEST_MODULES, HTTP_MODELS, False))
_warmed: set[int] = set()  # stages `warm_first_use` ran in this thread's process
_load_on_import = True  # False: the CLI, whose prewarm thread loads litellm


def defer_to_prewarm() -> None:
    """The CLI's choice: importing crew.llm.client loads nothing; litellm is imported by a
    `prewarm` thread, overlapping what the command does first, or by `LLM(...)`."""
    global _load_on_import
    _load_on_import = False


def load_on_import() -> None:
    """Run at the end of crew.llm.client's import: a library user's `from crew.llm import
    LLM` (or `from crew import LLM`) imports litellm and what its first request loads lazily
    (the OTel logger, the proxy's file-id helpers, provider configs, deferred pydantic models,
    the OpenAI client's chat resources) as part of the user's imports, so `LLM(config)` and
    the first request pay none of it. Not in the CLI (`defer_to_prewarm`) nor when a
    `prewarm` thread was started (it does the same in the background). A failing import is
    left for `LLM(...)` to report."""
    with _prewarm_lock:
        if not _load_on_import or _prewarm:
            return
    try:
        load_litellm()
    except Exception:
        return
    warm_first_use(http=True)


def warm_first_use(*, http: bool) -> None:
    """Load now, in the caller's thread, what litellm's first request (`http`: through the
    OpenAI client) would load lazily, unless a `prewarm` thread already did. `LLM(...)` calls
    it before building its Router, so a library user's first request sends at once instead of
    importing ~150 modules first (the CLI's prewarm did this during start-up). Moves that
    time, it does not save it: the saving is `defer_resources_init`."""
    for i, (modules, models, first_use) in enumerate(_STAGES[:2 if http else 1]):
        with _prewarm_lock:
            if len(_prewarm) > i or i in _warmed:
                continue
            _warmed.add(i)
        _warm(None, modules, models, first_use)


def prewarm(*, http: bool = False) -> None:
    """Start importing litellm and what its first request loads (`http`: also the OpenAI
    client an HTTP deployment builds) in a background thread, so the import overlaps what
    the caller does next (loading a spec, preparing git worktrees); `load_litellm` joins it.
    Idempotent, and never waits for an import under way."""
    with _prewarm_lock:
        for i, (modules, models, first_use) in enumerate(_STAGES[:2 if http else 1]):
            if len(_prewarm) > i or i in _warmed:
                continue
            after = _prewarm[-1] if _prewarm else None
            name = "crew-litellm-prewarm" + "+" * i
            extra = COUNTING_MODULES if i == 0 else ()  # the CLI's runs have budgets
            t = threading.Thread(target=_warm, args=(after, modules + extra, models, first_use),
                                 name=name, daemon=True)
            _prewarm.append(t)
            t.start()
