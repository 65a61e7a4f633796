"""Shared test setup: no test may reach the network (crew's own pytest plugin enforces it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# The slow lane: whole-process runs (e2e) and the optional engines (AutoGen, CrewAI). The fast
# lane, `pytest -m "not slow"`, is what a developer runs between edits.
_SLOW_DIRS = (Path(__file__).parent / "e2e", Path(__file__).parent / "integration" / "engines")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(d) for d in _SLOW_DIRS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _offline(no_llm_network: list[str]) -> Iterator[None]:
    yield
