"""Everything `crew run` can check without a model call, done before a run directory, branch or
worktree exists (`crew validate FEATURE` runs the same): the repository (exactly a git
repository's root, usable, its base a commit), the sandbox (settings and the backend available
here), and the router config as the run will build it (`os.environ/` variables set, providers
LiteLLM knows, replay scripts, router settings LiteLLM accepts, every alias the crew calls
routable, the servers of `api_base` deployments reachable: crew.run.reach). Problems of all
three are reported together, each at its file and line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crew.errors import Problem, UserError

if TYPE_CHECKING:
    from crew.run.launch import RunOptions
    from crew.spec.models import SandboxSpec
    from crew.spec.resolve import ResolvedFeature


@dataclass
class Checked:
    """What the checks built, handed to the run so nothing is built twice."""

    root: Path
    base: str  # the commit the run starts from
    settings: SandboxSpec
    sandbox: Any
    llm: Any  # crew.llm.LLM, a fresh ledger and the run's budget; no call made


def preflight(resolved: ResolvedFeature, opts: RunOptions, *, check_only: bool = False
              ) -> Checked:
    """Run every check; one UserError lists every problem found. `check_only` (`crew
    validate`, which sends nothing): the router config is checked without building the LLM
    when litellm's files settle it (crew.llm.offline_check); `Checked.llm` is then that
    check's ModelTable; else the LLM leaves litellm's first-request imports alone."""
    problems: list[Problem] = []
    root, base = check_repo(resolved, opts.repo, problems)
    settings = sandbox = None
    try:
        from crew.run.launch import select_backend
        from crew.run.sandboxing import sandbox_settings

        settings = sandbox_settings(resolved, opts, None)
        sandbox = select_backend(settings, opts, resolved, root)
    except UserError as e:
        problems += e.problems
    if sandbox is not None and root is not None:
        problems += check_programs(resolved, sandbox, root)
    llm = run_llm(resolved, problems, usd=opts.budget_usd, tokens=opts.budget_tokens,
                  minutes=opts.budget_minutes, shared=opts.shared_budget,
                  check_only=check_only)
    from crew.run.reach import unreachable_servers

    if llm is not None and problems:
        problems += unreachable_servers(resolved, _called_aliases(resolved))
    elif llm is not None:
        servers_up(resolved)  # the config is right, a server is down: its own exit code
    if problems:
        raise UserError("invalid", problems=problems)
    assert root is not None and base is not None and settings is not None
    return Checked(root, base, settings, sandbox, llm)


def servers_up(resolved: ResolvedFeature) -> None:
    """ModelServerUnreachable (exit 6) when a server the crew calls refuses connections
    (crew.run.reach): before a run starts, or a resumed run reopens its worktree."""
    from crew.run.reach import ModelServerUnreachable, unreachable_servers

    down = unreachable_servers(resolved, _called_aliases(resolved))
    if down:
        raise ModelServerUnreachable("unreachable", problems=down)


def check_programs(resolved: ResolvedFeature, sandbox: Any, root: Path) -> list[Problem]:
    """The `setup:` commands', the acceptance gates' and the test command's programs, looked
    for inside `sandbox` in the repository: a problem at the command's YAML field for each one
    missing. The default test command (nothing configured or detected) is not checked; with
    `setup:` commands, neither are programs inside the workspace nor `python -m` modules
    (setup makes them). Setup itself is not run here (the backend `SetupOnce` wraps)."""
    from crew.errors import CrewError
    from crew.run.programs import find_missing, run_sync
    from crew.run.sandboxing import setup_commands
    from crew.run.testcmd import choose_test_command

    feature = resolved.feature
    where: dict[str, list[tuple[Any, tuple[str | int, ...] | None]]] = {}
    setup = setup_commands(resolved)
    owner_of_setup = feature if feature.spec.setup is not None else resolved.crew
    for i, cmd in enumerate(setup):
        where.setdefault(cmd, []).append((owner_of_setup, ("setup", i)))
    for i, gate in enumerate(feature.spec.acceptance):
        where.setdefault(gate.run, []).append((feature, ("acceptance", i, "run")))
    chosen = choose_test_command(resolved, root)
    if chosen.source != "default":
        owner = {"feature": feature, "crew": resolved.crew}.get(chosen.source)
        where.setdefault(chosen.command, []).append(
            (owner or str(root / chosen.source.rstrip("/")), ("test_command",) if owner else None))
    try:
        missing = run_sync(find_missing(getattr(sandbox, "inner", sandbox), root, list(where),
                                        made_by_setup=bool(setup)))
    except CrewError as e:
        return [Problem(f"the {sandbox.name} sandbox could not run the programs check: {e}",
                        field="sandbox", hint="see the sandbox's message; `crew validate` "
                        "checks the sandbox the same way")]
    problems = []
    for m in missing:  # each field naming the command: its own problem, at its own line
        text, hint = m.describe(sandbox.name), m.hint()
        for owner, loc in where[m.command]:
            if isinstance(owner, str):  # detected from a file: name it, and the key to set
                problems.append(Problem(f"the test command detected from this file: {text}",
                                        file=owner, field="test_command",
                                        hint=hint + "; or set `test_command:` in the feature"))
            else:
                problems.append(owner.problem(text, loc, hint=hint))
    return problems


def _repo_problem(resolved: ResolvedFeature, override: Path | None, message: str,
                  hint: str | None) -> Problem:
    if override is not None:
        return Problem(message, field="--repo", hint=hint)
    return resolved.feature.problem(message, ("repo",), hint=hint)


def check_repo(resolved: ResolvedFeature, override: Path | None,
               problems: list[Problem]) -> tuple[Path | None, str | None]:
    """The repository's root and base commit; `repo:` (or --repo) must name the root itself:
    a folder inside a repository is refused, never widened to the enclosing one."""
    from crew.spec.yamlio import resolved as resolved_path
    from crew.workspace.git import refuse_in_progress, repo_root, rev

    spec = resolved.feature.spec
    shown = str(override) if override is not None else spec.repo
    raw = override if override is not None else resolved.feature.path.parent / spec.repo

    def bad(message: str, hint: str | None = None) -> tuple[None, None]:
        problems.append(_repo_problem(resolved, override, message, hint))
        return None, None

    try:
        path = resolved_path(raw.expanduser())
    except UserError as e:
        return bad(f"repository path {shown!r}: {e.problems[0].message}", e.problems[0].hint)
    if not path.exists():
        return bad(f"repository {shown!r} does not exist (looked for {path})",
                   "point it at a git repository's folder")
    if not path.is_dir():
        return bad(f"repository {shown!r} is a file, not a folder ({path})",
                   "point it at the folder of a git repository")
    try:
        root = repo_root(path)
        refuse_in_progress(root)
    except UserError as e:
        p = e.problems[0]
        return bad(p.message, p.hint)
    if root != path:
        rel = _relative(root, resolved.feature.path.parent)
        fix = (f"--repo {root}" if override is not None else f"repo: {rel}")
        return bad(f"{shown!r} is a folder inside the git repository {root}, not a "
                   "repository's root", f"use the repository root, `{fix}`, or `git init` "
                   "the folder to make it a repository of its own; crew never runs on the "
                   "enclosing repository")
    base = rev(root, spec.base or "HEAD")
    if base is None:
        problems.append(resolved.feature.problem(
            f"base {spec.base!r} is not a commit in {root}", ("base",),
            hint="use a branch, tag or commit id that exists (see `git branch -a`)"))
        return root, None
    return root, base


def _relative(target: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(target, start.resolve())
    except ValueError:
        return str(target)


def run_budget(resolved: ResolvedFeature, usd: float | None, tokens: int | None,
               minutes: float | None, shared: Any = None, *,
               scoped: Mapping[str, Mapping[str, float]] | None = None) -> Any:
    """The run's Budget: each limit from its flag (or the checkpoint's) else the feature's
    `budget:`; task and role limits from their YAML and `scoped` (resume flags, see
    crew.run.budgets); `shared` is a pool the run draws from as well (`crew eval`)."""
    from crew.llm import Budget, Limits
    from crew.run.budgets import scoped_limits

    spec = Limits.of(resolved.feature.spec.budget)
    per_task, per_role = scoped_limits(resolved, overrides=scoped)
    return Budget(Limits(usd if usd is not None else spec.usd,
                         tokens if tokens is not None else spec.tokens,
                         minutes if minutes is not None else spec.minutes),
                  per_task=per_task, per_role=per_role, shared=shared)


def run_llm(resolved: ResolvedFeature, problems: list[Problem], *, usd: float | None,
            tokens: int | None, minutes: float | None, shared: Any = None,
            scoped: Mapping[str, Mapping[str, float]] | None = None,
            spent: Mapping[str, Any] | None = None, ledger: Any = None,
            check_only: bool = False) -> Any:
    """The run's LLM, the one way a new and a resumed run build it (no model call): the
    router config as resolved, the run's budget (`run_budget`; a resume passes the
    checkpoint's limits, `scoped` overrides, what was `spent` and the `ledger` read back from
    ledger.jsonl). None when it cannot be built; its problems (located in the models file)
    are added to `problems`, and so is an alias the crew's roles or fallbacks name that no
    deployment can serve (it would fail only at the first call) or that has no price under a
    USD budget. `check_only` (`crew validate`, which sends nothing): the same checks without
    litellm where its installed files settle them (crew.llm.offline_check), else an LLM
    that leaves litellm's first-request imports alone."""
    budget = run_budget(resolved, usd, tokens, minutes, shared, scoped=scoped)
    if spent:
        budget.restore(spent)
    try:
        llm: Any = None
        if check_only:
            from crew.llm.offline_check import check_offline
            from crew.run.budgets import usd_limited

            priced = ({r.spec.model for r in resolved.roles.values()}
                      if usd_limited(budget) else set())
            llm = check_offline(resolved.models, base_dir=resolved.models_dir,
                                source=resolved.models_source, priced=priced)
        if llm is None:
            from crew.llm import LLM

            llm = LLM(resolved.models, base_dir=resolved.models_dir, ledger=ledger,
                      budget=budget, source=resolved.models_source, warm=not check_only)
    except UserError as e:
        problems += [resolved.locate_models_problem(p) for p in e.problems]
        return None
    # an alias the config has no entry for is the spec's problem (the role's `model:`, the
    # fallbacks), reported there; here: one whose every deployment was skipped
    for alias in sorted(_called_aliases(resolved) & resolved.models.aliases()):
        p = llm.unroutable(alias)
        if p is not None:
            problems.append(resolved.locate_models_problem(p))
    from crew.run.budgets import unpriced_problems

    problems += unpriced_problems(resolved, llm, budget)
    return llm


def _called_aliases(resolved: ResolvedFeature) -> set[str]:
    names = {r.spec.model for r in resolved.roles.values()}
    for key in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        for rule in resolved.models.router_settings.get(key) or []:
            if isinstance(rule, dict):
                for targets in rule.values():
                    names.update(t for t in (targets if isinstance(targets, list) else [targets])
                                 if isinstance(t, str))
    return names
