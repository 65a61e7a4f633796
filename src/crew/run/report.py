"""The run report: `report.md` in the run dir (also printed at the end of a run) and the short
terminal summary. Both are pure functions of the checkpoint, the plan and the ledger, and hold
no clock reading other than the run's wall time, so the same run always renders the same text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from crew.run.state import GateResult, PlannedTask, RunState, TaskState

if TYPE_CHECKING:
    from crew.llm.ledger import Ledger, Totals
    from crew.patterns.decisions import Degraded

# error: the checkpoint is intact; `crew resume` retries once the cause is fixed
RESUMABLE: frozenset[str] = frozenset({"budget", "interrupted", "error"})
GATE_TAIL_LINES = 30
GATE_TAIL_CHARS = 3000

_STATUS_LINE = {
    "passed": "✅ passed: every gate passed",
    "failed": "❌ failed",
    "budget": "⏸ stopped: budget exhausted (resumable)",
    "interrupted": "⏸ interrupted (resumable)",
    "error": "❌ stopped by an error (resumable once it is fixed)",
}
_SUMMARY_HEAD = {"passed": "✔ passed", "failed": "✘ failed", "budget": "⏸ budget exhausted",
                 "interrupted": "⏸ interrupted", "error": "✘ error"}


def format_duration(seconds: float) -> str:
    """`12.3s`, `2m 05s`, `1h 02m 03s`."""
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def short_sha(sha: str | None) -> str:
    return sha[:8] if sha else ""


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _fence(body: str, lang: str = "text") -> list[str]:
    """A fenced block longer than any backtick run inside `body`."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", body, fence]


def _tail(output: str) -> str:
    lines = output.rstrip().splitlines()[-GATE_TAIL_LINES:]
    text = "\n".join(lines)
    return text[-GATE_TAIL_CHARS:]


def task_order(state: RunState, plan: list[PlannedTask]) -> list[str]:
    """Task ids in plan order, then tasks added during the run (merge and gate fixes)."""
    ids = [t.id for t in plan]
    ids += [i for i in state.order if i not in ids]
    ids += [i for i in state.tasks if i not in ids]
    return ids


def _outcome(ts: TaskState) -> str:
    if ts.outcome and ts.outcome != ts.status:
        return f"{ts.status} ({ts.outcome})"
    return ts.status


def _status_line(state: RunState) -> str:
    line = _STATUS_LINE.get(state.status, f"… in progress ({state.status})")
    if state.stop_reason:
        line += f": {state.stop_reason}"
    return line


def suggested_budget(state: RunState, ledger: Ledger, limit_usd: float | None = None
                     ) -> str | None:
    """A `--budget-usd` value for a resume: twice the larger of the USD limit and the spend;
    None when the limit is unknown (a token or minute limit may have stopped the run)."""
    limit = limit_usd if limit_usd is not None else state.budget_usd
    if limit is None:
        return None
    basis = max(limit, ledger.total.cost_usd)
    if basis <= 0:
        return None
    return f"{math.ceil(basis * 200) / 100:.2f}"


def resume_command(state: RunState, ledger: Ledger, limit_usd: float | None = None) -> str:
    """`crew resume <id>`, with a raised `--budget-usd` after a budget stop."""
    cmd = f"crew resume {state.run_id}"
    if state.status == "budget":
        usd = suggested_budget(state, ledger, limit_usd)
        cmd += f" --budget-usd {usd or 'X'}"
    return cmd


def latest_gates(gates: list[GateResult]) -> list[GateResult]:
    """The results of the last gate attempt (what decided the run's status)."""
    if not gates:
        return []
    last = max(g.attempt for g in gates)
    return [g for g in gates if g.attempt == last]


def _tasks_section(state: RunState, plan: list[PlannedTask], ledger: Ledger) -> list[str]:
    by_id = {t.id: t for t in plan}
    out = ["## Tasks", ""]
    ids = task_order(state, plan)
    if not ids:
        return [*out, "No tasks were planned.", ""]
    out += ["| Task | Title | Pattern | Roles | Outcome | Commit | Cost (USD) | Tokens |",
            "|---|---|---|---|---|---|---:|---:|"]
    errors: list[str] = []
    for tid in ids:
        planned = by_id.get(tid)
        ts = state.tasks.get(tid) or TaskState()
        spent = ledger.task(tid)
        title = planned.title if planned else tid
        pattern = planned.pattern if planned else ""
        roles = ", ".join(planned.roles) if planned else ""
        out.append(f"| {_code(tid)} | {_cell(title)} | {_cell(pattern)} | {_cell(roles)} "
                   f"| {_cell(_outcome(ts))} | {_code(short_sha(ts.commit))} "
                   f"| {spent.cost_usd:.4f} | {spent.tokens:,} |")
        if ts.error:
            errors.append(f"- {_code(tid)}: {_cell(ts.error)}")
    other = _unattributed(ledger, set(ids))
    if other.calls:
        out.append(f"| | Planning and other calls | | | | | {other.cost_usd:.4f} "
                   f"| {other.tokens:,} |")
    out.append("")
    if errors:
        out += ["Errors:", "", *errors, ""]
    return out


