"""Per-variant aggregation (pass rate with a Wilson interval, $, tokens, calls, wall time) and
the one JSON object `crew eval --json` prints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Z95 = 1.959963984540054


def wilson(passed: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a pass rate (95% by default); (0, 1) with no samples."""
    if n == 0:
        return 0.0, 1.0
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class VariantSummary:
    id: str
    n: int
    passed: int
    usd: float
    tokens: int
    calls: int
    wall_s: float

    @property
    def pass_rate(self) -> float:
        return self.passed / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        low, high = wilson(self.passed, self.n)
        return {"id": self.id, "pass_rate": round(self.pass_rate, 4),
                "ci95": [round(low, 4), round(high, 4)], "n": self.n, "passed": self.passed,
                "usd": round(self.usd, 6), "tokens": self.tokens, "calls": self.calls,
                "wall_s": round(self.wall_s, 3)}


def summarize(variants: list[str], results: list[dict[str, Any]]) -> list[VariantSummary]:
    """Totals per variant over its results; the pass rate counts finished cases only (a case
    the suite budget stopped is resumable, not failed), the costs count every run."""
    from crew.eval.execute import CaseStatus

    out = []
    for v in variants:
        mine = [r for r in results if r["variant"] == v]
        final = [r for r in mine if CaseStatus(r["status"]).final]
        out.append(VariantSummary(
            v, len(final), sum(1 for r in final if r["passed"]),
            sum(r["usd"] for r in mine), sum(r["tokens"] for r in mine),
            sum(r["calls"] for r in mine), sum(r["wall_s"] for r in mine)))
    return out


RESULT_KEYS = ("case", "variant", "repeat", "passed", "status", "usd", "tokens", "calls",
               "wall_s", "run_id", "failed_tests")


def eval_json(eval_id: str, variants: list[str], results: list[dict[str, Any]],
              **extra: Any) -> dict[str, Any]:
    return {"eval_id": eval_id, **extra,
            "variants": [s.to_dict() for s in summarize(variants, results)],
            "results": [{k: r.get(k) for k in RESULT_KEYS} for r in results]}
