"""The tracer facade used by run, patterns, agent, llm and tools.

One `Tracer` per run fans every event out to its sinks — the local event log (always, when a
run dir is given), Langfuse (when configured) and ``crew.sinks`` plugins — after redacting it
once. Observations are context managers; the current one lives in a ContextVar, so it follows
asyncio tasks and concurrent agents nest under the round that started them::

    tracer = Tracer.create(run_id, "Add CSV export", run_dir)
    with tracer.run():
        with tracer.task("t1", pattern="debate", roles=["a", "b"]):
            with tracer.round(1):
                async def turn(role):
                    with tracer.agent(role, 1):
                        with tracer.generation("smart", messages, {"temperature": 0}) as g:
                            g.end(completion)                 # a crew.llm.types.Completion
                        with tracer.tool("read_file", {"path": "x"}) as t:
                            t.end("contents")
                await asyncio.gather(turn("a"), turn("b"))
    tracer.close()            # bounded: <= deadline_s even when Langfuse is unreachable

Tracing never fails a run: sink errors are logged once per sink and swallowed.

Patterns, agents and tools get their tracer explicitly (crew.context.RunContext); the model
layer finds it with `current_tracer()`: the tracer of the observation open around the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from crew.observability.events import EventLogSink
from crew.observability.redact import Redactor
from crew.observability.sinks import RunInfo, TraceSink, load_sinks
from crew.textsafe import safe_data, safe_text

log = logging.getLogger("crew.observability")

Level = Literal["DEBUG", "DEFAULT", "WARNING", "ERROR"]
DEFAULT_MAX_OUTPUT_CHARS = 8000


def trace_id_for(run_id: str) -> str:
    """The Langfuse trace id of a run: deterministic, so `crew resume` continues the trace.

    Equal to ``langfuse.Langfuse.create_trace_id(seed=run_id)``.
    """
    return hashlib.sha256(run_id.encode("utf-8")).digest()[:16].hex()


def slug(text: str) -> str:
    """A tag-friendly, ASCII form of a feature title."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:60] or "feature"


def _new_id() -> str:
    return f"{random.getrandbits(64):016x}"


def _truncate(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float):
        return value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = str(value)
        if len(text) <= limit:
            return value
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [truncated {len(text) - limit} chars]"


class Observation:
    """A started observation: use as a context manager; `end()` may be called inside it."""

    def __init__(self, tracer: Tracer, kind: str, name: str, payload: dict[str, Any]) -> None:
        self.tracer = tracer
        self.kind = kind
        self.name = name
        self.id = _new_id()
        self.parent_id: str | None = None
        self._start_payload = payload
        self._token: tuple[Token[Observation | None], Token[Tracer | None]] | None = None
        self._ended = False

    def __enter__(self) -> Observation:
        parent = self.tracer._current.get()
        self.parent_id = parent.id if parent is not None else None
        # current in its tracer; its tracer current for the model layer (crew.llm) inside
        self._token = (self.tracer._current.set(self), _CURRENT_TRACER.set(self.tracer))
        self.tracer._emit(f"{self.kind}.start", self.id, self.parent_id, self.name,
                          self._start_payload)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._ended:
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                # stopped from outside (a sibling failed, Ctrl-C): not this step's fault
                self._finish({"error": type(exc).__name__, "level": "WARNING"})
            elif exc is not None:
                self._finish({"error": f"{type(exc).__name__}: {exc}", "level": "ERROR"})
            else:
                self._finish({})
        if self._token is not None:
            # ValueError: exited in another context than entered; nothing to restore there.
            with contextlib.suppress(ValueError):
                self.tracer._current.reset(self._token[0])
                _CURRENT_TRACER.reset(self._token[1])
            self._token = None

    def end(self, output: Any = None, *, error: str | None = None, **payload: Any) -> None:
        """Finish with an output (and an error, which sets level ERROR). Idempotent."""
        body: dict[str, Any] = dict(payload)
        if output is not None:
            body["output"] = output
        if error is not None:
            body["error"] = error
            body.setdefault("level", "ERROR")
        self._finish(body)

    def _finish(self, payload: dict[str, Any]) -> None:
        if self._ended:
            return
        self._ended = True
        self.tracer._emit(f"{self.kind}.end", self.id, self.parent_id, self.name, payload)


