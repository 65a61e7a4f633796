"""A local stand-in for Langfuse's OTLP endpoint, for tests (unit, integration and e2e).

`OTLPReceiver` is a threaded HTTP server on 127.0.0.1 (ephemeral port) that accepts
``POST /api/public/otel/v1/traces``, decodes the OTLP protobuf body (gzip when
Content-Encoding says so) and keeps every span as a plain dict::

    with OTLPReceiver() as rx:
        settings = LangfuseSettings("pk-lf-test", "sk-lf-test", base_url=rx.base_url)
        ...
        spans = rx.spans        # [{"trace_id", "span_id", "parent_span_id", "name",
                                #   "attributes": {...}}, ...]

`SilentPort` listens and never reads nor answers; `closed_port()` returns a port nobody
listens on: the two ways an unreachable Langfuse looks.
"""

from __future__ import annotations

import gzip
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TRACES_PATH = "/api/public/otel/v1/traces"


def _any_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which)


def decode_spans(body: bytes) -> list[dict[str, Any]]:
    """The spans of one OTLP/protobuf ExportTraceServiceRequest body (already un-gzipped)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    spans: list[dict[str, Any]] = []
    for rs in req.resource_spans:
        resource = {kv.key: _any_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append({
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex() or None,
                    "name": s.name,
                    "scope": ss.scope.name,
                    "start_ns": s.start_time_unix_nano,
                    "end_ns": s.end_time_unix_nano,
                    "status_code": int(s.status.code),
                    "attributes": {kv.key: _any_value(kv.value) for kv in s.attributes},
                    "resource": resource,
                })
    return spans


class OTLPReceiver:
    """Threaded OTLP/HTTP trace receiver on 127.0.0.1. Use as a context manager."""

    def __init__(self) -> None:
        # One entry per POST: {"headers": {...}, "gzip": bool, "body": bytes, "spans": [...]}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._got = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.split("?")[0] != TRACES_PATH:
                    self.send_response(404)
                    self.end_headers()
                    return
                is_gzip = (self.headers.get("Content-Encoding") or "").lower() == "gzip"
                try:
                    raw = gzip.decompress(body) if is_gzip else body
                    spans = decode_spans(raw)
                except Exception as exc:
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(str(exc).encode())
                    return
                with receiver._got:
                    receiver.requests.append({"headers": dict(self.headers.items()),
                                              "gzip": is_gzip, "body": raw, "spans": spans})
                    receiver._got.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="otlp-receiver", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to give the Langfuse SDK as base_url / LANGFUSE_BASE_URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def spans(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s for r in self.requests for s in r["spans"]]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` spans arrived (or the timeout); return them all."""
        with self._got:
            self._got.wait_for(
                lambda: sum(len(r["spans"]) for r in self.requests) >= count, timeout)
        return self.spans

    def start(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class SilentPort:
    """A TCP port that accepts connections and never reads or answers (a hung server)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> SilentPort:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def closed_port() -> int:
    """A local port with no listener (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
