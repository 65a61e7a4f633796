"""Shared test setup: no test may reach the network (crew's own pytest plugin enforces it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# The slow lane: whole-process runs (e2e) and the optional engines (AutoGen, CrewAI). The fast
# lane, `pytest -n auto -m "not slow"`, is what a developer runs between edits.
_HERE = Path(__file__).parent
_SLOW_DIRS = (_HERE / "e2e", _HERE / "integration" / "engines",
              # 41 real LiteLLM configs, each building a Router (some in a child process)
              _HERE / "integration" / "llm" / "test_litellm_corpus.py",
              # whole traced runs against a silent or killed Langfuse
              _HERE / "integration" / "observability" / "test_trace_tree.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path == d or item.path.is_relative_to(d) for d in _SLOW_DIRS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _offline(no_llm_network: list[str]) -> Iterator[None]:
    yield


@pytest.fixture(autouse=True)
def _own_state_home(crew_state_home: Path) -> None:
    """crew's per-user index of runs goes to a fresh XDG_STATE_HOME per test (the plugin
    already isolates the whole session, module fixtures and Ray workers included)."""
