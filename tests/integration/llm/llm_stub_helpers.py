"""Helpers for the LLM integration tests: stub deployments with known prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crew.llm import LLM
from crew.testing.stub_server import StubServer

IN_PRICE, OUT_PRICE = 2e-6, 8e-6  # usd per token, set on every stub deployment


def deployment(server: StubServer, alias: str, name: str, **extra: Any) -> dict[str, Any]:
    params = {"model": f"openai/{name}", "api_base": server.url, "api_key": "sk-stub-not-a-key",
              "input_cost_per_token": IN_PRICE, "output_cost_per_token": OUT_PRICE}
    info = extra.pop("model_info", None)
    params.update(extra)
    d: dict[str, Any] = {"model_name": alias, "litellm_params": params}
    if info:
        d["model_info"] = info
    return d


MakeLLM = Callable[..., LLM]
