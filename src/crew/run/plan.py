"""Planning: the supervisor turns the goal into a task DAG (structured output), checked against
the crew; an invalid plan is re-asked once with the problems listed, then repaired — a bad plan
never crashes a run. Pinned tasks from feature.yaml are kept exactly as written."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from crew.agent_prompt import system_message
from crew.errors import ModelBehaviorError
from crew.llm.types import CallContext
from crew.patterns.checks import pattern_kinds, task_problems
from crew.patterns.decisions import DecisionKind, Degraded, DegradedReason
from crew.run.plan_tools import PlanRepo, explore, plan_turns, tools_note
from crew.run.state import PlannedTask
from crew.spec.resolve import find_cycle
from crew.spec.suggest import nearest

if TYPE_CHECKING:
    from crew.context import RunContext
    from crew.llm.types import StructuredChatModel
    from crew.spec.pattern_check import PatternKinds
    from crew.spec.resolve import ResolvedFeature

PLAN_TASK_ID = "plan"
_ID_RE = re.compile(r"[^a-z0-9_]+")
REPO_FILES_LIMIT = 120
README_CHARS = 1500


class PlanTaskOut(BaseModel):
    """One task as the supervisor writes it."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(description="short kebab-case id, unique")
    title: str
    description: str = ""
    template: str | None = None
    pattern: str | None = None
    roles: list[str] = Field(default_factory=list, description="participants, pattern order")
    depends_on: list[str] = Field(default_factory=list)
    acceptance: list[str] = Field(default_factory=list)


class PlanOut(BaseModel):
    """The supervisor's answer: the tasks to add around the pinned ones."""

    model_config = ConfigDict(extra="ignore")
    tasks: list[PlanTaskOut]


def repo_context(path: Path, files: Iterable[str]) -> str:
    """Bounded repository context: the file list and the README's head."""
    names = sorted(files)
    shown = names[:REPO_FILES_LIMIT]
    more = f"\n… and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    parts = ["## Repository files\n" + "\n".join(shown) + more]
    for readme in ("README.md", "README.rst", "README.txt", "README"):
        if readme in names:
            try:
                text = (path / readme).read_text(encoding="utf-8", errors="replace")
            except OSError:
                break
            parts.append(f"## {readme}\n{text[:README_CHARS]}")
            break
    return "\n\n".join(parts)


def catalog(resolved: ResolvedFeature) -> str:
    """What the supervisor may use: roles, patterns (with descriptions) and task templates."""
    crew = resolved.crew.spec
    lines = ["## Roles"]
    for name in crew.all_roles():
        r = resolved.roles[name].spec
        lines.append(f"- {name}: {r.goal.strip()}")
    lines.append("## Patterns (roles in this order)")
    for name in crew.patterns:
        p = resolved.patterns[name].spec
        lines.append(f"- {name}: {' '.join(p.description.split())}")
    if crew.templates:
        lines.append("## Task templates")
        for name in crew.templates:
            t = resolved.templates[name].spec
            lines.append(f"- {name} ({t.pattern}, roles {', '.join(t.roles)}): "
                         f"{' '.join(t.description.split())}")
    return "\n".join(lines)


def pinned_tasks(resolved: ResolvedFeature) -> list[PlannedTask]:
    """The user's tasks, completed from their template and the crew's default pattern."""
    out: list[PlannedTask] = []
    for t in resolved.feature.spec.tasks:
        tpl = resolved.templates[t.template].spec if t.template in resolved.templates else None
        out.append(PlannedTask(
            id=t.id, title=t.title, description=t.description or (tpl.description if tpl else ""),
            template=t.template,
            pattern=t.pattern or (tpl.pattern if tpl else resolved.crew.spec.defaults.pattern),
            roles=list(t.roles or (tpl.roles if tpl else [])), depends_on=list(t.depends_on),
            acceptance=list(t.acceptance or (tpl.acceptance if tpl else [])),
            params=dict(t.params), engine=t.engine, pinned=True))
    return out


