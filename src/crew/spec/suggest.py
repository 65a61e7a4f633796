"""Nearest-name suggestions for unknown keys and references."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    pool = list(candidates)
    same_case = [c for c in pool if c.lower() == word.lower()]
    if same_case:
        return same_case[0]
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or ''."""
    best = nearest(word, candidates)
    return f" (did you mean {best!r}?)" if best else ""
