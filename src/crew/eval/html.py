"""`crew eval --html FILE`: one self-contained page (inline CSS and SVG, no script, no
network) with the pass rate vs cost plot (one point per variant, its 95% interval as a bar),
the per-variant table and every case's outcome."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from crew.errors import UserError
from crew.eval.results import VariantSummary, summarize, wilson

if TYPE_CHECKING:
    from crew.eval.engine import EvalOutcome

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 360, 64, 24, 20, 48
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


def cost_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round ticks from 0 past `maximum`: a step of 1, 2, 2.5 or 5 times a power of ten, so
    labels read $0.0002, $0.0004 ..., not $0.000736."""
    import math

    if maximum <= 0 or not math.isfinite(maximum):
        return [i / count for i in range(count + 1)]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 12) for i in range(n + 1)]


def tick_label(value: float, step: float) -> str:
    """`$value` with the decimals the step needs (and no more)."""
    import math

    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    if decimals and round(step * 10 ** decimals) != step * 10 ** decimals:
        decimals += 1  # 2.5 × 10^k
    return f"${value:.{decimals}f}"


def plot_svg(summaries: list[VariantSummary]) -> str:
    """Pass rate (y, 0-100%) against $ per run (x) for each variant, with its Wilson bar."""
    costs = [s.usd / s.n if s.n else 0.0 for s in summaries]
    ticks = cost_ticks(max(costs, default=0.0) * 1.1)
    top = ticks[-1]
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(v: float) -> float:
        return PAD_L + pw * v / top

    def y(v: float) -> float:
        return PAD_T + ph * (1 - v)

    parts = [f'<svg id="plot" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" aria-label="pass rate vs cost per variant">',
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="#f7f7f7" '
             'stroke="#999"/>']
    for i in range(6):
        v = i / 5
        parts.append(f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="#ddd"/><text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end" font-size="11">{v:.0%}</text>')
    for i, c in enumerate(ticks):  # the last label ends at the plot's edge: never clipped
        anchor = "end" if i == len(ticks) - 1 else "middle"
        parts.append(f'<text x="{x(c):.1f}" y="{PAD_T + ph + 16}" text-anchor="{anchor}" '
                     f'font-size="11">{tick_label(c, ticks[1] - ticks[0])}</text>')
    parts.append(f'<text x="{PAD_L + pw / 2}" y="{H - 8}" text-anchor="middle" '
                 'font-size="12">$ per run (mean)</text>')
    parts.append(f'<text x="14" y="{PAD_T + ph / 2}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {PAD_T + ph / 2})">pass rate (95% CI)</text>')
    for i, (s, cost) in enumerate(zip(summaries, costs, strict=True)):
        color = COLORS[i % len(COLORS)]
        low, high = wilson(s.passed, s.n)
        cx, cy = x(cost), y(s.pass_rate)
        parts.append(f'<g class="variant" data-variant="{escape(s.id)}">'
                     f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" '
                     f'stroke="{color}" stroke-width="3"/>'
                     f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="8" fill="{color}"/>'
                     f'<text x="{cx + 12:.1f}" y="{cy - 10:.1f}" font-size="13" '
                     f'fill="{color}">{escape(s.id)} {s.pass_rate:.0%}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(outcome: EvalOutcome) -> str:
    summaries = summarize(outcome.variants, outcome.results)
    rows = "".join(
        f"<tr><td>{escape(s.id)}</td><td>{s.pass_rate:.0%}</td>"
        f"<td>{wilson(s.passed, s.n)[0]:.0%}–{wilson(s.passed, s.n)[1]:.0%}</td>"
        f"<td>{s.passed}/{s.n}</td><td>${s.usd:.4f}</td><td>{s.tokens}</td><td>{s.calls}</td>"
        f"<td>{s.wall_s:.1f}</td></tr>" for s in summaries)
    cases = "".join(
        f"<tr class=\"{'pass' if r['passed'] else 'fail'}\"><td>{escape(r['case'])}</td>"
        f"<td>{escape(r['variant'])}</td><td>{r['repeat']}</td>"
        f"<td>{'pass' if r['passed'] else 'fail'}</td><td>{escape(r['status'])}</td>"
        f"<td>${r['usd']:.4f}</td><td>{r['tokens']}</td><td>{r['calls']}</td>"
        f"<td>{r['wall_s']:.1f}</td><td>{escape(r.get('run_id') or '-')}</td></tr>"
        for r in outcome.results)
    stop = (f"<p class=\"stop\">Stopped: {escape(outcome.stop_reason)} — resume with "
            f"<code>crew eval SUITE --resume {escape(outcome.eval_id)}</code></p>"
            if outcome.stop_reason else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>crew eval {escape(outcome.suite_name)} {escape(outcome.eval_id)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff}}
table{{border-collapse:collapse;margin:12px 0}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}
tr.fail td{{background:#fdecea}} tr.pass td{{background:#eaf7ea}} .stop{{color:#b00}}
</style></head><body>
<h1>crew eval: {escape(outcome.suite_name)}</h1>
<p>eval <code>{escape(outcome.eval_id)}</code> · results in <code>{escape(str(outcome.directory))}</code></p>
{stop}
<h2>Pass rate vs cost</h2>
{plot_svg(summaries)}
<h2>Variants</h2>
<table><tr><th>variant</th><th>pass rate</th><th>95% CI</th><th>passed</th><th>$</th>
<th>tokens</th><th>calls</th><th>wall s</th></tr>{rows}</table>
<h2>Cases</h2>
<table><tr><th>case</th><th>variant</th><th>repeat</th><th>checks</th><th>status</th><th>$</th>
<th>tokens</th><th>calls</th><th>wall s</th><th>run</th></tr>{cases}</table>
</body></html>
"""


def write_html(outcome: EvalOutcome, path: Path) -> None:
    from crew.observability.redact import scrub

    try:
        path.write_text(scrub(render_html(outcome)), encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write the report: {e.strerror or e}", file=str(path),
                        field="--html") from None