_FALLBACK = {
    "read_from_text": "read from the plain-text marker",
    "changes_requested": "counted as changes requested, the text as the feedback",
    "abstained": "abstained",
    "no_decision": "no decision (the proposals are kept)",
    "single_subtask": "the whole task as one subtask for the first worker",
    "single_task": "the goal as one task",
}


def all_degraded(state: RunState, plan: list[PlannedTask]) -> list[Degraded]:
    """The run plan's degraded decisions, then each task's in task order."""
    out = list(state.degraded)
    for tid in task_order(state, plan):
        ts = state.tasks.get(tid)
        if ts is not None:
            out += ts.degraded
    return out


def _degraded_section(state: RunState, plan: list[PlannedTask]) -> list[str]:
    """Each decision a fallback took because the model's structured answer was unreadable."""
    items = all_degraded(state, plan)
    if not items:
        return []
    out = ["## Degraded decisions", "",
           f"{len(items)} decision(s) could not be read from the model's structured answer and "
           "were taken by their documented fallback (docs/ARCHITECTURE.md, \"Degraded "
           "decisions\"):", "",
           "| Task | Decision | Role | Round | Fallback | Why | The answer began |",
           "|---|---|---|---:|---|---|---|"]
    for d in items:
        out.append(f"| {_code(d.task)} | {d.decision.value} | {_cell(d.role)} "
                   f"| {d.round or ''} | {_FALLBACK.get(d.reason.value, d.reason.value)} "
                   f"| {_cell(d.error[:160])} | {_cell(d.excerpt[:120])} |")
    return [*out, ""]


def _unattributed(ledger: Ledger, task_ids: set[str]) -> Totals:
    from crew.llm.ledger import Totals

    rest = Totals()
    for e in ledger.entries:
        if e.task_id not in task_ids:
            rest.add(e)
    return rest


def _gates_section(state: RunState) -> list[str]:
    out = ["## Gates", ""]
    if not state.gates:
        why = "the run stopped before them" if state.status in RESUMABLE \
            else "the feature has no acceptance commands"
        return [*out, f"No gate ran ({why}).", ""]
    out += ["| Gate | Command | Attempt | Result | Exit code | Time |",
            "|---|---|---:|---|---:|---:|"]
    for g in state.gates:
        result = "✅ passed" if g.passed else "❌ failed"
        out.append(f"| {_cell(g.name)} | {_code(_cell(g.command))} | {g.attempt} | {result} "
                   f"| {g.exit_code} | {format_duration(g.duration_s)} |")
    out.append("")
    if state.fix_rounds:
        out += [f"Fix rounds after failed gates: {state.fix_rounds}.", ""]
    for g in state.gates:
        if g.passed:
            continue
        out += ["<details>",
                f"<summary>{_cell(g.name)} (attempt {g.attempt}): exit {g.exit_code}, "
                "last lines of output</summary>", ""]
        out += _fence(_tail(g.output) or "(no output)")
        out += ["", "</details>", ""]
    return out


def _safety_section(state: RunState) -> list[str]:
    """Where commands ran, under which limits, and what changed in the user's repository."""
    out = ["## Sandbox and your repository", ""]
    if state.sandbox_used:
        limits = f": {state.sandbox_limits}" if state.sandbox_limits else ""
        note = " — no filesystem isolation" if state.sandbox_used == "local" else ""
        out += [f"- Commands and gates ran in the `{state.sandbox_used}` sandbox{note}{limits}."]
    if state.host_changes is None:
        out += ["- Your repository's refs, hooks and config were not checked after this run."]
    elif not state.host_changes:
        out += ["- After the run, crew checked your repository's refs, hooks and config: "
                "nothing changed but the run's own branches."]
    else:
        out += [f"- ⚠ **{len(state.host_changes)} change(s) in your repository that crew did "
                "not make** (refs, hooks or config; values are not shown). Check them before "
                "you commit or fetch:", ""]
        out += [f"  - {_cell(c)}" for c in state.host_changes]
    return [*out, ""]


