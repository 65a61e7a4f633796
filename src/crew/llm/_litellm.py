"""The one place crew imports litellm: offline cost map, quiet logging, replay provider."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

_lock = threading.Lock()
_litellm: Any = None
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def load_litellm() -> Any:
    """Import and configure litellm once; returns the module.

    Sets LITELLM_LOCAL_MODEL_COST_MAP first (no network at import), silences litellm's own
    loggers and stdout hints (they can carry request details) unless the user asked for them
    with LITELLM_LOG, and registers the `replay` custom provider.
    """
    global _litellm
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is not None:
            return _litellm
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        if not os.environ.get("LITELLM_LOG"):
            for name in _LITELLM_LOGGERS:
                logging.getLogger(name).setLevel(logging.CRITICAL)
        from crew.llm.replay import register_replay_provider

        register_replay_provider(litellm)
        _litellm = litellm
        return litellm
