"""Secret redaction applied to everything crew writes: every event before any sink sees it,
state.json, plan.json, report.md and commit messages (`scrub`); and the scan that keeps
secrets out of files and commits (`find_secrets`).

Sources of secrets: the values of environment variables whose names look secret (``*_KEY``,
``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``), values registered with `register_secrets` (a run
registers its models.yaml keys), any values a caller adds, and common key shapes
(OpenAI/Anthropic ``sk-…``, Langfuse ``pk-lf-…``/``sk-lf-…``, ``Bearer`` tokens, AWS
``AKIA…``, GitHub tokens). One compiled regex does a single pass per string. Known values
match in any letter case: ids and branch slugs made from a model's text are lowercased.

`RedactingStream` puts the same redaction on the terminal: the CLI wraps stdout and stderr
with it, so the plan view, the live view, `crew show` and every message are scrubbed too.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(r"(_KEY|_TOKEN|_SECRET|PASSWORD)$|PASSWORD|^(API_?KEY|TOKEN|SECRET)$",
                          re.IGNORECASE)
# Keys of a dict whose value is secret whatever it looks like (e.g. {"api_key": "..."}).
_SECRET_FIELD = re.compile(
    r"^(api_?key|.*_api_?key|secret|.*_secret|.*_secret_key|password|.*_password|token"
    r"|access_token|refresh_token|auth_token|authorization)$",
    re.IGNORECASE,
)
_SHAPES = (
    r"sk-ant-[A-Za-z0-9_\-]{8,}",
    r"\b[sp]k-lf-[A-Za-z0-9_\-]{8,}",
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}",
    r"(?<=bearer )[A-Za-z0-9._~+/=\-]{8,}",
    r"(?<=Basic )[A-Za-z0-9+/]{16,}={0,2}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}\b",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}\b",
)
_SHAPE_RES = tuple(re.compile(p) for p in _SHAPES)
# Cheap substring checks: a string containing none of these cannot match any shape above.
_SHAPE_TRIGGERS = ("sk-", "k-lf-", "earer ", "Basic ", "AKIA", "ASIA", "ghp_", "gho_", "ghu_",
                   "ghs_", "ghr_", "github_pat_")
# Values too short or too common to be worth redacting (they would shred ordinary text).
_MIN_SECRET_LEN = 8
_HARMLESS = frozenset({"true", "false", "none", "null", "localhost"})


_registered: set[str] = set()
_lock = threading.Lock()
_default: tuple[frozenset[str], Redactor] | None = None


def register_secrets(values: Iterable[str]) -> None:
    """Values every redactor made from now on treats as secret (e.g. models.yaml keys)."""
    with _lock:
        _registered.update(v.strip() for v in values if v and _worth_redacting(v))


def registered_secrets() -> list[str]:
    with _lock:
        return sorted(_registered)


def default_redactor() -> Redactor:
    """A redactor for the current environment and registered secrets (rebuilt when they
    change)."""
    global _default
    key = frozenset([*secret_env_values(), *registered_secrets()])
    cached = _default
    if cached is not None and cached[0] == key:
        return cached[1]
    redactor = Redactor()
    _default = (key, redactor)
    return redactor


def scrub(text: str) -> str:
    """`text` with every known secret and key shape replaced by ``[REDACTED]``."""
    return default_redactor().text(text)


def find_secrets(text: str) -> list[str]:
    """What secrets `text` holds, described without their values: 'the value of
    OPENAI_API_KEY', 'a registered secret', 'a key shape (sk-…)'. Empty when clean."""
    found: list[str] = []
    env = {v.strip(): k for k, v in os.environ.items()
           if _SECRET_NAME.search(k) and _worth_redacting(v)}
    for value, name in env.items():
        if value in text:
            found.append(f"the value of {name}")
    for value in registered_secrets():
        if value in text and value not in env:
            found.append("a key from the models config")
    for shape in _SHAPE_RES:
        m = shape.search(text)
        if m and not any(m.group(0) in v or v in m.group(0) for v in env):
            found.append(f"a key shape ({m.group(0)[:6]}…)")
    return list(dict.fromkeys(found))


def secret_env_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret (long enough to matter)."""
    source = os.environ if env is None else env
    return [
        value for name, value in source.items()
        if _SECRET_NAME.search(name) and _worth_redacting(value)
    ]


def _worth_redacting(value: str) -> bool:
    v = value.strip()
    return len(v) >= _MIN_SECRET_LEN and v.lower() not in _HARMLESS and not v.startswith("http")


class Redactor:
    """Replaces secrets in strings and, deeply, in dicts/lists/tuples/dataclasses.

    The result is always JSON-safe: unknown objects become their (redacted) ``str()``.
    """

    def __init__(self, extra_secrets: Iterable[str] = (), *,
                 env: Mapping[str, str] | None = None) -> None:
        literals = {s.strip() for s in [*secret_env_values(env), *registered_secrets(),
                                        *extra_secrets] if s and _worth_redacting(s)}
        # a secret with quotes or backslashes appears escaped inside JSON text
        literals |= {json.dumps(s)[1:-1] for s in literals}
        # Longest first so a secret containing another one is replaced whole.
        parts = [f"(?i:{re.escape(s)})" for s in sorted(literals, key=len, reverse=True)]
        self._pattern = re.compile("|".join([*parts, *_SHAPES]))
        self._triggers = tuple(dict.fromkeys(t.lower() for t in (*_SHAPE_TRIGGERS, *literals)))

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``[REDACTED]``."""
        low = value.lower()
        for trigger in self._triggers:  # substring search is ~50x cheaper than the regex
            if trigger in low:
                return self._pattern.sub(REDACTED, value)
        return value

    def __call__(self, value: Any) -> Any:
        """A redacted, JSON-safe copy of ``value``."""
        return self._deep(value, 0)

    def _deep(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth > 50:
            return "[too deep]"
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = k if isinstance(k, str) else str(k)
                if isinstance(v, str) and v and _SECRET_FIELD.match(key):
                    out[key] = REDACTED
                else:
                    out[key] = self._deep(v, depth + 1)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            return [self._deep(v, depth + 1) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._deep(dataclasses.asdict(value), depth + 1)
        dump = getattr(value, "model_dump", None)  # pydantic models
        if callable(dump):
            try:
                return self._deep(dump(mode="json"), depth + 1)
            except Exception:  # a foreign model_dump; fall back to str()
                pass
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return self.text(str(value))


class RedactingStream(io.TextIOBase):
    """A text stream (a terminal's stdout or stderr) that scrubs each write with the current
    `default_redactor` before passing it on; everything else is the wrapped stream's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, s: str) -> int:
        self.inner.write(default_redactor().text(s))
        return len(s)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return bool(self.inner.isatty())

    def fileno(self) -> int:
        return int(self.inner.fileno())

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.inner, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.inner, "errors", None)

    def __getattr__(self, name: str) -> Any:  # buffer, mode, reconfigure, ...
        return getattr(self.inner, name)