def _totals_section(state: RunState, ledger: Ledger) -> list[str]:
    t = ledger.total
    return ["## Totals", "",
            "| Cost (USD) | Tokens (prompt + completion) | LLM calls | Wall time |",
            "|---:|---:|---:|---:|",
            f"| {t.cost_usd:.4f} | {t.tokens:,} ({t.prompt_tokens:,} + "
            f"{t.completion_tokens:,}) | {t.calls:,} | {format_duration(state.wall_s)} |", ""]


def _next_section(state: RunState, ledger: Ledger, limit_usd: float | None) -> list[str]:
    out = ["## Next steps", ""]
    if state.branch:
        since = f"{short_sha(state.base)}.." if state.base else ""
        untouched = ("" if state.host_changes != [] else
                     "; your own branch is untouched")
        out += [f"The result is on branch `{state.branch}`{untouched}. From your branch:", ""]
        cmds = [(f"git log --oneline {since}{state.branch}", "# what the crew committed"),
                (f"git diff HEAD...{state.branch}", "# the whole change"),
                (f"git merge --no-ff {state.branch}", "# take it")]
        width = max(len(c) for c, _ in cmds)
        out += _fence("\n".join(f"{c:<{width}}  {note}" for c, note in cmds), "sh")
        out.append("")
    if state.status in RESUMABLE:
        out += ["The run can continue where it stopped:", ""]
        cmd = resume_command(state, ledger, limit_usd)
        out += _fence(cmd, "sh")
        out.append("")
        if cmd.endswith(" X"):
            out += [f"X: a new USD limit, above the ${ledger.total.cost_usd:.4f} spent so far.",
                    ""]
    return out


def render_report(state: RunState, plan: list[PlannedTask], ledger: Ledger, *,
                  limit_usd: float | None = None) -> str:
    """The Markdown report of a run (what `report.md` holds). `limit_usd`: the run's USD
    budget, so a budget stop suggests a higher one (else `state.budget_usd` is used)."""
    lines = [f"# {state.feature_title}", "",
             f"- **Run:** `{state.run_id}`",
             f"- **Status:** {_status_line(state)}"]
    if state.branch:
        base = f" (from `{short_sha(state.base)}`)" if state.base else ""
        lines.append(f"- **Branch:** `{state.branch}`{base}")
    if state.trace_url:
        lines.append(f"- **Trace:** {state.trace_url}")
    lines.append("")
    lines += _tasks_section(state, plan, ledger)
    lines += _degraded_section(state, plan)
    lines += _gates_section(state)
    lines += _safety_section(state)
    lines += _totals_section(state, ledger)
    lines += _next_section(state, ledger, limit_usd)
    return "\n".join(lines).rstrip() + "\n"


def render_summary(state: RunState, ledger: Ledger, *,
                   limit_usd: float | None = None) -> list[str]:
    """3–5 short lines for the terminal at the end of a run."""
    head = _SUMMARY_HEAD.get(state.status, state.status)
    first = f"{head}: {state.feature_title} (run {state.run_id})"
    if state.stop_reason and state.status != "passed":
        first += f": {state.stop_reason}"
    counts = Counter(ts.status for ts in state.tasks.values())
    tasks = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    gates = latest_gates(state.gates)
    if not gates:
        gate_text = "no gate ran"
    elif all(g.passed for g in gates):
        gate_text = f"{len(gates)}/{len(gates)} gates passed"
    else:
        failed = sum(not g.passed for g in gates)
        gate_text = f"{failed}/{len(gates)} gates failed"
    t = ledger.total
    lines = [first, f"tasks: {tasks} · {gate_text}",
             f"cost ${t.cost_usd:.4f} · {t.tokens:,} tokens · {t.calls:,} LLM "
             f"call{'' if t.calls == 1 else 's'} · "
             f"{format_duration(state.wall_s)}"]
    if state.branch:
        lines.append(f"branch {state.branch}: merge with `git merge --no-ff {state.branch}`")
    degraded = all_degraded(state, [])
    if degraded:
        lines.append(f"⚠ {len(degraded)} decision(s) degraded (an answer that could not be "
                     "read): see the report")
    if state.host_changes:
        lines.append(f"⚠ {len(state.host_changes)} change(s) in your repository crew did not "
                     "make (refs, hooks or config): see the report")
    if state.status in RESUMABLE:
        lines.append(f"resume with `{resume_command(state, ledger, limit_usd)}`")
    return lines
