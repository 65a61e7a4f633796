"""The eval: its directory, its jobs, local execution in threads (or on Ray), resume.

`<suite dir>/.crew-eval/<eval-id>/eval.json` holds the options and every result, written
atomically after each case; `work/<key>/` the case repos (each with its one run under
`.crew/runs/`), `specs/<key>/` the variants' features. `--resume EVAL_ID` keeps final results,
resumes runs that stopped (suite budget, Ctrl-C, a killed process) and starts the rest."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import UserError
from crew.eval.execute import CaseResult, CaseStatus, Job, find_run, ledger_totals, run_job
from crew.eval.suite import Suite, load_suite
from crew.eval.workdir import make_repo, write_spec

EVAL_DIR = ".crew-eval"
STATE_FILE = "eval.json"
EXIT_OK, EXIT_BAD_INPUT, EXIT_BUDGET, EXIT_INTERRUPTED = 0, 2, 3, 4


@dataclass
class EvalOptions:
    variants: list[str] | None = None
    max_parallel: int | None = None
    ray: bool = False
    ray_address: str | None = None
    resume: str | None = None
    budget_usd: float | None = None
    sandbox: str | None = None
    trace: bool = True
    say: Callable[[str], None] = lambda _text: None


@dataclass
class EvalOutcome:
    eval_id: str
    directory: Path
    exit_code: int
    variants: list[str]
    results: list[dict[str, Any]]
    stop_reason: str | None = None
    suite_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def new_eval_id() -> str:
    import secrets

    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from crew.run.state import write_atomic  # the one durable writer: fsynced, redacted

    write_atomic(path, json.dumps(data, indent=2))


def run_eval(suite_path: Path, opts: EvalOptions) -> EvalOutcome:
    """Check the suite (UserError before anything exists), then run or resume the eval."""
    saved: dict[str, Any] = {}
    if opts.resume:
        d = suite_path.resolve().parent / EVAL_DIR / opts.resume
        if not (d / STATE_FILE).is_file():
            known = sorted(p.name for p in d.parent.glob("*") if (p / STATE_FILE).is_file()) \
                if d.parent.is_dir() else []
            raise UserError(f"no eval {opts.resume!r} for this suite", file=str(suite_path),
                            hint="evals here: " + (", ".join(known) or "none"))
        saved = json.loads((d / STATE_FILE).read_text(encoding="utf-8"))
    variants = opts.variants or saved.get("variants_selected")
    suite = load_suite(suite_path, variants)
    usd = opts.budget_usd if opts.budget_usd is not None else saved.get("budget_usd", suite.usd)
    if opts.sandbox:
        from crew.tools.sandbox import select_sandbox

        select_sandbox(opts.sandbox)  # unavailable: exit 2 before anything exists
    parallel = opts.max_parallel or suite.max_parallel
    if opts.ray:
        from crew.eval.ray_exec import connect

        connect(opts.ray_address, None if opts.ray_address else parallel)
    eval_id = opts.resume or new_eval_id()
    d = suite.dir / EVAL_DIR / eval_id
    d.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "eval_id": eval_id, "suite": str(suite.path), "name": suite.name,
        "variants_selected": [v.id for v in suite.variants], "budget_usd": usd,
        "sandbox": opts.sandbox or saved.get("sandbox"), "results": saved.get("results", {}),
        "created_at": saved.get("created_at", time.time())}
    _write_json(d / STATE_FILE, state)
    jobs = _jobs(suite, d, eval_id, state, opts)
    spent = _spent(d, state)
    lock = threading.Lock()

    def record(res: CaseResult, key: str) -> None:
        with lock:
            state["results"][key] = res.to_dict()
            _write_json(d / STATE_FILE, state)
        opts.say(f"{res.case} / {res.variant} #{res.repeat}: {res.status}"
                 f"{' (checks pass)' if res.passed else ''}  ${res.usd:.4f}  {res.tokens} tok")

    opts.say(f"eval {eval_id}: {len(jobs)} run(s) to go, up to {parallel} at once"
             f"{' on Ray' if opts.ray else ''}; results in {d}")
    if opts.ray:
        from crew.eval.ray_exec import run_on_ray

        stop = run_on_ray(jobs, usd, suite.tokens, spent, parallel, opts.ray_address, record)
    else:
        stop = _run_local(jobs, usd, suite.tokens, spent, parallel, record)
    state["finished_at"] = time.time()
    _write_json(d / STATE_FILE, state)
    order = {j: i for i, j in enumerate(_keys(suite))}
    results = sorted(state["results"].values(),
                     key=lambda r: order.get(_key(r["case"], r["variant"], r["repeat"]), 0))
    pending = [k for k in _keys(suite) if k not in state["results"]
               or not CaseStatus(state["results"][k]["status"]).final]
    code = EXIT_OK
    if pending and stop:
        code = EXIT_INTERRUPTED if stop.startswith("suite stopped") else EXIT_BUDGET
    return EvalOutcome(eval_id, d, code, [v.id for v in suite.variants], results,
                       stop if pending else None, suite.name,
                       {"pending": len(pending)})


def _key(case: str, variant: str, repeat: int) -> str:
    return f"{case}--{variant}--{repeat}"


def _keys(suite: Suite) -> list[str]:
    return [_key(c.id, v.id, r) for c in suite.cases for v in suite.variants
            for r in range(1, suite.repeat + 1)]


def _jobs(suite: Suite, d: Path, eval_id: str, state: dict[str, Any],
          opts: EvalOptions) -> list[Job]:
    """The jobs without a final result; case repos and specs made for those never started."""
    jobs = []
    for case in suite.cases:
        for variant in suite.variants:
            for r in range(1, suite.repeat + 1):
                key = _key(case.id, variant.id, r)
                done = state["results"].get(key)
                if done and CaseStatus(done["status"]).final:
                    continue
                repo, spec = d / "work" / key, d / "specs" / key
                if find_run(repo) is None:  # never started (or died before its run dir)
                    make_repo(case.repo, repo, case.hidden)
                    write_spec(case.feature, spec, crew=variant.crew, pattern=variant.pattern,
                               models=variant.models_for(case.id))
                jobs.append(Job(key, case.id, variant.id, r, eval_id, str(spec / "feature.yaml"),
                                str(repo), str(case.hidden) if case.hidden else None,
                                [dict(c) for c in case.checks], state.get("sandbox"),
                                opts.trace))
    return jobs


def _spent(d: Path, state: dict[str, Any]) -> tuple[float, int]:
    """What the eval's runs spent so far (their ledgers): counted against the suite budget."""
    usd, tokens = 0.0, 0
    work = d / "work"
    for repo in sorted(work.iterdir()) if work.is_dir() else []:
        run = find_run(repo)
        if run is not None:
            u, t, _ = ledger_totals(run)
            usd, tokens = usd + u, tokens + t
    return usd, tokens


