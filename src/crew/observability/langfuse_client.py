"""Langfuse settings and the SDK client behind every sink: one Langfuse client (with crew's
own TracerProvider) per public key, shared by the live sinks of a process, flushed and shut
down by the last one; export errors are logged once. Imports langfuse/opentelemetry lazily."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crew.errors import UserError

if TYPE_CHECKING:
    from langfuse import Langfuse
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("crew.observability")

# Loggers through which OpenTelemetry reports failed exports (once per batch otherwise).
_EXPORT_LOGGERS = ("opentelemetry.exporter.otlp.common.http",
                   "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                   "opentelemetry.sdk._shared_internal")


@dataclass(frozen=True)
class LangfuseSettings:
    """Where and how to export. `from_env` reads the standard LANGFUSE_* variables."""

    public_key: str
    secret_key: str = field(repr=False)
    base_url: str = "http://localhost:3000"
    sample_rate: float = 1.0
    timeout_s: int = 1  # per export request; the SDK takes whole seconds
    project_id: str | None = None  # makes trace URLs direct; else {host}/trace/{id} redirects
    environment: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LangfuseSettings | None:
        """Settings from LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL (or
        LANGFUSE_HOST), LANGFUSE_SAMPLE_RATE, LANGFUSE_TRACING_ENVIRONMENT and
        LANGFUSE_PROJECT_ID; None unless the keys and the host are all set."""
        e = os.environ if env is None else env
        pk, sk = e.get("LANGFUSE_PUBLIC_KEY", ""), e.get("LANGFUSE_SECRET_KEY", "")
        url = e.get("LANGFUSE_BASE_URL", "") or e.get("LANGFUSE_HOST", "")
        if not (pk and sk and url):
            if pk or sk or url:
                log.warning("Langfuse tracing is off: set LANGFUSE_PUBLIC_KEY, "
                            "LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL (or LANGFUSE_HOST)")
            return None
        return cls(public_key=pk, secret_key=sk, base_url=url.rstrip("/"),
                   sample_rate=_sample_rate(e.get("LANGFUSE_SAMPLE_RATE")),
                   project_id=e.get("LANGFUSE_PROJECT_ID") or None,
                   environment=e.get("LANGFUSE_TRACING_ENVIRONMENT") or None)


def _sample_rate(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return 1.0
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise UserError(f"LANGFUSE_SAMPLE_RATE={raw!r} is not a number between 0 and 1",
                        field="LANGFUSE_SAMPLE_RATE", hint="e.g. 0.25 traces one run in four")
    return rate


class _OnceFilter(logging.Filter):
    """Lets the first export error through (reworded), drops the rest."""

    def __init__(self) -> None:
        super().__init__("crew-langfuse-once")
        self.seen = False
        self.users = 0  # sinks whose export may still log

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if self.seen:
            return False
        self.seen = True
        original = record.getMessage()
        record.msg = ("Langfuse export failed (%s); crew keeps running and logs no further "
                      "export errors")
        record.args = (original,)
        record.exc_info = None
        return True


def _seeded_ids() -> Any:
    """An OTel IdGenerator that hands out a chosen (trace id, span id) once, for the run's
    root span, and random ids otherwise; `seed(trace_id, span_id)` arms it for this thread."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class SeededIds(RandomIdGenerator):
        def __init__(self) -> None:
            self._pending = threading.local()

        def seed(self, trace_id: int, span_id: int) -> None:
            self._pending.trace_id, self._pending.span_id = trace_id, span_id

        def generate_trace_id(self) -> int:
            value = getattr(self._pending, "trace_id", None)
            self._pending.trace_id = None
            return value if value is not None else super().generate_trace_id()

        def generate_span_id(self) -> int:
            value = getattr(self._pending, "span_id", None)
            self._pending.span_id = None
            return value if value is not None else super().generate_span_id()

    return SeededIds()


@dataclass
class SharedClient:
    """One Langfuse client (and our TracerProvider) per public key, shared by live sinks."""

    client: Langfuse
    provider: TracerProvider | None  # None when a host application owns the client
    base_url: str
    ids: Any = None  # our provider's id generator (_seeded_ids), None when host-owned
    refs: int = 0


