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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from crew.errors import BudgetExceeded, Problem, UserError
from crew.llm.budget import Budget, BudgetWarning, Reservation
from crew.llm.ledger import Ledger, LedgerEntry
from crew.llm.proxy_settings import apply_proxy_settings
from crew.llm.structured import ask_structured
from crew.llm.types import CallContext, Completion, Message, ToolCall, ToolSpec, Usage
from crew.observability.tracer import GenerationObservation, current_tracer
from crew.spec.models import ModelsConfig

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger("crew.llm")
_NO_CONTEXT = CallContext()
_ENV_PREFIX = "os.environ/"
_PRICE_KEYS = ("input_cost_per_token", "output_cost_per_token")
ALLOW_ENV = "CREW_ALLOW_MODEL_REQUESTS"
_FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")


def model_requests_allowed(env: Mapping[str, str] | None = None) -> bool:
    """False when `CREW_ALLOW_MODEL_REQUESTS` is 0/false/no/off: then only offline deployments
    (replay/…, mock_response, an api_base on loopback) may be called. Test suites set it."""
    value = (os.environ if env is None else env).get(ALLOW_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


def is_offline_deployment(model: str, params: Mapping[str, Any]) -> bool:
    """Whether a deployment answers without reaching a provider over the network."""
    if model.startswith("replay/") or params.get("mock_response") is not None:
        return True
    base = params.get("api_base") or params.get("base_url")
    if not isinstance(base, str) or not base:
        return False
    from urllib.parse import urlsplit

    from crew._net import is_loopback_host

    host = urlsplit(base).hostname or ""
    return bool(host) and is_loopback_host(host)


def _trace_budget_warning(w: BudgetWarning) -> None:
    current_tracer().event("budget_warning", "WARNING", {
        "scope": w.scope, "kind": w.kind, "limit": w.limit, "spent": w.spent})


def trace_budget_warnings(budget: Budget) -> None:
    """Report `budget`'s warnings as `budget_warning` events of the current run's trace."""
    if _trace_budget_warning not in budget.listeners:
        budget.listeners.append(_trace_budget_warning)


def start_generation(alias: str, messages: list[Message], tools: list[ToolSpec] | None,
                     ctx: CallContext, params: Mapping[str, Any]) -> GenerationObservation:
    """The trace observation of one model call (a no-op outside a traced run)."""
    tracer = current_tracer()
    if not tracer.enabled:
        return tracer.generation(alias, messages)
    extra: dict[str, Any] = {k: v for k, v in (("role", ctx.role), ("purpose", ctx.purpose),
                                                ("turn", ctx.turn)) if v}
    if tools:
        extra["tools"] = [str(t.get("function", {}).get("name", "?")) for t in tools]
    return tracer.generation(alias, messages, {k: v for k, v in params.items()
                                               if k not in ("metadata", "tools")}, **extra)


# Providers whose model-info lookups query a hub over the network (huggingface: the provider
# mapping and tokenizer config on huggingface.co), synchronously: building an LLM must not.
_HUB_PROVIDERS = frozenset({"huggingface"})


def _probes_network(lt: Any, model: str, params: Mapping[str, Any]) -> bool:
    try:
        provider = lt.get_llm_provider(model=model,
                                       custom_llm_provider=params.get("custom_llm_provider"))[1]
    except Exception:
        return False
    return provider in _HUB_PROVIDERS


@dataclass
class _Deployment:
    alias: str
    model: str  # LiteLLM model string
    env_vars: tuple[str, ...]
    price: tuple[float, float] | None  # (input, output) usd per token, None if unknown
    native_schema: bool
    offline: bool = False
    warned_price: bool = False


def _env_refs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(k, v[len(_ENV_PREFIX):]) for k, v in params.items()
            if isinstance(v, str) and v.startswith(_ENV_PREFIX)]


