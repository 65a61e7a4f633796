"""A local OpenAI-compatible chat-completions server for integration tests.

It lets tests exercise LiteLLM's real HTTP path: point a deployment at it with
`litellm_params: {model: openai/<name>, api_base: <server.url>, api_key: anything}`.

    with StubServer() as server:
        server.enqueue(StubReply.text("hello", prompt_tokens=12, completion_tokens=3))
        server.enqueue(StubReply.error(500), model="flaky")   # only for model "flaky"
        server.always(StubReply.rate_limited(retry_after=0), model="busy")
        ...
        assert server.requests[0].body["messages"][0]["content"] == "hi"

Replies are served per model name (the `<name>` in `openai/<name>`) first, then from the shared
queue, then from the model's or the shared `respond` function (it sees the request body), then
from the model's or the shared `always` reply. With nothing scripted the server answers
HTTP 400 naming the model, so a missing script fails fast instead of being retried.

Stdlib only (http.server in a thread, 127.0.0.1, ephemeral port); importing it is cheap.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["RecordedRequest", "StubReply", "StubServer"]


@dataclass(frozen=True)
class StubReply:
    """One scripted answer (or fault). Use the constructors: text, tool_calls, error, ..."""

    content: str | None = ""
    tool_calls: tuple[dict[str, Any], ...] = ()
    prompt_tokens: int = 10
    completion_tokens: int = 5
    finish_reason: str | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    error_message: str = ""
    delay_s: float = 0.0  # on top of the server's latency; a long one makes the client time out
    raw_body: str | None = None  # sent verbatim (e.g. malformed JSON)
    hang_up: bool = False  # close the connection after the headers, before the body

    @classmethod
    def text(cls, content: str | None, *, prompt_tokens: int = 10, completion_tokens: int = 5,
             delay_s: float = 0.0) -> StubReply:
        return cls(content=content, prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens, delay_s=delay_s)

    @classmethod
    def tool_call(cls, *calls: tuple[str, dict[str, Any] | str], content: str | None = None,
                  prompt_tokens: int = 10, completion_tokens: int = 5) -> StubReply:
        """Tool calls given as (name, arguments) pairs; ids are call_0, call_1, ..."""
        tcs = tuple(
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name,
                          "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for i, (name, args) in enumerate(calls)
        )
        return cls(content=content, tool_calls=tcs, prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens, finish_reason="tool_calls")

    @classmethod
    def error(cls, status: int = 500, message: str = "stub: injected server error") -> StubReply:
        return cls(status=status, error_message=message)

    @classmethod
    def rate_limited(cls, retry_after: float = 0) -> StubReply:
        return cls(status=429, error_message="stub: rate limited",
                   headers=(("Retry-After", f"{retry_after:g}"),))

    @classmethod
    def context_too_long(cls) -> StubReply:
        return cls(status=400, error_message=(
            "This model's maximum context length is 8192 tokens. However, your messages resulted "
            "in 9000 tokens. Please reduce the length of the messages."),
            headers=(("x-error-code", "context_length_exceeded"),))

    @classmethod
    def timeout(cls, delay_s: float = 30.0) -> StubReply:
        """Answers only after `delay_s` (or when the server stops): longer than the client waits."""
        return cls(content="too late", delay_s=delay_s)

    @classmethod
    def malformed_json_content(cls, content: str = '{"answer": 42,') -> StubReply:
        """A well-formed HTTP answer whose *content* is broken JSON (for structured output)."""
        return cls(content=content)

    @classmethod
    def empty(cls) -> StubReply:
        return cls(content="")

    @classmethod
    def bad_body(cls, body: str = '{"choices": [') -> StubReply:
        """An HTTP 200 whose body is not JSON at all."""
        return cls(raw_body=body)

    @classmethod
    def closed_mid_answer(cls) -> StubReply:
        """Headers of a 200 sent, then the connection closed before the body."""
        return cls(hang_up=True)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)  # arrival (wall clock: comparable across processes)


@dataclass
class _Script:
    queues: dict[str | None, deque[StubReply]] = field(default_factory=dict)
    always: dict[str | None, StubReply] = field(default_factory=dict)
    responders: dict[str | None, Callable[[dict[str, Any]], StubReply | None]] = field(
        default_factory=dict)

    def next_for(self, model: str, body: dict[str, Any] | None = None) -> StubReply | None:
        for key in (model, None):
            q = self.queues.get(key)
            if q:
                return q.popleft()
        for key in (model, None):
            fn = self.responders.get(key)
            reply = fn(body or {}) if fn is not None else None
            if reply is not None:
                return reply
        for key in (model, None):
            if key in self.always:
                return self.always[key]
        return None


class StubServer:
    """An OpenAI-compatible /v1/chat/completions server on 127.0.0.1 in a background thread."""

    def __init__(self, *, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.requests: list[RecordedRequest] = []
        self._script = _Script()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._n = 0

    # ------------------------------------------------------------------ scripting
    def enqueue(self, *replies: StubReply, model: str | None = None) -> StubServer:
        """Serve these replies once each, in order (for `model` only, or for any model)."""
        with self._lock:
            self._script.queues.setdefault(model, deque()).extend(replies)
        return self

    def always(self, reply: StubReply, *, model: str | None = None) -> StubServer:
        """Serve `reply` whenever nothing is queued (for `model` only, or for any model)."""
        with self._lock:
            self._script.always[model] = reply
        return self

    def respond(self, fn: Callable[[dict[str, Any]], StubReply | None], *,
                model: str | None = None) -> StubServer:
        """Answer with `fn(request body)` whenever nothing is queued (for `model` only, or for
        any model): a model that follows rules, e.g. one that reads its system message. `fn`
        returning None falls through to `always`."""
        with self._lock:
            self._script.responders[model] = fn
        return self

    def pending(self) -> int:
        """Queued replies not served yet."""
        with self._lock:
            return sum(len(q) for q in self._script.queues.values())

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.model == model]

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """The api_base to configure: http://127.0.0.1:<port>/v1"""
        if self._server is None:
            raise RuntimeError("StubServer is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> StubServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="crew-stub-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases replies that are still delaying
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving
    def _answer(self, path: str, body: dict[str, Any], headers: dict[str, str]
                ) -> tuple[int, list[tuple[str, str]], bytes, float]:
        model = str(body.get("model", ""))
        with self._lock:
            self.requests.append(RecordedRequest(path, model, body, headers))
            reply = self._script.next_for(model, body)
            self._n += 1
            n = self._n
        if reply is None:
            msg = f"stub: no scripted reply for model {model!r} (request #{n})"
            return 400, [], _error_body(msg, "invalid_request_error"), 0.0
        delay = self.latency_s + reply.delay_s
        if reply.status != 200:
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            for k, v in reply.headers:
                if k == "x-error-code":
                    kind = v
            return reply.status, list(reply.headers), _error_body(reply.error_message, kind), delay
        if reply.hang_up:
            return 200, [("x-stub-hang-up", "1")], b"", delay
        if reply.raw_body is not None:
            return 200, [], reply.raw_body.encode("utf-8", "surrogatepass"), delay
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = list(reply.tool_calls)
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        completion_tokens = reply.completion_tokens
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(cap, int) and 0 < cap < completion_tokens:  # as a real server would
            completion_tokens, finish = cap, "length"
        payload = {
            "id": f"chatcmpl-stub-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": reply.prompt_tokens,
                      "completion_tokens": completion_tokens,
                      "total_tokens": reply.prompt_tokens + completion_tokens},
        }
        return 200, [], json.dumps(payload).encode(), delay


def _error_body(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()


def _make_handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # One segment per answer: avoids Nagle + delayed-ACK stalls (~40 ms per call).
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, [], _error_body(f"stub: no route {self.path}", "not_found"))
                return
            status, headers, payload, delay = stub._answer(
                self.path, body, {k.lower(): v for k, v in self.headers.items()})
            if delay > 0 and stub._stopping.wait(delay):
                return
            self._send(status, headers, payload)

        def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            if ("x-stub-hang-up", "1") in headers:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self.close_connection = True
                return
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers:
                    self.send_header(k, v)
                self._headers_buffer.append(b"\r\n" + payload)  # type: ignore[attr-defined]
                self.flush_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

    return Handler
