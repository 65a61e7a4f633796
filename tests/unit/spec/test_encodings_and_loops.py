"""Spec files as editors save them: UTF-8 (BOM or not) and UTF-16/32 with a BOM are read;
UTF-16 without a BOM and symlink loops are clear UserErrors, never "binary" or a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.spec.yamlio import format_loc, load_yaml, parse_loc, read_text, resolved

TEXT = "title: Ünïcode ✓\ngoal: g\n"


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                   "utf-32"])
def test_encodings_with_a_bom_are_read(tmp_path: Path, codec: str) -> None:
    f = tmp_path / "f.yaml"
    data = TEXT.encode(codec)
    if codec in ("utf-16-le", "utf-16-be"):  # the BOM an editor writes first
        data = "\ufeff".encode(codec) + data
    f.write_bytes(data)
    assert read_text(f) == TEXT
    assert load_yaml(f).data["title"] == "Ünïcode ✓"


def test_utf16_without_a_bom_is_named(tmp_path: Path) -> None:
    f = tmp_path / "f.yaml"
    f.write_bytes(TEXT.encode("utf-16-le"))
    with pytest.raises(UserError) as e:
        read_text(f)
    assert "UTF-16 text without a byte order mark" in str(e.value)
    assert "binary" not in str(e.value) and f"{f}:1" in str(e.value)


def test_binary_is_still_binary(tmp_path: Path) -> None:
    f = tmp_path / "f.yaml"
    f.write_bytes(b"title: x\n\x00\x01\x02binary\xff")
    with pytest.raises(UserError, match="binary file"):
        read_text(f)


def test_symlink_loops_are_user_errors(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b.yaml", tmp_path / "a.yaml")
    os.symlink(tmp_path / "a.yaml", tmp_path / "b.yaml")
    with pytest.raises(UserError, match="cannot access the file"):
        read_text(tmp_path / "a.yaml")
    with pytest.raises(UserError, match="cannot resolve the path"):
        resolved(tmp_path / "a.yaml")


@pytest.mark.parametrize("loc", [("model_list", 0, "litellm_params", "api_key"),
                                 ("router_settings",), ("a", 1, 2, "b")])
def test_parse_loc_inverts_format_loc(loc: tuple[str | int, ...]) -> None:
    assert parse_loc(format_loc(loc)) == loc
