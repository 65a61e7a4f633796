"""The one place crew imports litellm: offline cost map, quiet logging, replay provider."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

_lock = threading.Lock()
_litellm: Any = None
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (never stdout)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


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
            for name in LITELLM_LOGGERS:
                logging.getLogger(name).setLevel(logging.CRITICAL)
        _logs_to_stderr()
        from crew.llm.replay import register_replay_provider

        register_replay_provider(litellm)
        _litellm = litellm
        return litellm
