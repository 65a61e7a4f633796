"""A models config's model_list as crew and the Router will use it, checked deployment by
deployment: `os.environ/` variables set, a provider LiteLLM can tell, replay scripts that
load, and what crew keeps of each (crew.llm.deployments). `LLM` builds one with litellm
itself; `crew validate` with litellm's installed files (crew.llm.offline_check)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crew._net import is_loopback_host
from crew.errors import Problem, UserError
from crew.llm.deployments import (
    ENV_PREFIX,
    Deployment,
    env_refs,
    map_max_output,
    price_of,
    provider_problem,
    stated_max_output,
    supports_schema,
)
from crew.spec.models import ModelsConfig

log = logging.getLogger("crew.llm")
_SECRET_KEYS = ("api_key", "aws_secret_access_key", "api_secret")


def is_offline_deployment(model: str, params: dict[str, Any]) -> bool:
    """Whether a deployment answers without reaching a provider over the network."""
    if model.startswith("replay/") or params.get("mock_response") is not None:
        return True
    base = params.get("api_base") or params.get("base_url")
    if not isinstance(base, str) or not base:
        return False
    host = urlsplit(base).hostname or ""
    return bool(host) and is_loopback_host(host)


class ModelTable:
    """The deployments of `config` by id and by alias, the router's `model_list`, the
    secrets to scrub from messages and the aliases whose every deployment was skipped.
    Raises UserError listing every problem. `lt` answers LiteLLM's questions (the litellm
    module, or the offline reader of its files); `facts`: also read each deployment's
    structured-output support and output bound (a Router needs them, a check does not)."""

    def __init__(self, config: ModelsConfig, lt: Any, *, base: Path, source: str | None,
                 load_script: Callable[[str], object], facts: bool = True) -> None:
        self.source = source
        self.model_list: list[dict[str, Any]] = []
        self.deployments: dict[str, Deployment] = {}
        self.alias_deps: dict[str, list[Deployment]] = {}
        self.secrets: set[str] = set()
        self.skipped: dict[str, Problem] = {}  # alias -> why a deployment was left out
        problems: list[Problem] = []
        left_out: list[tuple[int, str, Problem]] = []
        for i, d in enumerate(config.model_list):
            params = d.litellm_params.model_dump()
            info = dict(d.model_info)
            model_id = str(info.setdefault("id", f"{i}:{d.model_name}"))
            where = f"model_list[{i}].litellm_params"
            refs = env_refs(params)
            for key, var in refs:
                value = os.environ.get(var)
                if not value:
                    problems.append(Problem(
                        f"environment variable {var} is not set", file=source,
                        field=f"{where}.{key}", hint=f"export {var}=... or remove the deployment"))
                elif key in _SECRET_KEYS:
                    self.secrets.add(value)
            if isinstance(params.get("api_key"), str) and not params["api_key"].startswith(
                    ENV_PREFIX):
                self.secrets.add(params["api_key"])
            model = str(params["model"])
            bad_model = provider_problem(lt, model, params, f"{where}.model", source)
            if bad_model is not None:  # the proxy skips such a deployment too
                left_out.append((i, d.model_name, bad_model))
                self.skipped.setdefault(d.model_name, bad_model)
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
                    load_script(str(path))  # validate now: a bad script is a UserError
            entry = {k: v for k, v in d.model_dump().items() if k != "litellm_params"}
            entry.update(litellm_params=params, model_info=info)
            self.model_list.append(entry)
            dep = Deployment(d.model_name, model, tuple(v for _, v in refs),
                             price_of(lt, model, params, info),
                             supports_schema(lt, model, info) if facts else False,
                             offline=is_offline_deployment(model, params),
                             **stated_max_output(params, info),
                             api_base=str(params.get("api_base") or params.get("base_url")
                                          or "") or None)
            if facts:
                dep.default_max = map_max_output(lt, model, params)
            self.deployments[model_id] = dep
            self.alias_deps.setdefault(d.model_name, []).append(dep)
        for i, alias, why in left_out:  # an alias left with no deployment is an error
            if alias in self.alias_deps:  # where it is called (`unroutable`), not a log line
                log.warning("%s: skipping model_list[%d] (%s)", source or "models config", i,
                            why.message)
        if problems or not self.model_list:  # with other problems, also what `unroutable`
            # would say later: an alias whose every deployment was left out
            problems += [p for a, p in self.skipped.items() if a not in self.alias_deps]
        if problems:
            raise UserError("", problems=problems)

    @property
    def aliases(self) -> frozenset[str]:
        return frozenset(self.alias_deps)

    def unpriced(self, alias: str) -> list[str]:
        """The models of `alias` with no known price (a USD budget cannot count them; a
        replay model costs nothing and is never listed)."""
        return [d.model for d in self.alias_deps.get(alias, [])
                if d.price is None and not d.model.startswith("replay/")]

    def unroutable(self, alias: str) -> Problem | None:
        """Why the router has no deployment to call for `alias` (None: it has one), e.g.
        every deployment of it was skipped for an unknown provider."""
        if alias in self.alias_deps:
            return None
        return self.skipped.get(alias) or Problem(
            f"no model_list entry serves model alias {alias!r}", file=self.source,
            field="model_list", hint="aliases: " + ", ".join(sorted(self.aliases)))
