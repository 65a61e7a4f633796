"""`openai.resources` as a package whose `__init__` runs on first attribute use.

The OpenAI SDK's client imports `openai.resources.chat` on its first chat request, and Python
first runs `openai/resources/__init__.py`, which imports every resource of the API (~440
modules with their types: ~0.5 s of CPU, most of what litellm's first request loads). crew only
sends chat completions. `defer_resources_init` puts the package in `sys.modules` without running
its `__init__`: `import openai.resources.chat` then loads the chat subpackage alone, and any
other use of the package (`openai.resources.X`, `from openai.resources import X`, `dir`) runs
the real `__init__` once, in the same module, before answering — so nothing else changes.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGE = "openai.resources"


def defer_resources_init() -> bool:
    """Install the deferred package unless the SDK is missing or the package is already
    imported (the caller's own code imported it: nothing to save). Returns whether it did."""
    if PACKAGE in sys.modules or "openai" not in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return False
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    lock = threading.RLock()
    state = {"ran": False}

    def run_init() -> None:
        with lock:
            if not state["ran"]:
                state["ran"] = True
                loader.exec_module(module)

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name not in ("__all__",):
            raise AttributeError(name)
        run_init()
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        run_init()
        return sorted(module.__dict__)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = __dir__  # type: ignore[method-assign]
    sys.modules[PACKAGE] = module
    return True


def resources_init_ran() -> bool:
    """Whether `openai.resources`'s own `__init__` has run (tests)."""
    module: ModuleType | None = sys.modules.get(PACKAGE)
    return module is not None and "Chat" in module.__dict__
