"""The run report: `report.md` in the run dir (also printed at the end of a run) and the short
terminal summary. Both are pure functions of the checkpoint, the plan and the ledger, and hold
no clock reading other than the run's wall time, so the same run always renders the same text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crew.run.budgets import budgets_section, resume_flag
from crew.run.state import GateResult, PlannedTask, RunState, RunStatus, TaskState

if TYPE_CHECKING:
    from crew.llm.ledger import Ledger, Totals
    from crew.patterns.decisions import Degraded

# error: the checkpoint is intact; `crew resume` retries once the cause is fixed
RESUMABLE: frozenset[RunStatus] = frozenset({RunStatus.BUDGET, RunStatus.INTERRUPTED,
                                             RunStatus.ERROR})
GATE_TAIL_LINES = 30
GATE_TAIL_CHARS = 3000

_STATUS_LINE = {
    "passed": "✅ passed: every gate passed",
    "failed": "❌ failed",
    "budget": "⏸ stopped: budget exhausted (resumable)",
    "interrupted": "⏸ interrupted (resumable)",
    "error": "❌ stopped by an error (resumable once it is fixed)",
    "rejected": "✋ plan rejected",
}
_SUMMARY_HEAD = {"passed": "✔ passed", "failed": "✘ failed", "budget": "⏸ budget exhausted",
                 "interrupted": "⏸ interrupted", "error": "✘ error",
                 "rejected": "✋ plan rejected"}
# the `crew resume` flag that raises each budget dimension
BUDGET_FLAGS = {"usd": "--budget-usd", "tokens": "--budget-tokens",
                "minutes": "--budget-minutes"}
# task statuses in the order both the live view and the summary count them
STATUS_ORDER = ("done", "failed", "guard", "no_consensus", "skipped", "budget", "interrupted", "error",
                "running", "pending")


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
    status, outcome = str(ts.status), str(ts.outcome or "")
    return f"{status} ({outcome})" if outcome and outcome != status else status


def _status_line(state: RunState) -> str:
    line = _STATUS_LINE.get(state.status, f"… in progress ({state.status})")
    if state.stop_reason:
        line += f": {state.stop_reason}"
    return line


def budget_kind(state: RunState) -> str | None:
    """Which limit stopped the run (usd, tokens or minutes), as the stop recorded it."""
    return state.budget_kind.value if state.budget_kind is not None else None


def _limit(state: RunState, kind: str, override: float | None = None) -> float | None:
    if override is not None:
        return override
    value = state.limits.get(kind)
    if value is None:
        value = {"usd": state.budget_usd, "tokens": state.budget_tokens,
                 "minutes": state.budget_minutes}[kind]
    return value


def suggested_budget(state: RunState, ledger: Ledger, limit_usd: float | None = None,
                     kind: str = "usd") -> str | None:
    """A new limit for a resume: twice the larger of the limit that stopped the run, what was
    spent of it and what the refused call needed; None when the limit is unknown."""
    limit = _limit(state, kind, limit_usd if kind == "usd" else None)
    if limit is None:
        return None
    limit = max(limit, state.budget_needed)
    if kind == "tokens":
        return str(2 * max(int(limit), ledger.total.tokens))
    if kind == "minutes":
        return f"{math.ceil(2 * max(limit, state.wall_s / 60))}"
    basis = max(limit, ledger.total.cost_usd)
    if basis <= 0:
        return None
    return f"{math.ceil(basis * 200) / 100:.2f}"


def resume_command(state: RunState, ledger: Ledger, limit_usd: float | None = None) -> str:
    """`crew resume <id>`; after a budget stop, with the flag that raises the limit that was
    hit (`--budget-tokens` after a token stop) set to a higher value."""
    cmd = f"crew resume {state.run_id}"
    scoped = resume_flag(state, ledger) if state.status == RunStatus.BUDGET else None
    if scoped:
        cmd += f" {scoped}"
    elif state.status == RunStatus.BUDGET:
        kind = budget_kind(state) or "usd"
        value = suggested_budget(state, ledger, limit_usd, kind)
        cmd += f" {BUDGET_FLAGS[kind]} {value or 'X'}"
    return cmd


def committed(state: RunState) -> bool:
    """Whether any task of the run committed work."""
    return any(ts.commit for ts in state.tasks.values())


def tasks_text(statuses: Iterable[str]) -> str:
    """`3 done, 1 failed`: the task counts as the live view and the summary both show them."""
    counts = Counter(statuses)
    order = [*STATUS_ORDER, *sorted(set(counts) - set(STATUS_ORDER))]
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s]) or "none"


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
    out += ["| Task | Title | Pattern | Roles | Outcome | Rounds | Commit | Cost (USD) | Tokens |",
            "|---|---|---|---|---|---:|---|---:|---:|"]
    errors: list[str] = []
    for tid in ids:
        planned = by_id.get(tid)
        ts = state.tasks.get(tid) or TaskState()
        spent = ledger.task(tid)
        title = planned.title if planned else tid
        pattern = planned.pattern if planned else ""
        roles = ", ".join(planned.roles) if planned else ""
        out.append(f"| {_code(tid)} | {_cell(title)} | {_cell(pattern)} | {_cell(roles)} "
                   f"| {_cell(_outcome(ts))} | {ts.rounds or ''} | {_code(short_sha(ts.commit))} "
                   f"| {spent.cost_usd:.4f} | {spent.tokens:,} |")
        if ts.error:
            errors.append(f"- {_code(tid)}: {_cell(ts.error)}")
    other = _unattributed(ledger, set(ids))
    if other.calls:
        out.append(f"| | Planning and other calls | | | | | | {other.cost_usd:.4f} "
                   f"| {other.tokens:,} |")
    out.append("")
    if errors:
        out += ["Errors:", "", *errors, ""]
    reviews = [(tid, state.tasks[tid].reviews) for tid in ids
               if tid in state.tasks and state.tasks[tid].reviews]
    if reviews:
        out += ["Changes reviewers requested:", ""]
        for tid, lines in reviews:
            out += [f"- {_code(tid)}: {_cell(line)}" for line in lines]
        out.append("")
    return out


_FALLBACK = {
    "read_from_text": "read from the plain-text marker",
    "changes_requested": "counted as changes requested, the text as the feedback",
    "abstained": "abstained",
    "provider_down": "abstained (the provider failed after retries)",
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
           f"{len(items)} decision(s) could not be read from the model's structured answer (or "
           "had no answer: a committee member's provider was down) and were taken by their "
           "documented fallback (docs/ARCHITECTURE.md, \"Degraded "
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
        why = ("the plan was rejected" if state.status == RunStatus.REJECTED
               else "the feature has no acceptance commands" if state.status == RunStatus.PASSED
               else "the run stopped before them")
        return [*out, f"No gate ran ({why}).", ""]
    out += ["| Gate | Command | Attempt | Result | Exit code | Time |",
            "|---|---|---:|---|---:|---:|"]
    multi: dict[str, str] = {}
    for g in state.gates:
        result = "✅ passed" if g.passed else "❌ failed"
        command = _code(_cell(g.command))
        if "\n" in g.command.strip():
            multi.setdefault(g.name, g.command.strip())
            command = "(below)"
        out.append(f"| {_cell(g.name)} | {command} | {g.attempt} | {result} "
                   f"| {g.exit_code} | {format_duration(g.duration_s)} |")
    out.append("")
    for name, command in multi.items():
        out += [f"{_cell(name)}:", "", *_fence(command, "sh"), ""]
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


def _knowledge_section(state: RunState) -> list[str]:
    """What the run added to the repository's notes (crew.run.knowledge); none when off."""
    k = state.knowledge
    if k is None:
        return []
    out = ["## Knowledge", ""]
    refused = f" ({k.refused} refused: secret, chatter or too long)" if k.refused else ""
    if k.added:
        out += [f"Added to `{k.file}`{refused}:", "", *(f"- {_cell(a)}" for a in k.added)]
    else:
        out += [f"Nothing added to `{k.file}`{refused}: {_cell(k.note or 'nothing new')}."]
    return [*out, ""]


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