class UsageLike(Protocol):
    """Token counts of a call (crew.llm.types.Usage fits; observability never imports llm)."""

    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def total_tokens(self) -> int: ...


class CompletionLike(Protocol):
    """A model answer with what it cost (crew.llm.types.Completion fits)."""

    @property
    def usage(self) -> UsageLike: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def model(self) -> str: ...
    @property
    def alias(self) -> str: ...
    @property
    def latency_s(self) -> float: ...
    @property
    def finish_reason(self) -> str | None: ...
    def as_message(self) -> Any: ...


def _is_completion(value: Any) -> bool:
    return hasattr(value, "as_message") and hasattr(value, "usage") and hasattr(value, "cost_usd")


class GenerationObservation(Observation):
    """An LLM call. End it with a `Completion`, or with output, usage and cost."""

    def end(self, output: Any = None, *, error: str | None = None,
            usage: UsageLike | Mapping[str, int] | None = None, cost_usd: float | None = None,
            model: str | None = None, **payload: Any) -> None:
        if _is_completion(output):
            c: CompletionLike = output
            output = c.as_message()
            usage = usage if usage is not None else c.usage
            cost_usd = cost_usd if cost_usd is not None else c.cost_usd
            model = model or c.model or c.alias
            payload.setdefault("latency_s", round(c.latency_s, 4))
            if c.finish_reason:
                payload.setdefault("finish_reason", c.finish_reason)
        if isinstance(usage, Mapping):
            payload["usage"] = dict(usage)
        elif usage is not None:  # a crew.llm.types.Usage
            payload["usage"] = {"input": usage.prompt_tokens, "output": usage.completion_tokens,
                                "total": usage.total_tokens}
        if cost_usd is not None:
            payload["cost_usd"] = cost_usd
        if model:
            payload["model"] = model
        super().end(output, error=error, **payload)


class ToolObservation(Observation):
    """A tool call. Its output is truncated to the tracer's `max_output_chars`."""

    def end(self, output: Any = None, *, error: str | None = None, **payload: Any) -> None:
        super().end(_truncate(output, self.tracer.max_output_chars), error=error, **payload)


class _NoopObservation(GenerationObservation, ToolObservation):
    """What a tracer without sinks hands out: costs nothing, records nothing."""

    def __init__(self) -> None:
        self.id = ""
        self.parent_id = None
        self._ended = True

    def __enter__(self) -> _NoopObservation:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def end(self, output: Any = None, *, error: str | None = None,
            **payload: Any) -> None:
        return None


_NOOP = _NoopObservation()


