"""Tracing: the tracer facade, sinks (local event log, Langfuse, plugins), redaction and
transcripts. The only package that imports langfuse/opentelemetry — and only when a
Langfuse sink is built; importing this package stays cheap."""

from crew.observability.events import EVENTS_FILE, EventLogSink, read_events
from crew.observability.langfuse_sink import LangfuseSettings, LangfuseSink
from crew.observability.redact import Redactor
from crew.observability.sinks import RunInfo, TraceSink, available_sinks, load_sinks
from crew.observability.tracer import (
    GenerationObservation,
    Observation,
    ToolObservation,
    Tracer,
    current_tracer,
    null_tracer,
    trace_id_for,
    use_tracer,
)
from crew.observability.transcript import render_terminal, summarize, trace_url, write_html

__all__ = [
    "EVENTS_FILE",
    "EventLogSink",
    "GenerationObservation",
    "LangfuseSettings",
    "LangfuseSink",
    "Observation",
    "Redactor",
    "RunInfo",
    "ToolObservation",
    "TraceSink",
    "Tracer",
    "available_sinks",
    "current_tracer",
    "load_sinks",
    "null_tracer",
    "read_events",
    "render_terminal",
    "summarize",
    "trace_id_for",
    "trace_url",
    "use_tracer",
    "write_html",
]