def _merge_advice(state: RunState) -> str:
    """Why the result is (not) offered for merging: '' when it is."""
    if state.status != RunStatus.PASSED:
        return {"rejected": "the plan was rejected", "failed": "the run failed",
                "error": "the run stopped on an error"}.get(state.status, "the run is not finished")
    if not committed(state):
        return "the run committed nothing"
    return ""


def _next_section(state: RunState, ledger: Ledger, limit_usd: float | None) -> list[str]:
    out = ["## Next steps", ""]
    why_not = _merge_advice(state)
    if state.branch and not why_not:
        since = f"{short_sha(state.base)}.." if state.base else ""
        untouched = ("" if state.host_changes != [] else
                     "; your own branch is untouched")
        out += [f"The result is on branch `{state.branch}`{untouched}. In your repository, "
                "on your branch:", ""]
        cmds = [(f"cd {_shell_path(state.repo)}", ""),
                (f"git log --oneline {since}{state.branch}", "# what the crew committed"),
                (f"git diff HEAD...{state.branch}", "# the whole change"),
                (f"git merge --no-ff {state.branch}", "# take it"),
                (f"git branch -d {state.branch}", "# then drop the run's branch")]
        width = max(len(c) for c, _ in cmds)
        out += _fence("\n".join(f"{c:<{width}}  {note}".rstrip() for c, note in cmds), "sh")
        out.append("")
    elif state.branch and committed(state):
        out += [f"Not offered for merging: {why_not}. The partial work is on branch "
                f"`{state.branch}`:", ""]
        out += _fence(f"cd {_shell_path(state.repo)}\n"
                      f"git log --oneline {short_sha(state.base) + '..' if state.base else ''}"
                      f"{state.branch}", "sh")
        out.append("")
    elif state.branch and state.status not in RESUMABLE:
        out += [f"Nothing to merge: {why_not}.", ""]
    if state.status in RESUMABLE:
        out += ["The run can continue where it stopped:", ""]
        cmd = resume_command(state, ledger, limit_usd)
        out += _fence(cmd, "sh")
        out.append("")
        if cmd.endswith(" X"):
            kind = budget_kind(state) or "usd"
            spent = {"usd": f"${ledger.total.cost_usd:.4f}", "tokens": f"{ledger.total.tokens:,}",
                     "minutes": format_duration(state.wall_s)}[kind]
            name = {"usd": "USD", "tokens": "token", "minutes": "minutes"}[kind]
            out += [f"X: a new {name} limit, above the {spent} spent so far.", ""]
    out += ["The conversation, task by task:", "", *_fence(f"crew show {state.run_id}", "sh"),
            ""]
    if state.cleanup:
        out += ["Cleanup at the end of the run: " + "; ".join(state.cleanup) + ".", ""]
    if state.status not in RESUMABLE:
        out += ["Remove what is left of the run (worktrees, task branches, this directory; the "
                "branch only when it is merged or empty):", "",
                *_fence(f"crew clean {state.run_id}", "sh"), ""]
    return out


