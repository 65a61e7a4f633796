"""LiteLLM/provider exceptions → crew's error families (crew.errors).

By the time an exception reaches crew, LiteLLM has already retried and fallen back, so:
rate limits, timeouts, connection and 5xx errors → ProviderError(transient=True) (a run may
stop resumably); context too long → ContextTooLongError; bad credentials, unknown models →
UserError saying what to set; content filters → ModelBehaviorError. Messages are scrubbed of
known secret values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from crew.errors import (
    ContextTooLongError,
    CrewError,
    ModelBehaviorError,
    ProviderError,
    UserError,
)

_KEYLIKE = re.compile(r"\b(sk|pk|lf|xai|gsk|key)-[A-Za-z0-9_\-*]{8,}")


class RateLimitedError(ProviderError):
    """Rate limited even after LiteLLM's retries (transient)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secret values and key-like tokens from an error message."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # LiteLLM appends tracebacks and retry notes; keep the provider's sentence.
    return text.split("\nTraceback", 1)[0].split("\n\n", 1)[0].strip()[:500]


def to_crew_error(exc: BaseException, *, alias: str, env_vars: Iterable[str] = (),
                  secrets: Iterable[str] = (), source: str | None = None,
                  urls: Iterable[str] = ()) -> CrewError:
    """Map one exception raised by router.acompletion (litellm must be loaded); `urls`: the
    alias's api_base values, named when its server cannot be reached."""
    carried = getattr(exc, "crew_error", None)
    if isinstance(carried, CrewError):
        return carried
    from crew.llm._litellm import load_litellm

    litellm = load_litellm()
    msg = scrub(_first_line(exc), secrets)
    where = f"alias {alias!r}"
    model = getattr(exc, "model", None)
    if model:
        where += f" (deployment {model})"
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ContextTooLongError(
            f"{where}: the prompt does not fit the model's context window: {msg}. Configure "
            "router_settings.context_window_fallbacks or shorten the input")
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
        names = sorted(set(env_vars))
        hint = ("set " + " / ".join(names) + " in the environment") if names else (
            "set api_key in the deployment's litellm_params (e.g. os.environ/PROVIDER_API_KEY)")
        return UserError(f"{where}: the provider rejected the credentials: {msg}",
                         file=source, field="model_list", hint=hint)
    if isinstance(exc, litellm.NotFoundError):
        return UserError(f"{where}: the provider does not know this model: {msg}", file=source,
                         field="model_list", hint="check litellm_params.model")
    if isinstance(exc, litellm.ContentPolicyViolationError):
        return ModelBehaviorError(f"{where}: the provider's content filter refused: {msg}")
    if isinstance(exc, litellm.RateLimitError) or type(exc).__name__ == "RouterRateLimitError":
        return RateLimitedError(f"{where}: rate limited after retries: {msg}")
    servers = sorted(set(urls))
    # the OpenAI client's "Connection error." reaches crew as APIConnectionError or, after
    # the Router's retries, as InternalServerError carrying that text
    unreachable = isinstance(exc, litellm.APIConnectionError) or (
        isinstance(exc, litellm.InternalServerError) and "connection error" in msg.lower())
    if unreachable and servers:
        config = source or "the models config"
        return ProviderError(
            f"{where}: cannot reach the model server at {' / '.join(servers)} after retries: "
            f"{msg}. Start the server (or fix api_base of {alias!r} in {config}), then "
            "`crew resume` the run", transient=True)
    transient: tuple[type[Any], ...] = (
        litellm.Timeout, litellm.APIConnectionError, litellm.ServiceUnavailableError,
        litellm.InternalServerError, litellm.BadGatewayError, litellm.APIError)
    if isinstance(exc, transient):
        return ProviderError(f"{where}: provider failed after retries: "
                             f"{type(exc).__name__}: {msg}", transient=True)
    return ProviderError(f"{where}: {type(exc).__name__}: {msg}", transient=False)
