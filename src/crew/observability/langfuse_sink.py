"""The Langfuse sink: maps crew's events onto Langfuse observations (OTLP, in the background).

Only this module and `langfuse_client` (settings, the SDK client shared per key) import langfuse
and opentelemetry, and only when a sink is built. It uses the
SDK's public API common to langfuse >=4.7,<6 (Langfuse(tracer_provider=…), start_observation
with as_type, propagate_attributes, update, end, create_event, flush, shutdown) and its own
TracerProvider, so a host application's global provider is never taken over. Exporting never
blocks a run; `close_within` bounds the final flush; export errors are logged once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from crew.observability.langfuse_client import (
    LangfuseSettings,
    SharedClient,
    acquire_client,
    release_client,
)
from crew.observability.sinks import RunInfo

if TYPE_CHECKING:
    from opentelemetry.context import Context

__all__ = ["LangfuseSettings", "LangfuseSink", "root_span_id_for"]

log = logging.getLogger("crew.observability")

Level = Literal["DEBUG", "DEFAULT", "WARNING", "ERROR"]
_AS_TYPE = {"run": "chain", "task": "chain", "round": "span", "agent": "agent",
            "generation": "generation", "tool": "tool"}


def _ascii(text: str, limit: int = 200) -> str:
    """Langfuse's propagated attributes must be US-ASCII and at most 200 characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return folded[:limit]


def root_span_id_for(run_id: str) -> str:
    """The run's root observation id: derived from the run id, so `crew resume` re-creates
    the same root and the observations of every session hang under one parentless root."""
    digest = hashlib.sha256(f"crew-root:{run_id}".encode()).hexdigest()
    return digest[:16] if int(digest[:16], 16) else "0000000000000001"