class LLM:
    """The ChatModel agents and patterns call: `complete` and `ask`, by router alias."""

    def __init__(self, config: ModelsConfig, *, base_dir: str | Path | None = None,
                 ledger: Ledger | None = None, budget: Budget | None = None,
                 source: str | None = None, warm: bool = True) -> None:
        """`warm`: load what litellm's first request would load lazily now, before the
        Router is built (a script's first call then sends at once); False where no call
        follows soon (`crew validate`) or a prewarm thread does it (the CLI)."""
        from crew.llm._litellm import load_litellm
        from crew.llm.replay import new_session

        self.config = config
        self.ledger = ledger if ledger is not None else Ledger()
        self.budget = budget
        self.source = source
        self._litellm = lt = load_litellm()
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        self._session_id, self._replay = new_session(self)
        self._call_ids = itertools.count(1)
        with contextlib.redirect_stdout(sys.stderr):  # litellm's debug tables print to stdout
            settings = apply_proxy_settings(lt, config, source)
        self._router_settings = settings.router_settings

        model_list: list[dict[str, Any]] = []
        self._deployments: dict[str, _Deployment] = {}
        self._alias_deps: dict[str, list[_Deployment]] = {}
        self._secrets: set[str] = set()
        self._skipped: dict[str, Problem] = {}  # alias -> why a deployment was left out
        problems: list[Problem] = []
        for i, d in enumerate(config.model_list):
            params = d.litellm_params.model_dump()
            info = dict(d.model_info)
            model_id = str(info.setdefault("id", f"{i}:{d.model_name}"))
            where = f"model_list[{i}].litellm_params"
            refs = _env_refs(params)
            for key, var in refs:
                value = os.environ.get(var)
                if not value:
                    problems.append(Problem(
                        f"environment variable {var} is not set", file=source,
                        field=f"{where}.{key}", hint=f"export {var}=... or remove the deployment"))
                elif key in ("api_key", "aws_secret_access_key", "api_secret"):
                    self._secrets.add(value)
            if isinstance(params.get("api_key"), str) and not params["api_key"].startswith(
                    _ENV_PREFIX):
                self._secrets.add(params["api_key"])
            model = str(params["model"])
            bad_model = self._provider_problem(lt, model, params, f"{where}.model", source)
            if bad_model is not None:  # the proxy skips such a deployment too
                log.warning("%s: skipping model_list[%d] (%s)", source or "models config", i,
                            bad_model.message)
                self._skipped.setdefault(d.model_name, bad_model)
                continue
            if model.startswith("replay/"):
                script = params.get("replay_script")
                if not script:
                    problems.append(Problem(
                        "a replay model needs `replay_script: <path>`", file=source,
                        field=f"{where}.replay_script"))
                else:
                    path = (base / str(script)).resolve()
                    params["replay_script"] = str(path)
                    self._replay.script(str(path))  # validate now: a bad script is a UserError
            entry = {k: v for k, v in d.model_dump().items() if k != "litellm_params"}
            entry.update(litellm_params=params, model_info=info)
            model_list.append(entry)
            dep = _Deployment(d.model_name, model, tuple(v for _, v in refs),
                              self._price(lt, model, params, info),
                              self._supports_schema(lt, model, info),
                              offline=is_offline_deployment(model, params))
            self._deployments[model_id] = dep
            self._alias_deps.setdefault(d.model_name, []).append(dep)
        if not model_list and self._skipped:
            problems += self._skipped.values()
        if problems:
            raise UserError("", problems=problems)
        from crew.llm._litellm import warm_first_use

        if warm:
            warm_first_use(http=any(not d.model.startswith("replay/")  # as crew.run.launch
                                    for d in self._deployments.values()))
        try:
            with contextlib.redirect_stdout(sys.stderr):
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

    # ------------------------------------------------------------------ config facts
    @staticmethod
    def _price(lt: Any, model: str, params: Mapping[str, Any], info: Mapping[str, Any]
               ) -> tuple[float, float] | None:
        for src in (params, info):
            if any(src.get(k) is not None for k in _PRICE_KEYS):
                return (float(src.get(_PRICE_KEYS[0]) or 0.0),
                        float(src.get(_PRICE_KEYS[1]) or 0.0))
        if _probes_network(lt, model, params):
            return None
        try:
            mi = lt.get_model_info(model=model)
        except Exception:
            return None
        pin, pout = mi.get(_PRICE_KEYS[0]), mi.get(_PRICE_KEYS[1])
        return (float(pin or 0.0), float(pout or 0.0)) if pin or pout else None

    @staticmethod
    def _provider_problem(lt: Any, model: str, params: Mapping[str, Any], field: str,
                          source: str | None) -> Problem | None:
        """A Problem if LiteLLM cannot tell which provider serves `model`, else None."""
        try:
            lt.get_llm_provider(model=model, custom_llm_provider=params.get("custom_llm_provider"),
                                api_base=params.get("api_base"))
        except Exception:
            return Problem(f"LiteLLM cannot tell which provider serves model {model!r}",
                           file=source, field=field,
                           hint=f"prefix the provider: openai/{model or 'gpt-4o'} (or "
                                "anthropic/..., ollama/..., replay/...), or set "
                                "custom_llm_provider")
        return None

    @staticmethod
    def _supports_schema(lt: Any, model: str, info: Mapping[str, Any]) -> bool:
        if "supports_response_schema" in info:
            return bool(info["supports_response_schema"])
        if model.startswith("replay/") or _probes_network(lt, model, {}):
            return False
        return bool(lt.supports_response_schema(model=model))

    @property
    def aliases(self) -> frozenset[str]:
        return frozenset(self._alias_deps)

    def supports_native_schema(self, alias: str) -> bool:
        """Whether every deployment of `alias` takes response_format json_schema."""
        return all(d.native_schema for d in self._alias_deps.get(alias, []))

    def replay_unserved(self) -> dict[str, list[int]]:
        """Script path → indexes of replay entries never served (for tests and demos)."""
        return {p: [e.index for e in s.unserved()] for p, s in self._replay.scripts.items()}

    def unroutable(self, alias: str) -> Problem | None:
        """Why the router has no deployment to call for `alias` (None: it has one), e.g.
        every deployment of it was skipped for an unknown provider."""
        if alias in self._alias_deps:
            return None
        return self._skipped.get(alias) or Problem(
            f"no model_list entry serves model alias {alias!r}", file=self.source,
            field="model_list", hint="aliases: " + ", ".join(sorted(self.aliases)))

    # ------------------------------------------------------------------ calls
    def _check_alias(self, alias: str) -> None:
        if alias not in self._alias_deps and alias in self._skipped:
            raise UserError("", problems=[self._skipped[alias]])
        if alias not in self._alias_deps:
            from crew.spec.suggest import did_you_mean

            raise UserError(f"unknown model alias {alias!r}{did_you_mean(alias, self.aliases)}",
                            file=self.source, field="model_name",
                            hint="aliases: " + ", ".join(sorted(self.aliases)))

    def _fallback_aliases(self, alias: str) -> list[str]:
        out: list[str] = []
        settings = self._router_settings
        for key in _FALLBACK_KEYS:
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

    def _reserve_budget(self, budget: Budget, alias: str, messages: list[Message],
                        tools: list[ToolSpec] | None, ctx: CallContext,
                        params: Mapping[str, Any]) -> Reservation | None:
        """Check the budget and hold this call's estimate while it is in flight. No await in
        here: parallel calls are admitted one at a time against each other's estimates."""
        if not budget.needs_estimate(ctx):
            budget.check_before(self.ledger, ctx)
            return None
        out = int(params.get("max_tokens") or params.get("max_completion_tokens") or 0)
        dep = self._alias_deps[alias][0]
        pin, pout = dep.price or (0.0, 0.0)
        # A cheap over-estimate first; count exactly only when it might cross a limit.
        rough = sum(len(str(m.get("content") or "")) + 8 for m in messages)
        if tools:
            rough += len(json.dumps(tools))
        try:
            return budget.reserve(self.ledger, ctx, est_tokens=rough + out,
                                  est_usd=rough * pin + out * pout)
        except BudgetExceeded as e:
            if e.kind == "minutes":
                raise
        exact = int(self._litellm.token_counter(model=dep.model, messages=messages, tools=tools))
        return budget.reserve(self.ledger, ctx, est_tokens=exact + out,
                              est_usd=exact * pin + out * pout)

    async def complete(self, alias: str, messages: list[Message], *,
                       tools: list[ToolSpec] | None = None, context: CallContext | None = None,
                       **params: Any) -> Completion:
        """One chat completion by alias; records it in the ledger and enforces the budget."""
        if alias not in self._alias_deps:
            self._check_alias(alias)
        self._check_requests_allowed(alias, params)
        ctx = context or _NO_CONTEXT
        budget = self.budget
        held = None
        if budget is not None:
            trace_budget_warnings(budget)
            held = self._reserve_budget(budget, alias, messages, tools, ctx, params)
        try:
            return await self._complete(alias, messages, tools, ctx, params)
        finally:
            if held is not None and budget is not None:
                budget.release(held)

    async def _complete(self, alias: str, messages: list[Message], tools: list[ToolSpec] | None,
                        ctx: CallContext, params: dict[str, Any]) -> Completion:
        call_id = f"c{next(self._call_ids)}"
        with start_generation(alias, messages, tools, ctx, params) as gen:
            crew_meta = {**ctx.__dict__, "session": self._session_id, "call": call_id}
            meta = params.pop("metadata", None)
            params["metadata"] = {**meta, "crew": crew_meta} if meta else {"crew": crew_meta}
            if tools:
                params["tools"] = tools
                # crew sends function tools only: litellm's handler for litellm-proxy MCP
                # tools would import the MCP SDK (+20 MB, ~0.5 s) on the first such call
                params["_skip_mcp_handler"] = True
            t0 = time.perf_counter()
            miss = None
            try:
                try:
                    resp = await self.router.acompletion(model=alias, messages=messages,
                                                         **params)
                finally:
                    miss = self._replay.misses.pop(call_id, None)
            except Exception as e:
                if miss is not None:  # the script had no answer: not hidden by what fell back
                    raise miss from None
                # `from None`: the provider's exception may quote credentials; the mapped
                # one is scrubbed.
                raise self._map_error(e, alias) from None
            miss = self._replay.misses.pop(call_id, None)
            if miss is not None:  # a fallback answered a replay mismatch: surface the mismatch
                raise miss
            latency = time.perf_counter() - t0
            completion = self._to_completion(resp, alias, latency)
            gen.end(completion)
        self.ledger.record(LedgerEntry(
            alias=alias, deployment=completion.model,
            prompt_tokens=completion.usage.prompt_tokens,
            completion_tokens=completion.usage.completion_tokens,
            cost_usd=completion.cost_usd, latency_s=latency, run_id=ctx.run_id,
            task_id=ctx.task_id, role=ctx.role, pattern=ctx.pattern, purpose=ctx.purpose,
            turn=ctx.turn, at=time.time()))
        if self.budget is not None:
            self.budget.check_after(self.ledger, ctx)
        return completion

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
        settings = self._router_settings
        out: list[str] = []
        for rule in settings.get("fallbacks") or []:
            if isinstance(rule, Mapping) and alias in rule:
                out += [str(a) for a in rule[alias] or []]
        out += [str(a) for a in settings.get("default_fallbacks") or []]
        return [a for a in dict.fromkeys(out) if a != alias and a in self._alias_deps]

    def _to_completion(self, resp: Any, alias: str, latency: float) -> Completion:
        choice = resp.choices[0]
        msg = choice.message
        calls = tuple(
            ToolCall(id=tc.id or f"call_{i}", name=tc.function.name or "",
                     arguments=tc.function.arguments or "{}")
            for i, tc in enumerate(msg.tool_calls or ()))
        u = getattr(resp, "usage", None)
        usage = Usage(int(getattr(u, "prompt_tokens", 0) or 0),
                      int(getattr(u, "completion_tokens", 0) or 0))
        hidden = getattr(resp, "_hidden_params", None) or {}
        dep = self._deployments.get(str(hidden.get("model_id")))
        model = dep.model if dep else str(hidden.get("litellm_model_name") or resp.model or alias)
        cost = float(hidden.get("response_cost") or 0.0)
        if dep is not None and dep.price is None and not dep.warned_price and not (
                dep.model.startswith("replay/")):
            dep.warned_price = True
            log.warning("no price known for %s (alias %s): its calls count as $0; set "
                        "input_cost_per_token/output_cost_per_token in its litellm_params",
                        dep.model, dep.alias)
        return Completion(content=msg.content, tool_calls=calls, alias=alias, model=model,
                          usage=usage, cost_usd=cost, latency_s=latency,
                          finish_reason=choice.finish_reason)

    def _map_error(self, exc: Exception, alias: str) -> Exception:
        from crew.llm.errors import to_crew_error

        env = [v for d in self._alias_deps.get(alias, []) for v in d.env_vars]
        return to_crew_error(exc, alias=alias, env_vars=env, secrets=self._secrets,
                             source=self.source)