_POOL: dict[str, SharedClient] = {}
_POOL_LOCK = threading.Lock()
_FILTER = _OnceFilter()


def acquire_client(settings: LangfuseSettings) -> SharedClient:
    """The shared client for these settings' key (built on first use); pair with
    `release_client`."""
    from langfuse import Langfuse
    from langfuse._client.resource_manager import LangfuseResourceManager
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    with _POOL_LOCK:
        shared = _POOL.get(settings.public_key)
        if shared is None:
            host_owned = settings.public_key in getattr(LangfuseResourceManager, "_instances", {})
            provider, ids = None, None
            if not host_owned:
                sampler = (TraceIdRatioBased(settings.sample_rate)
                           if settings.sample_rate < 1.0 else None)
                ids = _seeded_ids()
                provider = TracerProvider(resource=Resource.create({"service.name": "crew"}),
                                          sampler=sampler, shutdown_on_exit=False,
                                          id_generator=ids)
            # crew sends no images/audio: skip the SDK's per-observation media scan and its
            # upload thread (documented switch, read once at construction; a user's own
            # setting wins).
            media_default = "LANGFUSE_MEDIA_UPLOAD_ENABLED" not in os.environ
            if media_default:
                os.environ["LANGFUSE_MEDIA_UPLOAD_ENABLED"] = "false"
            try:
                client = Langfuse(public_key=settings.public_key,
                                  secret_key=settings.secret_key, base_url=settings.base_url,
                                  timeout=settings.timeout_s, tracing_enabled=True,
                                  tracer_provider=provider, environment=settings.environment)
            finally:
                if media_default:
                    os.environ.pop("LANGFUSE_MEDIA_UPLOAD_ENABLED", None)
            shared = SharedClient(client, provider, settings.base_url, ids)
            _POOL[settings.public_key] = shared
            _FILTER.seen = False
        elif shared.base_url != settings.base_url:
            log.warning("Langfuse key %s is already exporting to %s in this process; "
                        "%s is ignored", settings.public_key, shared.base_url, settings.base_url)
        shared.refs += 1
        _FILTER.users += 1  # until this sink's final flush is over
        for name in _EXPORT_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        return shared


def release_client(settings: LangfuseSettings, shared: SharedClient, deadline_s: float) -> bool:
    """Flush (and, for the last user, shut down) within the deadline. True if it finished."""
    with _POOL_LOCK:
        shared.refs -= 1
        last = shared.refs <= 0 and shared.provider is not None
        if last:
            _POOL.pop(settings.public_key, None)
            try:  # let a later run in this process build a fresh client (the SDK caches one)
                from langfuse._client.resource_manager import LangfuseResourceManager

                instances = getattr(LangfuseResourceManager, "_instances", {})
                with LangfuseResourceManager._lock:
                    instances.pop(settings.public_key, None)
            except Exception:  # internals moved; the SDK then reuses its cached client
                pass

    def work() -> None:
        try:
            if last:
                shared.client.shutdown()  # unregisters its atexit hook first, then flushes
                if shared.provider is not None:
                    shared.provider.shutdown()
            else:
                shared.client.flush()
        except Exception as exc:
            log.debug("Langfuse flush failed: %s", exc)
        finally:
            with _POOL_LOCK:
                _FILTER.users -= 1
                if _FILTER.users <= 0:  # leave a host's OTel exporter logging as it was
                    for name in _EXPORT_LOGGERS:
                        logging.getLogger(name).removeFilter(_FILTER)

    worker = threading.Thread(target=work, name="crew-langfuse-flush", daemon=True)
    worker.start()
    worker.join(deadline_s)
    return not worker.is_alive()


def prewarm() -> threading.Thread:
    """Import the Langfuse SDK and OpenTelemetry in a daemon thread, so a run that traces
    overlaps that cost with its own start (git, sandbox, litellm)."""

    def work() -> None:
        try:
            import langfuse  # noqa: F401
            from opentelemetry.exporter.otlp.proto.http import trace_exporter  # noqa: F401
            from opentelemetry.sdk import trace  # noqa: F401
        except Exception as exc:  # the sink reports a real problem when it is built
            log.debug("Langfuse prewarm failed: %s", exc)

    thread = threading.Thread(target=work, name="crew-langfuse-import", daemon=True)
    thread.start()
    return thread
