"""Lazy package exports: names resolve to their module on first use (PEP 562)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see crew/__init__)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` importing `exports[name]` (a module path) only when asked."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            import importlib

            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def lazy_dir(namespace: Mapping[str, Any], exports: Mapping[str, str]) -> Callable[[], list[str]]:
    """A module `__dir__` listing the lazy `exports` beside what the module holds, so
    `dir(crew)` and a REPL's completion show them before they are loaded."""

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __dir__
