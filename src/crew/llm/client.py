"""`LLM`: crew's one model facade over a LiteLLM Router built from models.yaml.

models.yaml is LiteLLM's proxy config verbatim (model_list, router_settings, litellm_settings,
environment_variables). Roles call a router alias; LiteLLM does routing, retries, fallbacks,
context-window fallbacks, rpm/tpm and cost. crew adds per-call attribution (CallContext →
Ledger), budgets (checked before and after each call), structured output (`ask`) and the
mapping of provider failures into crew's error families. Deployments `replay/<name>` are served
offline from a script (see crew.llm.replay); their `replay_script` path is relative to the
models file.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from crew.errors import ModelBehaviorError, Problem, UserError
from crew.llm._litellm import load_on_import as _load_on_import
from crew.llm.accounting import AccountedModel
from crew.llm.budget import Budget
from crew.llm.deployments import OUT_KEYS
from crew.llm.ledger import Ledger
from crew.llm.model_table import ModelTable
from crew.llm.proxy_settings import apply_proxy_settings
from crew.llm.structured import ask_structured
from crew.llm.types import CallContext, Completion, Message, ToolCall, ToolSpec, Usage
from crew.observability.tracer import current_tracer
from crew.spec.models import ModelsConfig
from crew.textsafe import encodable_data, safe_text

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("crew.llm")
_NO_CONTEXT = CallContext()
ALLOW_ENV = "CREW_ALLOW_MODEL_REQUESTS"
_FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
MALFORMED_RETRIES = 2  # a 200 answer of the wrong shape is asked again this often
# what LiteLLM says when a 200 answer is not JSON or lacks the message it must hold
_UNREADABLE = ("Invalid response object", "Expecting value", "JSONDecodeError",
               "that is not a list", "Empty or invalid response")


class MalformedResponse(ModelBehaviorError):
    """An answer whose shape is unusable (no choices, no message): asked again, then read as
    an empty answer (which callers degrade like any bad answer)."""


def model_requests_allowed(env: Mapping[str, str] | None = None) -> bool:
    """False when `CREW_ALLOW_MODEL_REQUESTS` is 0/false/no/off: then only offline deployments
    (replay/…, mock_response, an api_base on loopback) may be called. Test suites set it."""
    value = (os.environ if env is None else env).get(ALLOW_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """stdout to stderr while litellm prints its debug tables. `redirect_stdout` swaps the
    process-wide sys.stdout: two threads interleaving it (`crew eval` builds one client per
    run, in threads) could leave stdout pointing at stderr for good, so it is serialised."""
    with _STDOUT_LOCK, contextlib.redirect_stdout(sys.stderr):
        yield


class LLM(AccountedModel):
    """The ChatModel agents and patterns call: `complete` and `ask`, by router alias."""

    def __init__(self, config: ModelsConfig, *, base_dir: str | Path | None = None,
                 ledger: Ledger | None = None, budget: Budget | None = None,
                 source: str | None = None, warm: bool = True) -> None:
        """`warm`: load what litellm's first request would load lazily now, before the
        Router is built, unless this module's import or a prewarm thread already did (a
        library user's import does: `_litellm.load_on_import`); False where no call follows
        soon (`crew validate`) or a prewarm thread does it (the CLI)."""
        from crew.llm._litellm import load_litellm
        from crew.llm.replay import new_session

        super().__init__(ledger=ledger, budget=budget)
        self.config = config
        self.source = source
        self._litellm = lt = load_litellm()
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        self._session_id, self._replay = new_session(self)
        self._call_ids = itertools.count(1)
        with _stdout_to_stderr():  # litellm's debug tables print to stdout
            settings = apply_proxy_settings(lt, config, source)
        self._router_settings = settings.router_settings

        table = ModelTable(config, lt, base=base, source=source,
                           load_script=self._replay.script)
        self._deployments, self._alias_deps = table.deployments, table.alias_deps
        self._secrets, self._skipped, model_list = table.secrets, table.skipped, table.model_list
        self._table = table
        from crew.llm._litellm import warm_first_use

        if warm:
            warm_first_use(http=any(not d.model.startswith("replay/")  # as crew.run.launch
                                    for d in self._deployments.values()))
        try:
            with _stdout_to_stderr():
                self.router: Any = lt.Router(model_list=model_list, **self._router_settings)
        except (TypeError, ValueError) as e:
            raise UserError(f"LiteLLM rejected the router config: {e}", file=source,
                            field="router_settings") from None
        except Exception as e:  # e.g. a litellm.BadRequestError about one deployment
            from crew.llm.errors import scrub

            raise UserError(
                "LiteLLM rejected the model_list or router_settings: "
                f"{type(e).__name__}: {scrub((str(e) or '?').splitlines()[0], self._secrets)}",
                file=source,
                hint="check each model_list[i].litellm_params (model: <provider>/<model>, "
                     "e.g. openai/gpt-4o) and router_settings") from None

    @classmethod
    def from_file(cls, path: str | Path, *, ledger: Ledger | None = None,
                  budget: Budget | None = None) -> LLM:
        """Load a models.yaml (LiteLLM proxy config format, `include:` files merged in)."""
        from crew.spec.litellm_config import load_models

        p = Path(path)
        config = load_models(p).spec
        return cls(config, base_dir=p.parent, ledger=ledger, budget=budget, source=str(p))

    @property
    def aliases(self) -> frozenset[str]:
        return self._table.aliases

    def unpriced(self, alias: str) -> list[str]:
        """The models of `alias` with no known price (see ModelTable.unpriced)."""
        return self._table.unpriced(alias)

    def supports_native_schema(self, alias: str) -> bool:
        """Whether every deployment of `alias` takes response_format json_schema."""
        return all(d.native_schema for d in self._alias_deps.get(alias, []))

    def replay_unserved(self) -> dict[str, list[int]]:
        """Script path → indexes of replay entries never served (for tests and demos)."""
        return {p: [e.index for e in s.unserved()] for p, s in self._replay.scripts.items()}

    def unroutable(self, alias: str) -> Problem | None:
        """Why the router has no deployment to call for `alias` (see ModelTable.unroutable)."""
        return self._table.unroutable(alias)

    # ------------------------------------------------------------------ calls
    def _check_alias(self, alias: str) -> None:
        if alias not in self._alias_deps and alias in self._skipped:
            raise UserError("", problems=[self._skipped[alias]])
        if alias not in self._alias_deps:
            from crew.spec.suggest import did_you_mean

            raise UserError(f"unknown model alias {alias!r}{did_you_mean(alias, self.aliases)}",
                            file=self.source, field="model_name",
                            hint="aliases: " + ", ".join(sorted(self.aliases)))

    def _fallback_aliases(self, alias: str, keys: tuple[str, ...] = _FALLBACK_KEYS
                          ) -> list[str]:
        """The aliases router_settings may move `alias`'s calls to: its rules under `keys`,
        then `default_fallbacks`."""
        out: list[str] = []
        settings = self._router_settings
        for key in keys:
            for rule in settings.get(key) or []:
                if isinstance(rule, Mapping) and alias in rule:
                    out += [str(a) for a in rule[alias] or []]
        out += [str(a) for a in settings.get("default_fallbacks") or []]
        return out

    def _check_requests_allowed(self, alias: str, params: Mapping[str, Any]) -> None:
        """Refuse a call that could reach a real provider while CREW_ALLOW_MODEL_REQUESTS=0
        (a call carrying LiteLLM's `mock_response` never reaches one)."""
        if model_requests_allowed() or params.get("mock_response") is not None:
            return
        online = sorted({d.model for a in (alias, *self._fallback_aliases(alias))
                         for d in self._alias_deps.get(a, []) if not d.offline})
        if online:
            raise UserError(
                f"model requests are disabled ({ALLOW_ENV}=0): alias {alias!r} could reach "
                + ", ".join(online), file=self.source, field="model_list",
                hint="use a replay/<name> deployment or an api_base on loopback (e.g. "
                     f"crew.testing.StubServer), or unset {ALLOW_ENV}")

    # ------------------------------------------------------------ the transport hooks
    def _admit(self, alias: str, params: Mapping[str, Any]) -> None:
        if alias not in self._alias_deps:
            self._check_alias(alias)
        self._check_requests_allowed(alias, params)

    def _call_limits(self, alias: str, params: dict[str, Any]) -> tuple[int, float, float]:
        """The call's maximum output (the call's, else what every deployment states, else
        DEFAULT_MAX_OUTPUT — then sent as `max_tokens` so the worst case is real) at the
        alias's dearest deployment's prices."""
        deps = self._alias_deps[alias]
        out = next((int(params[k]) for k in OUT_KEYS if params.get(k)), 0)
        if not out:
            stated = [d.max_output for d in deps if d.max_output]
            out = max(stated) if len(stated) == len(deps) else max(d.default_max for d in deps)
            if not all(d.sends_max for d in deps):
                params["max_tokens"] = out
        pin = max((d.price or (0.0, 0.0))[0] for d in deps)
        pout = max((d.price or (0.0, 0.0))[1] for d in deps)
        return out, pin, pout

    def _count_prompt(self, alias: str, messages: list[Message],
                      tools: list[ToolSpec] | None) -> int:
        model = self._alias_deps[alias][0].model
        return int(self._litellm.token_counter(model=model, messages=messages, tools=tools))

    async def _send(self, alias: str, messages: list[Message], tools: list[ToolSpec] | None,
                    ctx: CallContext, params: dict[str, Any]) -> Completion:
        """The call through the Router; an answer of the wrong shape is asked again, then read
        as an empty answer."""
        call_id = f"c{next(self._call_ids)}"
        crew_meta = {**ctx.__dict__, "session": self._session_id, "call": call_id}
        meta = params.pop("metadata", None)
        params["metadata"] = {**meta, "crew": crew_meta} if meta else {"crew": crew_meta}
        if tools:
            params["tools"] = tools
            # crew sends function tools only: litellm's handler for litellm-proxy MCP
            # tools would import the MCP SDK (+20 MB, ~0.5 s) on the first such call
            params["_skip_mcp_handler"] = True
        # the next request carries only text UTF-8 can encode (see crew.textsafe); texts
        # from models and tools were made safe where they entered
        messages = encodable_data(messages)
        t0 = time.perf_counter()
        for attempt in range(MALFORMED_RETRIES + 1):
            try:
                resp = await self._call_router(alias, messages, params, call_id)
                return self._to_completion(resp, alias, time.perf_counter() - t0)
            except MalformedResponse as e:
                log.warning("%s: %s%s", alias, e, " (asking again)"
                            if attempt < MALFORMED_RETRIES else " (read as an empty answer)")
                current_tracer().event("malformed_answer", "WARNING",
                                       {"alias": alias, "detail": str(e)})
        return Completion(content="", alias=alias, model=alias,
                          latency_s=time.perf_counter() - t0, finish_reason="malformed")

    async def _call_router(self, alias: str, messages: list[Message], params: dict[str, Any],
                           call_id: str) -> Any:
        miss = None
        try:
            try:
                resp = await self.router.acompletion(model=alias, messages=messages, **params)
            finally:
                miss = self._replay.misses.pop(call_id, None)
        except Exception as e:
            if miss is not None:  # the script had no answer: not hidden by what fell back
                raise miss from None
            if any(m in str(e) for m in _UNREADABLE):  # LiteLLM could not read the answer
                raise MalformedResponse(
                    f"the answer could not be read ({type(e).__name__})") from None
            # `from None`: the provider's exception may quote credentials; the mapped
            # one is scrubbed.
            raise self._map_error(e, alias) from None
        miss = self._replay.misses.pop(call_id, None)
        if miss is not None:  # a fallback answered a replay mismatch: surface the mismatch
            raise miss
        return resp

    async def ask(self, alias: str, messages: list[Message], schema: type[T], *,
                  context: CallContext | None = None, max_reasks: int = 2, **params: Any) -> T:
        """A validated `schema` instance: json_schema where supported, else instructions;
        repaired, then re-asked up to `max_reasks` times (the last re-asks go to the alias's
        router fallback when it keeps failing); else StructuredOutputError."""
        self._check_alias(alias)
        fallbacks = [(a, self.supports_native_schema(a)) for a in self.json_fallbacks(alias)]
        return await ask_structured(self, alias, messages, schema, context=context,
                                    max_reasks=max_reasks,
                                    native_schema=self.supports_native_schema(alias),
                                    fallbacks=fallbacks, **params)

    def json_fallbacks(self, alias: str) -> list[str]:
        """The aliases a structured re-ask may move to: router_settings `fallbacks` for
        `alias`, then `default_fallbacks` (known aliases only, never `alias` itself)."""
        out = self._fallback_aliases(alias, ("fallbacks",))
        return [a for a in dict.fromkeys(out) if a != alias and a in self._alias_deps]

    def _to_completion(self, resp: Any, alias: str, latency: float) -> Completion:
        """The answer as crew's Completion, its texts made safe (crew.textsafe); a shape
        without a first choice or message raises MalformedResponse. A tool call without id
        gets one, without a name gets "" (the tool layer refuses it to the model)."""
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list | tuple) or not choices:
            raise MalformedResponse("the answer has no choices")
        choice = choices[0]
        msg = getattr(choice, "message", None)
        if msg is None:
            raise MalformedResponse("the answer's first choice has no message")
        calls = tuple(
            ToolCall(id=safe_text(str(getattr(tc, "id", None) or f"call_{i}")),
                     name=safe_text(str(getattr(fn, "name", None) or "")),
                     arguments=_arguments(getattr(fn, "arguments", None)))
            for i, tc in enumerate(getattr(msg, "tool_calls", None) or ())
            for fn in (getattr(tc, "function", None),))
        content = getattr(msg, "content", None)
        content = safe_text(content) if isinstance(content, str) else (
            None if content is None else safe_text(str(content)))
        u = getattr(resp, "usage", None)
        usage = Usage(int(getattr(u, "prompt_tokens", 0) or 0),
                      int(getattr(u, "completion_tokens", 0) or 0))
        hidden = getattr(resp, "_hidden_params", None) or {}
        dep = self._deployments.get(str(hidden.get("model_id")))
        model = dep.model if dep else str(hidden.get("litellm_model_name")
                                          or getattr(resp, "model", None) or alias)
        cost = float(hidden.get("response_cost") or 0.0)
        if dep is not None and dep.price is None and not dep.warned_price and not (
                dep.model.startswith("replay/")):
            dep.warned_price = True
            log.warning("no price known for %s (alias %s): its calls count as $0; set "
                        "input_cost_per_token/output_cost_per_token in its litellm_params",
                        dep.model, dep.alias)
        finish = getattr(choice, "finish_reason", None)
        return Completion(content=content, tool_calls=calls, alias=alias, model=model,
                          usage=usage, cost_usd=cost, latency_s=latency,
                          finish_reason=finish if isinstance(finish, str) else None)

    def _map_error(self, exc: Exception, alias: str) -> Exception:
        from crew.llm.errors import to_crew_error

        deps = self._alias_deps.get(alias, [])
        return to_crew_error(exc, alias=alias, env_vars=[v for d in deps for v in d.env_vars],
                             secrets=self._secrets, source=self.source,
                             urls=[d.api_base for d in deps if d.api_base])


def _arguments(raw: Any) -> str:
    """A tool call's arguments as the JSON text the tool layer parses ("{}" when absent; an
    object some providers send is encoded; anything else kept as text for the tool layer to
    refuse)."""
    if raw is None or raw == "":
        return "{}"
    if isinstance(raw, str):
        return safe_text(raw)
    try:
        return safe_text(json.dumps(raw, ensure_ascii=False))
    except (TypeError, ValueError):
        return safe_text(str(raw))


# A library user's `from crew.llm import LLM` loads litellm and its first request's modules
# now, as part of the user's imports (not in the CLI, whose prewarm thread does it).
_load_on_import()
