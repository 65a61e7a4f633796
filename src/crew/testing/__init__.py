"""Helpers for testing crew code (yours and ours) offline.

ScriptedLLM (crew.testing.scripted): a ChatModel answering from a script, recording calls.
StubServer, StubReply (crew.testing.stub_server): a local OpenAI-compatible HTTP server.
ListSink (crew.testing.sinks): a trace sink keeping every event in memory.
OTLPReceiver (crew.testing.otlp_receiver): a local stand-in for Langfuse's OTLP endpoint.
The pytest plugin (crew.testing.pytest_plugin) provides the `no_llm_network` fixture.

Names load lazily: pytest imports this package for the plugin, which must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew._lazy import lazy_exports

if TYPE_CHECKING:
    from crew.testing.otlp_receiver import OTLPReceiver
    from crew.testing.scripted import RecordedCall, ScriptedLLM
    from crew.testing.sinks import ListSink
    from crew.testing.stub_server import RecordedRequest, StubReply, StubServer

__all__ = ["ListSink", "OTLPReceiver", "RecordedCall", "RecordedRequest", "ScriptedLLM", "StubReply",
           "StubServer"]

_WHERE = {"ScriptedLLM": "scripted", "RecordedCall": "scripted", "StubServer": "stub_server",
          "StubReply": "stub_server", "RecordedRequest": "stub_server", "ListSink": "sinks",
          "OTLPReceiver": "otlp_receiver"}

__getattr__ = lazy_exports(__name__, {k: f"crew.testing.{m}" for k, m in _WHERE.items()})
