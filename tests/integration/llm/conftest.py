"""Fixtures: a stub OpenAI-compatible server and LLMs whose deployments point at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llm_stub_helpers import MakeLLM, deployment

from crew.llm import LLM, Budget, Ledger
from crew.spec.models import ModelsConfig
from crew.testing.stub_server import StubServer


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def make_llm(stub: StubServer) -> MakeLLM:
    """make_llm({"smart": "model-a", "fast": "model-b"}, fallbacks=[...], budget=...)"""

    def make(aliases: dict[str, str] | None = None, *, budget: Budget | None = None,
             ledger: Ledger | None = None, model_info: dict[str, Any] | None = None,
             **router_settings: Any) -> LLM:
        router_settings.setdefault("num_retries", 0)
        cfg = ModelsConfig.model_validate({
            "model_list": [deployment(stub, a, n, model_info=model_info)
                           for a, n in (aliases or {"smart": "model-a"}).items()],
            "router_settings": router_settings})
        return LLM(cfg, budget=budget, ledger=ledger)

    return make