def plan_messages(resolved: ResolvedFeature, repo_text: str, pinned: list[PlannedTask], *,
                  conventions: str | None = None, tool_turns: int = 0) -> list[dict[str, Any]]:
    """Stable first (conventions, role, catalog, repo), volatile last (the goal and pinned
    tasks); with `tool_turns`, the planner is told to read first (crew.run.plan_tools). The
    system message is crew.agent_prompt's, as every role's, with the catalog as its section."""
    sup = resolved.roles[resolved.crew.spec.supervisor].spec
    system = system_message(sup, conventions=conventions, section=catalog(resolved))
    feature = resolved.feature.spec
    user = [repo_text, f"# Feature: {feature.title}\n{feature.goal.strip()}"]
    if feature.acceptance:
        user.append("Acceptance commands: " + "; ".join(a.run for a in feature.acceptance))
    if pinned:
        user.append("Pinned tasks (already planned; you may depend on their ids):\n" + "\n".join(
            f"- {t.id}: {t.title} ({t.pattern})" for t in pinned))
    user.append((tools_note(tool_turns) if tool_turns else "")
                + 'Reply with JSON {"tasks": [{id, title, description, template, pattern, roles, '
                "depends_on, acceptance}]} for the remaining work.")
    return [system, {"role": "user", "content": "\n\n".join(user)}]


def check_plan(resolved: ResolvedFeature, pinned: list[PlannedTask],
               tasks: list[PlanTaskOut]) -> list[str]:
    """Problems of a proposed plan (empty when it is usable as is)."""
    crew = resolved.crew.spec
    problems: list[str] = []
    ids = [t.id for t in pinned]
    for t in tasks:
        if t.id in ids:
            problems.append(f"task id {t.id!r} is used twice")
        ids.append(t.id)
        if t.template and t.template not in crew.templates:
            problems.append(f"task {t.id!r}: unknown template {t.template!r}")
        pattern = _pattern_of(resolved, t)
        if pattern not in crew.patterns:
            problems.append(f"task {t.id!r}: unknown pattern {pattern!r} (use one of "
                            f"{', '.join(crew.patterns)})")
        for r in t.roles:
            if r not in crew.all_roles():
                problems.append(f"task {t.id!r}: unknown role {r!r} (use one of "
                                f"{', '.join(crew.all_roles())})")
    if not tasks and not pinned:
        problems.append("the plan has no tasks")
    known = set(ids)
    graph: dict[str, list[str]] = {t.id: list(t.depends_on) for t in pinned}
    for t in tasks:
        for d in t.depends_on:
            if d not in known:
                problems.append(f"task {t.id!r} depends on unknown task {d!r}")
        graph[t.id] = [d for d in t.depends_on if d in known]
    cycle = find_cycle(graph)
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(cycle))
    return problems


def planned_problems(resolved: ResolvedFeature, tasks: list[PlannedTask]) -> list[str]:
    """Problems of a plan a user edited: those of a proposed plan, plus each task's params and
    engine against its pattern's kind."""
    out = [PlanTaskOut.model_validate(t.model_dump(include=set(PlanTaskOut.model_fields)))
           for t in tasks]
    return [*check_plan(resolved, [], out), *pattern_problems(resolved, tasks)]


def pattern_problems(resolved: ResolvedFeature, tasks: list[PlannedTask]) -> list[str]:
    """Each task's params (over its template's) and engine checked against its pattern's kind
    (tasks naming a pattern outside the crew are check_plan's)."""
    kinds = pattern_kinds(require_installed=True)
    out: list[str] = []
    for t in tasks:
        template = resolved.patterns.get(t.pattern)
        if template is not None:
            out += [f"task {t.id!r}: {p}"
                    for p in task_problems(template.spec, t.params, t.engine, kinds)]
    return out


def _pattern_of(resolved: ResolvedFeature, t: PlanTaskOut) -> str:
    if t.pattern:
        return t.pattern
    tpl = resolved.templates.get(t.template or "")
    return tpl.spec.pattern if tpl else resolved.crew.spec.defaults.pattern


def _task_id(raw: str, taken: set[str]) -> str:
    """A valid, unused id from a model's text; a secret in it never names a branch."""
    from crew.observability.redact import scrub

    base = _ID_RE.sub("-", scrub(raw).lower()).strip("-_")[:40] or "task"
    if not base[0].isalnum():
        base = "t" + base
    tid, n = base, 2
    while tid in taken:
        tid, n = f"{base}-{n}", n + 1
    taken.add(tid)
    return tid


