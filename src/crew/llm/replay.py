"""The `replay` LiteLLM custom provider: a script file answers through the real Router path.

A deployment in models.yaml uses it like this::

    model_list:
      - model_name: smart
        litellm_params:
          model: replay/demo                # replay/<name>; <name> is the `model` match key
          replay_script: replay/demo.yaml   # relative to the models file
          input_cost_per_token: 0.000003    # optional: makes the demo's costs non-zero

Routing, retries, fallbacks, usage and cost all run LiteLLM's own code; only the model is
replaced. The script format is documented in crew.llm.replay_script. Which answer is served is
decided by the caller's CallContext, which crew.llm.LLM passes in `metadata["crew"]`, together
with a session id so two LLM objects in one process never share a script's progress, and a
call id: a mismatch is recorded per call in the session, so crew.llm.LLM raises it even when
the Router fell back to another deployment (a scripting mistake is never silently answered by
a fallback; scripted `error:` entries do fall back). Once a call has missed, every replay
deployment refuses it without consuming an entry.

Only crew.llm._litellm imports this module (it imports litellm).
"""

from __future__ import annotations

import itertools
import json
import threading
import weakref
from pathlib import Path
from typing import Any

from crew.llm._litellm import import_litellm
from crew.llm.replay_script import (
    ReplayEntry,
    ReplayMismatchError,
    ReplayScript,
    asked_from,
    load_script,
)
from crew.llm.types import estimate_tokens

litellm: Any = import_litellm()  # typed loosely: crew only touches its documented surface
CustomLLM: Any = litellm.CustomLLM

PROVIDER = "replay"


class ReplayMiss(litellm.BadRequestError):  # type: ignore[misc]
    """Carries a ReplayMismatchError through the Router (a 400). The Router may still retry
    or fall back on it; crew.llm.LLM raises the session's recorded mismatch instead."""

    def __init__(self, error: ReplayMismatchError, model: str) -> None:
        super().__init__(message=f"crew replay: {error}", model=model, llm_provider=PROVIDER)
        self.crew_error = error


class ReplaySession:
    """The replay progress of one crew.llm.LLM: one ReplayScript per script path."""

    def __init__(self) -> None:
        self.scripts: dict[str, ReplayScript] = {}
        self.misses: dict[str, ReplayMismatchError] = {}  # call id → first mismatch
        self._lock = threading.Lock()

    def script(self, path: str) -> ReplayScript:
        s = self.scripts.get(path)
        if s is None:
            with self._lock:
                s = self.scripts.get(path)
                if s is None:
                    s = ReplayScript(load_script(Path(path)), source=path)
                    self.scripts[path] = s
        return s


_sessions: dict[str, ReplaySession] = {}
_default_session = ReplaySession()  # for Router calls made without crew.llm.LLM
_ids = itertools.count(1)


def new_session(owner: object) -> tuple[str, ReplaySession]:
    """A session that lives as long as `owner` (an LLM)."""
    sid = f"s{next(_ids)}"
    session = _sessions[sid] = ReplaySession()
    weakref.finalize(owner, _sessions.pop, sid, None)
    return sid, session


def _error_for(entry: ReplayEntry, model: str) -> Exception:
    msg = f"replay: scripted {entry.error} (entry #{entry.index})"
    kinds = {"rate_limit": "RateLimitError", "timeout": "Timeout", "auth": "AuthenticationError",
             "context_window": "ContextWindowExceededError", "server": "InternalServerError"}
    cls = getattr(litellm, kinds.get(entry.error or "", "InternalServerError"))
    err: Exception = cls(message=msg, model=model, llm_provider=PROVIDER)
    return err


class ReplayProvider(CustomLLM):  # type: ignore[misc]
    """Serves `replay/<name>` deployments from their `replay_script`."""

    def _answer(self, model: str, messages: list[Any], optional_params: dict[str, Any],
                litellm_params: dict[str, Any] | None) -> Any:
        metadata = (litellm_params or {}).get("metadata") or {}
        crew_ctx = metadata.get("crew") or {}
        session = _sessions.get(crew_ctx.get("session", ""), _default_session)
        call = str(crew_ctx.get("call") or "")
        earlier = session.misses.get(call) if call else None
        if earlier is not None:  # a retry or fallback of a call that already missed
            raise ReplayMiss(earlier, model)
        path = optional_params.get("replay_script")
        try:
            if not path:
                raise ReplayMismatchError(
                    f"model replay/{model} has no replay_script",
                    hint="add `replay_script: path.yaml` to its litellm_params")
            asked = asked_from(crew_ctx, model=model, alias=metadata.get("model_group") or "")
            entry = session.script(str(path)).take(asked)
        except ReplayMismatchError as e:
            if call:
                session.misses.setdefault(call, e)
            raise ReplayMiss(e, model) from None
        if entry.error:
            raise _error_for(entry, model)
        message: dict[str, Any] = {"role": "assistant", "content": entry.content}
        if entry.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in entry.tool_calls]
        if entry.usage is not None:
            prompt, completion = entry.usage.prompt_tokens, entry.usage.completion_tokens
        else:
            # crew's ~4 chars/token estimate: litellm.token_counter would load a tokenizer
            # (+40 MB) for a model that only replays
            prompt = estimate_tokens(json.dumps(messages, default=str))
            out = (entry.content or "") + "".join(c.name + c.arguments for c in entry.tool_calls)
            completion = estimate_tokens(out) if out else 0
        return litellm.ModelResponse(
            model=f"{PROVIDER}/{model}",
            choices=[{"index": 0, "message": message,
                      "finish_reason": "tool_calls" if entry.tool_calls else "stop"}],
            usage={"prompt_tokens": prompt, "completion_tokens": completion,
                   "total_tokens": prompt + completion},
        )

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        return self._answer(model, messages, kwargs.get("optional_params") or {},
                            kwargs.get("litellm_params"))

    async def acompletion(self, model: str, messages: list[Any], *args: Any,
                          **kwargs: Any) -> Any:
        return self._answer(model, messages, kwargs.get("optional_params") or {},
                            kwargs.get("litellm_params"))


def register_replay_provider(lt: Any) -> None:
    """Add the replay provider to litellm.custom_provider_map (idempotent)."""
    current = list(getattr(lt, "custom_provider_map", None) or [])
    if not any(item.get("provider") == PROVIDER for item in current):
        current.append({"provider": PROVIDER, "custom_handler": ReplayProvider()})
        lt.custom_provider_map = current
        lt.utils.custom_llm_setup()