class Tracer:
    """Fans observations and events out to sinks. Build it with `Tracer.create` or `null`."""

    def __init__(self, info: RunInfo, sinks: Sequence[TraceSink], *,
                 redactor: Redactor | None = None,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
                 langfuse: Any = None) -> None:
        self.info = info
        self.max_output_chars = max_output_chars
        self._sinks = list(sinks)
        self._redact = redactor or Redactor()
        self._langfuse = langfuse  # LangfuseSink | None: closed with a deadline
        self._current: ContextVar[Observation | None] = ContextVar(
            f"crew_trace_{info.run_id}", default=None)
        self._failed: set[int] = set()
        self._closed = False

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        run_id: str,
        feature_title: str,
        run_dir: str | Path | None = None,
        *,
        enabled: bool = True,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        langfuse: Any = None,
        sinks: Iterable[str] | None = None,
        extra_sinks: Sequence[TraceSink] = (),
        secrets: Iterable[str] = (),
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        env: Mapping[str, str] | None = None,
        session_id: str | None = None,
    ) -> Tracer:
        """The tracer of one run.

        - ``run_dir``: where ``events.jsonl`` goes (always written when given).
        - ``enabled=False`` (``--no-trace``) or ``LANGFUSE_TRACING_ENABLED=false``: no Langfuse.
        - ``langfuse``: a `LangfuseSettings` (the crew configures it); default: from the
          environment (LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL/HOST).
        - ``sinks``: names of ``crew.sinks`` plugins (None: every installed one).
        - ``secrets``: extra literal values to redact, on top of secret-looking env vars.
        """
        source = os.environ if env is None else env
        info = RunInfo(run_id=run_id, feature=feature_title,
                       run_dir=Path(run_dir) if run_dir is not None else None,
                       tags=tuple(dict.fromkeys(("crew", slug(feature_title), *tags))),
                       metadata=dict(metadata or {}), session_id=session_id)
        if info.run_dir is not None:
            info.run_dir.mkdir(parents=True, exist_ok=True)
        plugins = load_sinks(sinks, info)  # first: a bad plugin name leaves nothing open
        all_sinks: list[TraceSink] = []
        if run_dir is not None:
            all_sinks.append(EventLogSink(run_dir))
        lf = None
        if enabled and source.get("LANGFUSE_TRACING_ENABLED", "true").strip().lower() != "false":
            from crew.observability.langfuse_sink import LangfuseSettings, LangfuseSink

            settings = langfuse if langfuse is not None else LangfuseSettings.from_env(source)
            if settings is not None:
                t0 = time.monotonic()
                lf = LangfuseSink(settings, info, trace_id=trace_id_for(run_id))
                lf.setup_s = time.monotonic() - t0  # taken out of the final flush's deadline
                all_sinks.append(lf)
                secrets = [*secrets, settings.secret_key]
        all_sinks.extend(plugins)
        all_sinks.extend(extra_sinks)
        return cls(info, all_sinks, redactor=Redactor(secrets, env=source),
                   max_output_chars=max_output_chars, langfuse=lf)

    @classmethod
    def null(cls) -> Tracer:
        """A tracer that records nothing (library use with nothing configured)."""
        return cls(RunInfo(run_id="", feature=""), [])

    # -- state ----------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """True when at least one sink receives events."""
        return bool(self._sinks)

    @property
    def trace_id(self) -> str | None:
        """The Langfuse trace id when this run is traced (and sampled) there."""
        if self._langfuse is not None and self._langfuse.sampled:
            return str(self._langfuse.trace_id)
        return None

    @property
    def trace_url(self) -> str | None:
        """The Langfuse UI address of this run's trace, when it is traced there."""
        return self._langfuse.trace_url if self.trace_id else None

    def current_id(self) -> str | None:
        """Id of the innermost open observation in this context (e.g. for correlation)."""
        cur = self._current.get()
        return cur.id if cur is not None else None

    # -- observations ---------------------------------------------------------------------
    def run(self, input: Any = None) -> Observation:
        """The root `chain` of the run (trace name = the feature, session id = run id)."""
        if not self._sinks:
            return _NOOP
        payload: dict[str, Any] = {"run_id": self.info.run_id, "tags": list(self.info.tags),
                                   "metadata": self.info.metadata}
        if input is not None:
            payload["input"] = input
        if self.trace_id:
            payload["langfuse"] = {"trace_id": self.trace_id, "host": self._langfuse.host,
                                   "url": self.trace_url}
        return Observation(self, "run", self.info.feature, payload)

    def task(self, task_id: str, pattern: str = "", roles: Sequence[str] = (), *,
             title: str = "", input: Any = None) -> Observation:
        """A `chain` per task (pattern and roles in metadata)."""
        if not self._sinks:
            return _NOOP
        return Observation(self, "task", task_id, {
            "task_id": task_id, "title": title, "pattern": pattern, "roles": list(roles),
            "input": input})

    def round(self, n: int, **payload: Any) -> Observation:
        """A `span` per pattern round."""
        if not self._sinks:
            return _NOOP
        return Observation(self, "round", f"round {n}", {"round": n, **payload})

    def agent(self, role: str, turn: int = 0, *, input: Any = None,
              **payload: Any) -> Observation:
        """An `agent` observation per agent turn."""
        if not self._sinks:
            return _NOOP
        return Observation(self, "agent", role, {"role": role, "turn": turn, "input": input,
                                                 **payload})

    def generation(self, model: str, input: Any, params: Mapping[str, Any] | None = None, *,
                   name: str | None = None, **payload: Any) -> GenerationObservation:
        """A `generation` per LLM call: ``model`` is the alias asked for; end() records the
        deployment that answered, output (incl. tool calls), usage and cost."""
        if not self._sinks:
            return _NOOP
        return GenerationObservation(self, "generation", name or model, {
            "model": model, "input": input, "params": dict(params or {}), **payload})

    def tool(self, name: str, input: Any, **payload: Any) -> ToolObservation:
        """A `tool` observation per tool call (level ERROR when ended with an error)."""
        if not self._sinks:
            return _NOOP
        return ToolObservation(self, "tool", name, {"tool": name, "input": input, **payload})

    def event(self, name: str, level: Level = "DEFAULT",
              payload: Mapping[str, Any] | None = None) -> None:
        """A point event: budget warnings, guard stops, gate results…"""
        if not self._sinks:
            return
        body = dict(payload or {})
        body["level"] = level
        self._emit("event", _new_id(), self.current_id(), name, body)

    # -- fan-out --------------------------------------------------------------------------
    def _emit(self, type_: str, id_: str, parent_id: str | None, name: str,
              payload: Mapping[str, Any]) -> None:
        if self._closed:
            return
        try:
            # texts made safe for every sink (crew.textsafe): one lone surrogate from a
            # model must not stop the event log or Langfuse export
            event = {"id": id_, "parent_id": parent_id, "type": type_,
                     "name": safe_text(self._redact.text(name)), "ts": time.time(),
                     "payload": safe_data(self._redact(payload))}
        except Exception as exc:  # a payload that cannot even be redacted; keep the shape
            event = {"id": id_, "parent_id": parent_id, "type": type_, "name": safe_text(name),
                     "ts": time.time(), "payload": {"error": f"unrecordable payload: {exc}"}}
        for sink in self._sinks:
            try:
                sink.on_event(event)
            except Exception as exc:
                self._sink_failed(sink, "on_event", exc)

    def _sink_failed(self, sink: TraceSink, what: str, exc: BaseException) -> None:
        if id(sink) not in self._failed:
            self._failed.add(id(sink))
            log.warning("trace sink %s failed in %s (%s: %s); further errors of this sink "
                        "are not logged", type(sink).__name__, what, type(exc).__name__, exc)

    # -- shutdown -------------------------------------------------------------------------
    def flush(self) -> None:
        """Flush local sinks (Langfuse exports in the background; `close` bounds its flush)."""
        for sink in self._sinks:
            if sink is self._langfuse:
                continue
            try:
                sink.flush()
            except Exception as exc:
                self._sink_failed(sink, "flush", exc)

    def close(self, deadline_s: float = 2.0) -> None:
        """Flush and close every sink. Returns within ~``deadline_s`` even when Langfuse is
        unreachable, the Langfuse sink's setup time included; never raises. Idempotent."""
        if self._closed:
            return
        self._closed = True
        start = time.monotonic()
        for sink in self._sinks:
            try:
                if sink is self._langfuse:
                    continue
                sink.flush()
                sink.close()
            except Exception as exc:
                self._sink_failed(sink, "close", exc)
        if self._langfuse is not None:
            # Langfuse costs the run at most deadline_s in all: importing the SDK and building
            # its client (slow on a busy machine) count against the final flush.
            spent = time.monotonic() - start + self._langfuse.setup_s
            remaining = max(0.1, deadline_s - spent)
            try:
                self._langfuse.close_within(remaining)
            except Exception as exc:
                self._sink_failed(self._langfuse, "close", exc)


