"""crew parses spec files with libyaml when PyYAML has it; the values and every recorded
position must equal what the pure-Python parser gives, on the built-in library, the examples
and the test corpus (good and bad files alike)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crew.errors import UserError
from crew.spec.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted(p for d in ("roles", "patterns", "crews", "examples", "tests/corpus")
               for p in (ROOT / d).rglob("*.yaml"))


def _read(path: Path) -> object:
    try:
        doc = load_yaml(path)
    except UserError as e:
        return ("error", str(e))
    return (doc.data, doc.value_pos, doc.key_pos)


def test_there_are_files_to_compare() -> None:
    assert len(FILES) > 30
    assert hasattr(yaml, "CSafeLoader")  # the wheel CI installs has libyaml


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_libyaml_and_python_parsers_agree(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _read(path)
    monkeypatch.delattr(yaml, "CSafeLoader")
    slow = _read(path)
    if path.name == "feature_deep_nesting.yaml":  # Python's composer recurses out; both refuse
        assert fast[0] == slow[0] == "error" and "nested more than" in str(fast), (fast, slow)
        return
    assert slow == fast