def repair_plan(resolved: ResolvedFeature, pinned: list[PlannedTask],
                tasks: list[PlanTaskOut], changes: list[str] | None = None, *,
                kinds: PatternKinds | None = None) -> list[PlannedTask]:
    """Make any proposed plan valid: fix ids, names (nearest valid one), role counts,
    dangling dependencies and cycles. Pinned tasks come first, unchanged. Each change is
    appended to `changes` (the report lists them: a repair is never silent). Secrets the model
    repeated are redacted from the planned text (it names branches and reaches the screen)."""
    from crew.observability.redact import scrub

    crew = resolved.crew.spec
    taken = {t.id for t in pinned}
    renamed: dict[str, str] = {}
    out: list[PlannedTask] = []
    said = changes if changes is not None else []
    for t in tasks:
        tid = _task_id(t.id or t.title, taken)
        renamed.setdefault(t.id, tid)
        if t.id and tid != t.id:
            said.append(f"task id {t.id!r} → {tid!r}")
        tpl_name = t.template if t.template in crew.templates else (
            nearest(t.template, crew.templates) if t.template else None)
        if t.template and tpl_name != t.template:
            said.append(f"{tid}: template {t.template!r} → {tpl_name or 'none'}")
        tpl = resolved.templates[tpl_name].spec if tpl_name else None
        asked = t.pattern or (tpl.pattern if tpl else crew.defaults.pattern)
        pattern = asked
        if pattern not in crew.patterns:
            pattern = nearest(pattern, crew.patterns) or (
                tpl.pattern if tpl and tpl.pattern in crew.patterns else crew.defaults.pattern)
            said.append(f"{tid}: pattern {asked!r} → {pattern!r}")
        allowed = crew.all_roles()
        roles = []
        for r in t.roles:
            fixed = r if r in allowed else nearest(r, allowed)
            if fixed != r:
                said.append(f"{tid}: role {r!r} → " + (repr(fixed) if fixed else
                                                       "dropped (not in the crew)"))
            if fixed and fixed not in roles:
                roles.append(fixed)
        kind = resolved.patterns[pattern].spec.kind
        desc = (kinds or pattern_kinds()).descriptor(kind)
        need = desc.min_roles if desc else 1
        for extra in [*(tpl.roles if tpl else []), "coder", "reviewer", *allowed]:
            if len(roles) >= need:
                break
            if extra in allowed and extra not in roles:
                roles.append(extra)
                said.append(f"{tid}: role {extra!r} added ({pattern} needs {need})")
        out.append(PlannedTask(id=tid, title=scrub(t.title.strip()) or tid,
                               description=scrub(t.description), template=tpl_name,
                               pattern=pattern, roles=roles, depends_on=list(t.depends_on),
                               acceptance=[scrub(a) for a in t.acceptance or (
                                   tpl.acceptance if tpl else [])]))
    known = taken
    for pt in out:
        deps = [renamed.get(d, d) for d in pt.depends_on]
        said += [f"{pt.id}: dependency on unknown task {d!r} dropped" for d in deps
                 if d not in known and d != pt.id]
        pt.depends_on = list(dict.fromkeys(d for d in deps if d in known and d != pt.id))
    graph = {t.id: list(t.depends_on) for t in [*pinned, *out]}
    while (cycle := find_cycle(graph)) is not None:  # drop the edge that closes the cycle
        a, b = cycle[-1], cycle[0]
        graph[a].remove(b)
        said.append(f"{a}: dependency on {b!r} dropped (cycle "
                    + " -> ".join([*cycle, cycle[0]]) + ")")
        for pt in out:
            if pt.id == a and b in pt.depends_on:
                pt.depends_on.remove(b)
    return [*pinned, *out]


def fallback_plan(resolved: ResolvedFeature, pinned: list[PlannedTask]) -> PlanOut:
    """The plan when the supervisor's cannot be read: the goal as one task after the pinned
    ones (the crew's `defaults.implement` template when it has it, else the default pattern
    with a coder — or its first member — first: repair_plan fills the roles)."""
    feature = resolved.feature.spec
    crew = resolved.crew.spec
    implement = crew.defaults.implement in crew.templates
    roles = [] if implement else [r for r in ("coder", *crew.members) if r in crew.members][:1]
    return PlanOut(tasks=[PlanTaskOut(
        id="implement", title=feature.title, description=feature.goal,
        template=crew.defaults.implement if implement else None, roles=roles,
        depends_on=[t.id for t in pinned])])