def prewarm_langfuse(env: Mapping[str, str] | None = None) -> None:
    """Start importing the Langfuse SDK in the background when Langfuse is configured."""
    source = os.environ if env is None else env
    if (source.get("LANGFUSE_PUBLIC_KEY") and source.get("LANGFUSE_SECRET_KEY")
            and source.get("LANGFUSE_TRACING_ENABLED", "true").strip().lower() != "false"):
        from crew.observability.langfuse_client import prewarm

        prewarm()


# -- the current tracer ----------------------------------------------------------------------
_CURRENT_TRACER: ContextVar[Tracer | None] = ContextVar("crew_current_tracer", default=None)
_NULL: Tracer | None = None


def null_tracer() -> Tracer:
    """The shared tracer that records nothing (the default of a RunContext)."""
    global _NULL
    if _NULL is None:
        _NULL = Tracer.null()
    return _NULL


def current_tracer() -> Tracer:
    """For the model layer: the tracer of the observation open around the caller (or the one
    `use_tracer` installed); a null tracer outside any."""
    tracer = _CURRENT_TRACER.get()
    return tracer if tracer is not None else null_tracer()


@contextlib.contextmanager
def use_tracer(tracer: Tracer) -> Iterator[Tracer]:
    """Make `tracer` the current one for this block (and the asyncio tasks started in it)."""
    token = _CURRENT_TRACER.set(tracer)
    try:
        yield tracer
    finally:
        with contextlib.suppress(ValueError):  # exited in another context than entered
            _CURRENT_TRACER.reset(token)
