"""Shared test setup: no test may reach the network (crew's own pytest plugin enforces it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _offline(no_llm_network: list[str]) -> Iterator[None]:
    yield