def _run_local(jobs: list[Job], usd: float | None, tokens: int | None,
               spent: tuple[float, int], parallel: int,
               record: Callable[[CaseResult, str], None]) -> str | None:
    """Jobs in threads, each an ordinary run in this process, one SharedBudget between them.
    Ctrl-C stops the runs at their next model call (resumable)."""
    from crew.llm.budget import SharedBudget

    _quiet_litellm_worker()
    pool = SharedBudget(usd, tokens, spent_usd=spent[0], spent_tokens=spent[1])

    def stopped() -> bool:
        return pool.stopped is not None

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="crew-eval") as ex:
        futures: dict[Future[CaseResult | None], Job] = {
            ex.submit(run_job, job, pool, stopped): job for job in jobs}
        try:
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    res = f.result()
                    if res is not None:
                        record(res, futures[f].key)
        except KeyboardInterrupt:
            pool.stop("interrupted")
            for f in futures:
                f.cancel()
            for f, job in futures.items():
                if not f.cancelled() and (res := f.result()) is not None:
                    record(res, job.key)
    return pool.stopped


class _LitellmWorkerNoise(logging.Filter):
    """litellm keeps one process-wide logging worker bound to one event loop; runs in threads
    (one loop each) make asyncio report its queue moving between loops. crew uses no litellm
    callbacks, so those reports are noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "LoggingWorker" not in record.getMessage()


def _quiet_litellm_worker() -> None:
    log = logging.getLogger("asyncio")
    if not any(isinstance(f, _LitellmWorkerNoise) for f in log.filters):
        log.addFilter(_LitellmWorkerNoise())
