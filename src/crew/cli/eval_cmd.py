"""`crew eval SUITE`: cases x variants x repeats as ordinary runs, judged by hidden checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crew.errors import UserError

if TYPE_CHECKING:
    from crew.eval.engine import EvalOutcome


def eval_command(
    suite: Annotated[Path, typer.Argument(help="The suite.yaml (cases, variants, budget).")],
    variants: Annotated[str | None, typer.Option(
        "--variants", help="Only these variants, comma-separated (default: all).")] = None,
    max_parallel: Annotated[int | None, typer.Option(
        "--max-parallel", help="Runs at once (default: the suite's max_parallel).")] = None,
    ray: Annotated[str | None, typer.Option(
        "--ray", is_flag=False, flag_value="auto", metavar="[ADDRESS]",
        help="Run cases as Ray tasks: `--ray` alone joins the cluster of `ray start --head` "
             "(address auto), `--ray local` starts one in-process, or give ray://HOST:PORT.")]
    = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object on stdout and nothing else.")] = False,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML report (pass rate vs cost plot).")] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", metavar="EVAL_ID", help="Continue an eval: finished cases are kept, "
        "stopped runs resume, the rest start.")] = None,
    budget_usd: Annotated[float | None, typer.Option(
        "--budget-usd", help="The suite's USD limit (replaces the suite's, e.g. on resume).")]
    = None,
    sandbox: Annotated[str | None, typer.Option(
        "--sandbox", help="auto, docker, bwrap or local (runs and checks).")] = None,
    no_trace: Annotated[bool, typer.Option("--no-trace", help="Do not send traces to "
                                           "Langfuse (events.jsonl is still written).")] = False,
) -> None:
    """Measure variants (crew, default pattern, models) on a suite of features: pass rate
    with a 95% interval, $, tokens, LLM calls and wall time. Exit 0 when the suite ran, 2 on
    bad input, 3 when the suite budget stopped it (resume with --resume EVAL_ID)."""
    from crew.eval.engine import EvalOptions, run_eval

    if budget_usd is not None and budget_usd <= 0:
        raise UserError("--budget-usd must be more than 0", field="--budget-usd")
    if max_parallel is not None and not 1 <= max_parallel <= 64:
        raise UserError("--max-parallel must be between 1 and 64", field="--max-parallel")
    if html is not None and not html.parent.resolve().is_dir():
        raise UserError("the folder of --html does not exist", file=str(html), field="--html")
    chosen = [v.strip() for v in variants.split(",") if v.strip()] if variants else None

    def say(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    outcome = run_eval(suite, EvalOptions(
        variants=chosen, max_parallel=max_parallel, ray=ray is not None,
        ray_address=None if ray in (None, "local") else ray, resume=resume,
        budget_usd=budget_usd, sandbox=sandbox, trace=not no_trace, say=say))
    if html is not None:
        from crew.eval.html import write_html

        write_html(outcome, html)
        say(f"wrote {html}")
    if json_out:
        from crew.eval.results import eval_json

        sys.stdout.write(json.dumps(eval_json(outcome.eval_id, outcome.variants,
                                              outcome.results)) + "\n")
    else:
        _print_table(outcome)
    if outcome.exit_code == 3:
        say(f"suite budget reached: {outcome.stop_reason}\n"
            f"continue with: crew eval {suite} --resume {outcome.eval_id} --budget-usd N")
    elif outcome.exit_code == 4:
        say(f"interrupted; continue with: crew eval {suite} --resume {outcome.eval_id}")
    raise typer.Exit(outcome.exit_code)


def _print_table(outcome: EvalOutcome) -> None:
    from crew.eval.results import summarize, wilson

    out = sys.stdout
    out.write(f"eval {outcome.eval_id} ({outcome.suite_name}): {outcome.directory}\n\n")
    out.write(f"{'variant':<16} {'pass rate':>9} {'95% CI':>13} {'n':>3} {'$':>10} "
              f"{'tokens':>9} {'calls':>6} {'wall s':>8}\n")
    for s in summarize(outcome.variants, outcome.results):
        low, high = wilson(s.passed, s.n)
        out.write(f"{s.id:<16} {s.pass_rate:>9.0%} {f'{low:.0%}-{high:.0%}':>13} {s.n:>3} "
                  f"{s.usd:>10.4f} {s.tokens:>9} {s.calls:>6} {s.wall_s:>8.1f}\n")
    out.write("\n")
    for r in outcome.results:
        mark = "PASS" if r["passed"] else "fail"
        out.write(f"  {mark}  {r['case']} / {r['variant']} #{r['repeat']}  {r['status']}  "
                  f"run {r['run_id'] or '-'}\n")
        for name in r.get("failed_tests") or []:
            out.write(f"        failed: {name}\n")
        why = case_reason(r)
        if why:
            out.write(f"        why: {why}\n")


def case_reason(r: dict[str, Any]) -> str:
    """Why a case did not pass, in one line: its error, its failing hidden checks (exit code
    and last output line), or what stopped its run; "" for a passed case."""
    if r.get("passed"):
        return ""
    if r.get("error"):
        return " ".join(str(r["error"]).split())[:200]
    failing = [c for c in r.get("checks") or [] if not c.get("passed")]
    parts = []
    for c in failing[:3]:
        lines = [x.strip() for x in str(c.get("output") or "").splitlines() if x.strip()]
        parts.append(f"check `{c.get('command') or c.get('name')}` exit {c.get('exit_code')}"
                     + (f": {lines[-1][:120]}" if lines else ""))
    if len(failing) > 3:
        parts.append(f"{len(failing) - 3} more checks failed")
    if not r.get("checks"):
        parts.append("no hidden check ran" + ("" if r.get("branch") else
                                              " (the run left no branch)"))
    if r.get("run_status") not in (None, "passed"):
        parts.append(f"the run ended {r['run_status']}")
    return "; ".join(parts)
