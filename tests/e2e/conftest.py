"""Fixtures of the end-to-end tests (helpers live in e2e_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import make_demo_module


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A fresh copy of the offline demo; returns its feature.yaml."""
    feature: Path = make_demo_module().make_demo(tmp_path / "demo")
    return feature
