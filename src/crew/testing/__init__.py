"""Helpers for testing crew code (yours and ours) offline.

ScriptedLLM (crew.testing.scripted): a ChatModel answering from a script, recording calls.
StubServer, StubReply (crew.testing.stub_server): a local OpenAI-compatible HTTP server.
The pytest plugin (crew.testing.pytest_plugin) provides the `no_llm_network` fixture.

Names load lazily: pytest imports this package for the plugin, which must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crew.testing.scripted import RecordedCall, ScriptedLLM
    from crew.testing.stub_server import RecordedRequest, StubReply, StubServer

__all__ = ["RecordedCall", "RecordedRequest", "ScriptedLLM", "StubReply", "StubServer"]

_WHERE = {"ScriptedLLM": "scripted", "RecordedCall": "scripted", "StubServer": "stub_server",
          "StubReply": "stub_server", "RecordedRequest": "stub_server"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"crew.testing.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'crew.testing' has no attribute {name!r}")