async def make_plan(resolved: ResolvedFeature, llm: StructuredChatModel, *, run_id: str,
                    repo_text: str, repo: PlanRepo | None = None,
                    conventions: str | None = None, degraded: list[Degraded] | None = None,
                    run_context: RunContext | None = None
                    ) -> tuple[list[PlannedTask], list[str]]:
    """The plan (pinned tasks first) and the notes about what was re-asked or repaired. With
    `repo`, the supervisor first reads it with read-only tools (crew.run.plan_tools) from
    `run_context`'s registry, traced by its tracer. A plan that cannot be read is never an
    error: `fallback_plan`, recorded in `degraded`."""
    from crew.context import RunContext

    pinned = pinned_tasks(resolved)
    sup = resolved.roles[resolved.crew.spec.supervisor].spec
    messages = plan_messages(resolved, repo_text, pinned, conventions=conventions,
                             tool_turns=plan_turns(sup) if repo else 0)
    ctx = CallContext(run_id=run_id, task_id=PLAN_TASK_ID, role=resolved.crew.spec.supervisor,
                      purpose="plan")
    notes: list[str] = []
    fell_back = False

    def fall_back(why: str, error: str, raw: object) -> PlanOut:
        nonlocal fell_back
        fell_back = True
        notes.append(f"{why}; planned the goal as one task")
        if degraded is not None:
            degraded.append(Degraded(
                decision=DecisionKind.RUN_PLAN, reason=DegradedReason.SINGLE_TASK,
                role=ctx.role, task=PLAN_TASK_ID, error=error[:300],
                excerpt=" ".join(str(raw or "").split())[:300]))
        return fallback_plan(resolved, pinned)

    try:
        read: PlanOut | None = None
        if repo is not None:  # the conversation now holds what it read
            messages, read = await explore(llm, sup, messages, ctx, repo, PlanOut,
                                           run_context or RunContext())
        answer = read or await llm.ask(sup.model, messages, PlanOut, context=ctx)
    except ModelBehaviorError as e:  # no usable JSON even after re-asks: one task for the goal
        answer = fall_back(f"no usable plan from the supervisor ({e})", str(e),
                           getattr(e, "last_output", None))
    problems = check_plan(resolved, pinned, answer.tasks)
    if problems and not fell_back:
        notes.append("plan re-asked: " + "; ".join(problems))
        retry = [*messages, {"role": "assistant", "content": answer.model_dump_json()},
                 {"role": "user", "content": "Fix these problems and reply with the whole "
                  "plan again:\n- " + "\n- ".join(problems)}]
        fix_ctx = CallContext(run_id=run_id, task_id=PLAN_TASK_ID, role=ctx.role,
                              purpose="plan-fix")
        try:
            answer = await llm.ask(sup.model, retry, PlanOut, context=fix_ctx)
        except ModelBehaviorError as e:  # the first plan, repaired, is still a plan
            notes.append(f"the re-asked plan could not be read ({e}); repairing the first")
        problems = check_plan(resolved, pinned, answer.tasks)
        if problems:
            notes.append("plan repaired: " + "; ".join(problems))
    if not answer.tasks and not pinned:  # nothing to do is no plan: the goal as one task
        answer = fall_back("the supervisor planned no task", "the plan has no tasks",
                           answer.model_dump_json())
    changes: list[str] = []
    plan = repair_plan(resolved, pinned, answer.tasks, changes)
    if not fell_back:  # crew's own one-task plan gets its roles filled: no news to the user
        notes += [f"plan repair: {c}" for c in changes]
    return plan, notes


def render_plan(tasks: list[PlannedTask]) -> str:
    """The plan as short text lines (for the terminal and --approve-plan)."""
    lines = []
    for t in tasks:
        deps = f" after {', '.join(t.depends_on)}" if t.depends_on else ""
        pin = " (pinned)" if t.pinned else ""
        lines.append(f"{t.id}: {t.title} [{t.pattern}: {', '.join(t.roles)}]{deps}{pin}")
    return "\n".join(lines)