class LangfuseSink:
    """A TraceSink exporting one run to Langfuse as one trace (session id = run id)."""

    def __init__(self, settings: LangfuseSettings, info: RunInfo, *, trace_id: str) -> None:
        self.settings = settings
        self.setup_s = 0.0  # time the run waited for this sink to be built (set by the tracer)
        self.trace_id = trace_id
        self.root_span_id = root_span_id_for(info.run_id)
        self.host = settings.base_url
        self._info = info
        self._obs: dict[str, Any] = {}
        self._root: Any = None
        self._lock = threading.Lock()
        self._closed = False
        # OTel's TraceIdRatioBased decision, computed without importing OpenTelemetry
        rate = settings.sample_rate
        self.sampled: bool = rate >= 1.0 or (
            int(trace_id, 16) & ((1 << 64) - 1)) < round(rate * (1 << 64))
        # Importing the SDK and building its client take seconds on a busy machine: done in
        # the background; events wait in a queue (with their times) and are replayed.
        self._pending: list[tuple[dict[str, Any], int]] | None = []
        self._shared: SharedClient | None = None
        self._init_error: BaseException | None = None
        self._ready = threading.Event()
        self._init_thread = threading.Thread(target=self._init, name="crew-langfuse-init",
                                             daemon=True)
        self._init_thread.start()

    def _init(self) -> None:
        try:
            from langfuse import propagate_attributes
            from opentelemetry import context as otel_context

            shared = acquire_client(self.settings)
            info = self._info
            # A clean context (no host span, no host baggage) carrying the trace-level
            # attributes; every observation is started inside it, whatever thread emits.
            token = otel_context.attach(otel_context.Context())
            try:
                meta = {k: _ascii(str(v)) for k, v in info.metadata.items()
                        if isinstance(v, str | int | float) and k.isidentifier()}
                with propagate_attributes(session_id=_ascii(info.session_id or info.run_id),
                                          trace_name=_ascii(info.feature) or "crew run",
                                          tags=[_ascii(t) for t in info.tags],
                                          metadata={**meta, "run_id": _ascii(info.run_id)}):
                    base: Context = otel_context.get_current()
            finally:
                otel_context.detach(token)
        except Exception as exc:
            self._init_error = exc
            log.warning("Langfuse tracing is off for this run: %s", exc)
            with self._lock:
                self._pending = None
                self._closed = True
            self._ready.set()
            return
        with self._lock:
            self._ctx_mod, self._base, self._shared = otel_context, base, shared
            self._client = shared.client
            pending, self._pending = self._pending or [], None
            for event, at in pending:
                self._dispatch(event, at)
        self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the SDK client is built (tests; close waits within its deadline)."""
        return self._ready.wait(timeout)

    @property
    def trace_url(self) -> str:
        """The trace in the Langfuse UI."""
        if self.settings.project_id:
            return f"{self.host}/project/{self.settings.project_id}/traces/{self.trace_id}"
        return f"{self.host}/trace/{self.trace_id}"

    # -- TraceSink ------------------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        if self._closed:
            return
        with self._lock:
            if self._pending is not None:
                self._pending.append((event, time.time_ns()))
                return
            self._dispatch(event, None)

    def _dispatch(self, event: dict[str, Any], at: int | None) -> None:
        """Map one event (under the lock); `at` is its time when replayed from the queue."""
        if self._closed and at is None:
            return
        type_ = event["type"]
        token = self._ctx_mod.attach(self._base)
        try:
            if type_.endswith(".start"):
                self._start(type_[:-6], event)
                if at is not None:  # the SDK has no start time parameter: set the span's
                    span = getattr(self._obs.get(event["id"]), "_otel_span", None)
                    if span is not None and hasattr(span, "_start_time"):
                        span._start_time = at
            elif type_.endswith(".end"):
                self._end(type_[:-4], event, at)
            elif type_ == "event":
                self._point(event)
        finally:
            self._ctx_mod.detach(token)

    def flush(self) -> None:
        """Exports run in the background; `close_within` bounds the final flush."""

    def close(self) -> None:
        self.close_within(2.0)

    def close_within(self, deadline_s: float) -> None:
        """End what is still open, flush, release the client; returns within the deadline."""
        start = time.monotonic()
        if not self._ready.wait(deadline_s):
            with self._lock:
                self._closed = True  # the client, once built, is released in the background
            threading.Thread(target=self._release_late, daemon=True).start()
            log.warning("Langfuse's SDK was not ready within %.1f s; this run's trace is not "
                        "sent", deadline_s)
            return
        with self._lock:
            if self._closed:  # closed already, or the SDK failed to start
                return
            self._closed = True
            leftovers = list(self._obs.values())
            self._obs.clear()
        for obs in reversed(leftovers):
            try:
                obs.update(level="WARNING", status_message="not ended (run interrupted?)")
                obs.end()
            except Exception:
                pass
        assert self._shared is not None
        remaining = max(0.1, deadline_s - (time.monotonic() - start))
        if not release_client(self.settings, self._shared, remaining):
            log.warning("Langfuse did not accept the trace within %.1f s (%s); unsent "
                        "observations are dropped", deadline_s, self.host)

    def _release_late(self) -> None:
        self._ready.wait()
        if self._shared is not None:
            release_client(self.settings, self._shared, 0.1)

    # -- mapping --------------------------------------------------------------------------
    def _parent(self, event: dict[str, Any]) -> Any:
        parent_id = event.get("parent_id")
        return (self._obs.get(parent_id) if parent_id else None) or self._root

    def _start(self, kind: str, event: dict[str, Any]) -> None:
        p: dict[str, Any] = dict(event["payload"])
        name: str = event["name"]
        kwargs: dict[str, Any] = {"name": name, "as_type": _AS_TYPE.get(kind, "span")}
        if kind == "run":
            kwargs["input"] = p.pop("input", None) or {"feature": name}
            p.pop("langfuse", None)
        elif kind == "task":
            kwargs["input"] = p.pop("input", None) or p.get("title") or None
        elif kind == "generation":
            kwargs["input"] = p.pop("input", None)
            kwargs["model"] = p.pop("model", None)
            kwargs["model_parameters"] = _map_values(p.pop("params", {}) or {})
        else:
            kwargs["input"] = p.pop("input", None)
            # the name already says these
            p.pop({"tool": "tool", "agent": "role"}.get(kind, ""), None)
        kwargs["metadata"] = p or None
        parent = self._parent(event)
        ids = self._shared.ids if self._shared is not None else None
        if parent is not None:
            obs = parent.start_observation(**kwargs)
        elif kind == "run" and ids is not None:
            # A true root: no parent at all, with the trace id and span id of this run (the
            # SDK's trace_context would invent a parent id that no span carries).
            ids.seed(int(self.trace_id, 16), int(self.root_span_id, 16))
            obs = self._client.start_observation(**kwargs)
        else:
            obs = self._client.start_observation(trace_context=self._under_root(), **kwargs)
        if kind == "run" and self._root is None:
            self._root = obs
        self._obs[event["id"]] = obs

    def _end(self, kind: str, event: dict[str, Any], at: int | None = None) -> None:
        obs = self._obs.pop(event["id"], None)
        if obs is None:
            return
        p: dict[str, Any] = dict(event["payload"])
        kwargs: dict[str, Any] = {}
        if "output" in p:
            kwargs["output"] = p.pop("output")
        error = p.pop("error", None)
        level = p.pop("level", None)
        if error is not None:
            kwargs["status_message"] = str(error)
            level = level or "ERROR"
        if level:
            kwargs["level"] = level
        if kind == "generation":
            if p.get("model"):
                kwargs["model"] = p.pop("model")
            usage = p.pop("usage", None)
            if isinstance(usage, dict):
                kwargs["usage_details"] = {k: int(v) for k, v in usage.items()
                                           if isinstance(v, int | float)}
            cost = p.pop("cost_usd", None)
            if isinstance(cost, int | float):
                kwargs["cost_details"] = {"total": float(cost)}
        if p:
            kwargs["metadata"] = p
        if kwargs:
            obs.update(**kwargs)
        obs.end(end_time=at)
        if obs is self._root:
            self._root = None

    def _under_root(self) -> Any:
        """A trace context whose parent is the run's root observation (exported by this
        session or an earlier one of the same run)."""
        if self._shared is None or self._shared.ids is None:  # a host-owned client: its ids are not ours to choose
            return {"trace_id": self.trace_id}
        return {"trace_id": self.trace_id, "parent_span_id": self.root_span_id}

    def _point(self, event: dict[str, Any]) -> None:
        p = dict(event["payload"])
        raw = p.pop("level", None)
        level: Level = raw if raw in ("DEBUG", "WARNING", "ERROR") else "DEFAULT"
        parent = self._parent(event)
        if parent is None:  # e.g. run_error, after the root ended: still under the root
            self._client.create_event(trace_context=self._under_root(),
                                      name=event["name"], input=p or None, level=level)
        else:
            parent.create_event(name=event["name"], input=p or None, level=level)


def _map_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """Model parameters as Langfuse accepts them (scalars or lists of strings)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if (v is None or isinstance(v, str | int | float | bool)
                or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
            out[k] = v
        else:
            out[k] = str(v)
    return out
