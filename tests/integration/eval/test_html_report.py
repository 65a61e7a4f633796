"""The `crew eval --html` report: self-contained (no script, no outside URL), and headless
Chromium renders it with the pass-rate-vs-cost plot drawn (a screenshot, its pixels read)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from crew.eval.engine import EvalOutcome
from crew.eval.html import COLORS, render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SIZE = (1200, 900)


def _outcome(tmp_path: Path) -> EvalOutcome:
    results = [
        {"case": c, "variant": v, "repeat": 1, "passed": p, "status": "passed" if p else "failed",
         "usd": usd, "tokens": 1000, "calls": 4, "wall_s": 2.0, "run_id": f"r-{c}-{v}"}
        for c, v, p, usd in (("a", "single", True, 0.01), ("b", "single", False, 0.01),
                             ("a", "review", True, 0.03), ("b", "review", True, 0.03))]
    return EvalOutcome("20261201-000000-abcd", tmp_path, 0, ["single", "review"], results,
                       suite_name="demo")


def test_report_is_self_contained(tmp_path: Path) -> None:
    html = render_html(_outcome(tmp_path))
    assert "<script" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "") and "https://" not in html
    assert html.count('class="variant"') == 2 and 'id="plot"' in html
    assert "single 50%" in html and "review 100%" in html


def _png_pixels(data: bytes) -> tuple[int, int, list[bytearray]]:
    """A tiny PNG decoder (8-bit RGB/RGBA, non-interlaced, the five filters)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6) and body[12] == 0
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, rows


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_chromium_renders_the_plot(tmp_path: Path) -> None:
    page, png = tmp_path / "report.html", tmp_path / "shot.png"
    page.write_text(render_html(_outcome(tmp_path)), encoding="utf-8")
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                    f"--window-size={SIZE[0]},{SIZE[1]}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert png.is_file(), "chromium wrote no screenshot"
    width, height, rows = _png_pixels(png.read_bytes())
    assert (width, height) == SIZE
    bpp = len(rows[0]) // width
    seen = {c: 0 for c in COLORS[:2]}
    want = {c: tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in seen}
    for row in rows:
        for x in range(0, len(row), bpp):
            px = tuple(row[x:x + 3])
            for c, rgb in want.items():
                if all(abs(p - q) <= 6 for p, q in zip(px, rgb, strict=True)):
                    seen[c] += 1
    # each variant's point (an r=8 circle) and its interval bar are drawn in its colour
    assert all(n >= 150 for n in seen.values()), seen