def _shell_path(path: str) -> str:
    import shlex

    return shlex.quote(path)


def _plan_section(state: RunState) -> list[str]:
    """What re-asking and repairing the supervisor's plan changed (each role swapped, role
    added, dependency dropped...): a repaired plan is never silent."""
    if not state.plan_notes:
        return []
    return ["## Plan repairs", "", *(f"- {_cell(n)}" for n in state.plan_notes), ""]


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
    lines += _plan_section(state)
    lines += _gates_section(state)
    lines += _knowledge_section(state)
    lines += _safety_section(state)
    lines += _totals_section(state, ledger)
    lines += budgets_section(state, ledger)
    lines += _next_section(state, ledger, limit_usd)
    return "\n".join(lines).rstrip() + "\n"


def render_summary(state: RunState, ledger: Ledger, *,
                   limit_usd: float | None = None) -> list[str]:
    """3–5 short lines for the terminal at the end of a run."""
    head = _SUMMARY_HEAD.get(state.status, state.status)
    first = f"{head}: {state.feature_title} (run {state.run_id})"
    if state.stop_reason and state.status != RunStatus.PASSED:
        first += f": {state.stop_reason}"
    tasks = tasks_text(ts.status for ts in state.tasks.values())
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
    why_not = _merge_advice(state)
    if state.branch and not why_not:
        lines.append(f"branch {state.branch}: merge it in {state.repo} with "
                     f"`git merge --no-ff {state.branch}`")
    elif state.branch and state.status not in RESUMABLE:
        lines.append(f"branch {state.branch}: not offered for merging ({why_not})")
    degraded = all_degraded(state, [])
    if degraded:
        lines.append(f"⚠ {len(degraded)} decision(s) degraded (an answer that could not be "
                     "read): see the report")
    if state.host_changes:
        lines.append(f"⚠ {len(state.host_changes)} change(s) in your repository crew did not "
                     "make (refs, hooks or config): see the report")
    if state.status in RESUMABLE:
        lines.append(f"resume with `{resume_command(state, ledger, limit_usd)}`")
    lines.append(f"conversation: `crew show {state.run_id}` · report: "
                 f"{state.repo}/.crew/runs/{state.run_id}/report.md")
    return lines


REVIEW_LINES = 20  # requested changes kept per task for the report


def review_lines(votes: list[dict[str, Any]]) -> list[str]:
    """The changes reviewers requested (review_loop verdicts, a lead's redo list), one short
    line each: `round 2, reviewer: todo.py:12: problem`."""
    out: list[str] = []
    for v in votes:
        if v.get("approved") is not False:
            continue
        who = f"round {v.get('round', '?')}, {v.get('role', 'reviewer')}"
        items = v.get("changes") or v.get("redo") or []
        if not items:
            out.append(f"{who}: {str(v.get('summary', ''))[:200]}")
        for c in items if isinstance(items, list) else []:
            if not isinstance(c, dict):
                continue
            where = str(c.get("file") or c.get("id") or "")
            if c.get("line"):
                where += f":{c['line']}"
            what = str(c.get("problem") or c.get("feedback") or "")
            out.append(f"{who}: {where + ': ' if where else ''}{' '.join(what.split())[:200]}")
    return out[:REVIEW_LINES]
