"""Model servers reachable before a run starts: a deployment's `api_base` that refuses a TCP
connection (an Ollama or vLLM not started, a wrong port) would fail only at the first model
call, after the run's branch and worktree exist. `crew run` checks each alias the crew calls
here, before anything is created, and stops with exit code 6 naming the alias, the URL and
the fix; `crew validate` lists the same problems. A deployment without an `api_base` (a
hosted provider) is not probed, and an alias counts as down only when every deployment of it
and of its router fallbacks refuses."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crew.errors import Problem, UserError

if TYPE_CHECKING:
    from crew.spec.resolve import ResolvedFeature

PROBE_TIMEOUT_S = 2.0
_ENV_PREFIX = "os.environ/"


class ModelServerUnreachable(UserError):
    """A model server the crew calls refuses connections (exit 6; nothing was created)."""

    exit_code = 6


def api_base(params: Any) -> str | None:
    """The http(s) URL a deployment is served at (`os.environ/VAR` read), else None."""
    data = params.model_dump() if hasattr(params, "model_dump") else dict(params)
    base = data.get("api_base") or data.get("base_url")
    if isinstance(base, str) and base.startswith(_ENV_PREFIX):
        base = os.environ.get(base[len(_ENV_PREFIX):])
    if not isinstance(base, str) or urlsplit(base).scheme not in ("http", "https"):
        return None
    return base


def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why a TCP connection to `url`'s host and port fails, or None when it connects."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "not a valid URL"
    if not parts.hostname:
        return "not a valid URL"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__
    except Exception:  # a test harness refusing the connection: unknown, not down
        return None


def unreachable_servers(resolved: ResolvedFeature, aliases: Iterable[str],
                        prober: Callable[[str], str | None] = probe) -> list[Problem]:
    """A problem per deployment of an alias in `aliases` whose server (and whose fallbacks'
    servers) refuse connections, located at its `api_base`."""
    models = resolved.models
    seen: dict[str, str | None] = {}

    def down(alias: str) -> list[tuple[int, str, str]] | None:
        found = []
        deps = [(i, d) for i, d in enumerate(models.model_list) if d.model_name == alias]
        for i, d in deps:
            url = api_base(d.litellm_params)
            if url is None:
                return None  # not probed: assumed up
            if url not in seen:
                seen[url] = prober(url)
            err = seen[url]
            if err is None:
                return None
            found.append((i, url, err))
        return found or None

    problems = []
    source = resolved.models_source
    for alias in sorted(set(aliases)):
        refused = down(alias)
        if not refused or any(down(f) is None for f in _fallbacks(models, alias)):
            continue
        for i, url, err in refused:
            problems.append(resolved.locate_models_problem(Problem(
                f"alias {alias!r}: the model server at {url} is unreachable ({err})",
                file=source, field=f"model_list[{i}].litellm_params.api_base",
                hint=f"start the server at {url}, or fix api_base of {alias!r} in {source}")))
    return problems


def _fallbacks(models: Any, alias: str) -> list[str]:
    out: list[str] = []
    for rule in models.router_settings.get("fallbacks") or []:
        if isinstance(rule, dict) and alias in rule:
            targets = rule[alias]
            out += [t for t in (targets if isinstance(targets, list) else [targets])
                    if isinstance(t, str)]
    return out
