"""One case x variant x repeat: an ordinary crew run (or its resume), then the hidden checks on
the resulting branch, in the sandbox. Runs in a local thread or in a Ray worker alike."""

from __future__ import annotations

import asyncio
import enum
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import UserError

CHECK_TAIL = 2000


class CaseStatus(enum.StrEnum):
    """A case's outcome. `stopped` (suite budget) and `interrupted` resume; the rest are final."""

    PASSED = "passed"  # the run finished and every hidden check passed
    FAILED = "failed"  # the run finished (gates may have failed) and a hidden check failed
    BUDGET = "budget"  # the run's own budget stopped it; checks ran on what it left
    ERROR = "error"  # the run could not finish (its error is in `error`)
    STOPPED = "stopped"  # the suite budget stopped it: resumable
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM: resumable

    @property
    def final(self) -> bool:
        return self not in (CaseStatus.STOPPED, CaseStatus.INTERRUPTED)


@dataclass
class Job:
    """Everything a worker needs (plain data: it travels to Ray workers)."""

    key: str
    case: str
    variant: str
    repeat: int
    eval_id: str
    feature: str  # the variant's feature.yaml (specs/<key>/)
    repo: str  # the case repo (work/<key>/)
    hidden: str | None
    checks: list[dict[str, Any]]
    sandbox: str | None = None
    trace: bool = True
    max_parallel: int | None = None


@dataclass
class CaseResult:
    case: str
    variant: str
    repeat: int
    passed: bool
    status: str
    usd: float = 0.0
    tokens: int = 0
    calls: int = 0
    wall_s: float = 0.0
    run_id: str | None = None
    run_status: str | None = None
    branch: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failed_tests: list[str] = field(default_factory=list)  # named by the failed checks

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_run(repo: Path) -> Path | None:
    """The case repo's one run directory (each case repo holds exactly one run)."""
    runs = repo / ".crew" / "runs"
    found = sorted(p for p in runs.iterdir() if (p / "state.json").is_file()) \
        if runs.is_dir() else []
    return found[-1] if found else None


def ledger_totals(run_dir: Path) -> tuple[float, int, int]:
    """(usd, tokens, calls) from the run's own ledger.jsonl (torn lines skipped)."""
    usd, tokens, calls = 0.0, 0, 0
    path = run_dir / "ledger.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            usd += float(e.get("cost_usd") or 0)
            tokens += int(e.get("prompt_tokens") or 0) + int(e.get("completion_tokens") or 0)
            calls += 1
    return usd, tokens, calls


def run_job(job: Job, pool: Any, stop_requested: Any = None) -> CaseResult | None:
    """Run (or resume) the job's crew run with the suite budget `pool`, then its checks.
    None when the suite had already stopped before the job started."""
    import crew
    from crew.run.state import load_state

    if stop_requested is not None and stop_requested():
        return None
    repo = Path(job.repo)
    opts: dict[str, Any] = dict(
        repo=repo, trace=job.trace, shared_budget=pool, trace_session=job.eval_id,
        trace_tags=[f"eval:{job.eval_id}", f"variant:{job.variant}"],
        trace_metadata={"eval_id": job.eval_id, "variant": job.variant, "case": job.case,
                        "repeat": str(job.repeat)})
    if job.sandbox:
        opts["sandbox"] = job.sandbox
    if job.max_parallel:
        opts["max_parallel"] = job.max_parallel
    existing = find_run(repo)
    error = None
    try:
        if existing is None:
            crew.run_feature(job.feature, **opts)
        elif load_state(existing).status not in ("passed", "failed"):
            crew.resume_run(existing.name, **opts)
    except UserError as e:  # e.g. the sandbox vanished: this case's error, the others go on
        error = "; ".join(p.render() for p in e.problems) or str(e)
    run_dir = find_run(repo)
    if run_dir is None:
        return CaseResult(job.case, job.variant, job.repeat, False, CaseStatus.ERROR.value,
                          error=error or "the run did not start")
    state = load_state(run_dir)
    usd, tokens, calls = ledger_totals(run_dir)
    res = CaseResult(job.case, job.variant, job.repeat, False, CaseStatus.ERROR.value, usd,
                     tokens, calls, round(state.wall_s, 3), run_dir.name, state.status,
                     state.branch or None, error=error or state.stop_reason)
    reason = state.stop_reason or ""
    if state.status == "budget":
        # the SharedBudget's refusals read "suite budget ..." / "suite stopped: ..."
        res.status = (CaseStatus.STOPPED if "suite budget" in reason else
                      CaseStatus.INTERRUPTED if "suite stopped" in reason else
                      CaseStatus.BUDGET).value
    elif state.status == "interrupted":
        res.status = CaseStatus.INTERRUPTED.value
    if not CaseStatus(res.status).final or not state.branch:
        return res
    res.checks = hidden_checks(job, state.branch, state.sandbox_used or job.sandbox or "auto")
    res.passed = bool(res.checks) and all(c["passed"] for c in res.checks)
    res.failed_tests = [t for c in res.checks if not c["passed"] for t in c["failed_tests"]]
    if res.status == CaseStatus.ERROR.value and state.status in ("passed", "failed"):
        res.status = (CaseStatus.PASSED if res.passed else CaseStatus.FAILED).value
        res.error = None
    return res


def hidden_checks(job: Job, branch: str, sandbox_name: str) -> list[dict[str, Any]]:
    """Clone the run's branch next to the case repo, copy the hidden files in as hidden/, and
    run each check in the sandbox. The crew's worktrees never held them."""
    from crew.eval.failures import failed_tests
    from crew.eval.workdir import git
    from crew.tools.sandbox import select_sandbox
    from crew.tools.sandbox.environment import detect_environment

    repo = Path(job.repo)
    dest = repo.parent / (repo.name + ".checks")
    if dest.exists():
        shutil.rmtree(dest)
    git(repo.parent, "clone", "--quiet", "--branch", branch, str(repo), str(dest))
    if job.hidden:
        shutil.copytree(job.hidden, dest / "hidden", dirs_exist_ok=True)
    # the checks see the project's environment as the run's gates did (issue 24): the active
    # interpreter and toolchains, the case repository's environment directories
    environment = detect_environment(dest, environ=dict(os.environ), home=Path.home())
    sandbox = select_sandbox(sandbox_name, environment=environment)
    out = []
    for check in job.checks:
        t0 = time.monotonic()
        try:
            r = asyncio.run(sandbox.run(check["run"], workspace=dest,
                                        timeout=float(check.get("timeout") or 600)))
            code, text = r.exit_code, (r.stdout + "\n" + r.stderr).strip()
        except Exception as e:  # the sandbox failing is a failed check, never a crash
            code, text = -1, f"{type(e).__name__}: {e}"
        out.append({"name": check.get("name") or check["run"], "command": check["run"],
                    "exit_code": code, "passed": code == 0,
                    "failed_tests": failed_tests(text) if code != 0 else [],
                    "output": text[-CHECK_TAIL:], "duration_s": round(time.monotonic() - t0, 3)})
    return out
