"""Text made safe to store, show and pass on: one rule for every text a model, a tool or a
command produced, wherever crew writes it (journals, events, traces, report, terminal, commit
messages, git arguments, the next request).

- A lone surrogate (`\\ud800`, as JSON escapes and `errors="surrogateescape"` produce; UTF-8
  cannot encode it) becomes U+FFFD, as a decoder with `errors="replace"` would.
- A control character other than tab, newline and carriage return (NUL, ESC, DEL, C1) becomes
  the visible escape `\\xNN`: git, the OS and terminals refuse or act on them.

Everything else is kept as is; a safe text is returned unchanged (the same object). A leaf:
imports nothing of crew, so every layer may use it.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 64


def _fix(m: re.Match[str]) -> str:
    code = ord(m.group())
    return REPLACEMENT if code >= 0xD800 else f"\\x{code:02x}"


def safe_text(text: str) -> str:
    """`text` with lone surrogates replaced and control characters escaped (see the module)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_fix, text)


def is_safe(text: str) -> bool:
    """Whether `safe_text(text)` would leave `text` unchanged."""
    return _UNSAFE.search(text) is None


def unusable_at(value: Any, where: str = "", _depth: int = 0) -> str | None:
    """Where in `value` (a dotted path, "" for `value` itself) a string holds a NUL or a lone
    surrogate, which no file name, process argument or UTF-8 file can take; None if nowhere."""
    if isinstance(value, str):
        return where if "\x00" in value or _SURROGATE.search(value) else None
    if _depth > _MAX_DEPTH:
        return None
    items: Any = ()
    if isinstance(value, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    for path, item in items:
        found = unusable_at(item, path, _depth + 1)
        if found is not None:
            return found
    return None


def safe_data(value: Any, _depth: int = 0) -> Any:
    """`value` with `safe_text` applied to every string in it (dict keys included), through
    dicts, lists and tuples; other values are kept. Unchanged containers are returned as is."""
    if isinstance(value, str):
        return safe_text(value)
    if _depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out = {safe_data(k, _depth + 1): safe_data(v, _depth + 1) for k, v in value.items()}
        same = len(out) == len(value) and all(
            a is b and out[a] is value[a] for a, b in zip(out, value, strict=True))
        return value if same else out
    if isinstance(value, list | tuple):
        items = [safe_data(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items
    return value


def replace_surrogates(text: str) -> str:
    """Only the lone surrogates replaced (U+FFFD): for text already serialized (JSON escapes
    control characters itself), the last guard before it is encoded to a file."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def encodable_data(value: Any, _depth: int = 0) -> Any:
    """`value` with the lone surrogates of its strings replaced, the rest kept: for data about
    to be serialized as JSON (which escapes control characters itself), e.g. the messages of
    the next request. Cheaper than `safe_data` on text that is already safe (an encode per
    string, no regex)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return replace_surrogates(value)
        return value
    if _depth > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out = {encodable_data(k, _depth + 1): encodable_data(v, _depth + 1)
               for k, v in value.items()}
        same = all(a is b and out[a] is value[a] for a, b in zip(out, value, strict=True))
        return value if same and len(out) == len(value) else out
    if isinstance(value, list | tuple):
        items = [encodable_data(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items
    return value
