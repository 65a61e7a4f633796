"""What a pattern runs on: `pattern_context`, the one way a PatternContext is built (the run's
scheduler, pinned tasks via `context_for_task`, tests and benchmarks alike)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from crew.context import RunContext
from crew.errors import UserError
from crew.patterns.base import Checkpoint, PatternContext, TaskInfo, TurnStore
from crew.patterns.registry import merge_params
from crew.patterns.turns import NATIVE_TURNS, MemberTurns
from crew.spec.models import PatternSpec, RoleSpec

if TYPE_CHECKING:
    from crew.llm.types import StructuredChatModel
    from crew.spec.resolve import ResolvedFeature
    from crew.workspace.worktrees import Workspace


def pattern_context(
    task: TaskInfo,
    roles: Mapping[str, RoleSpec],
    llm: StructuredChatModel,
    *,
    run_id: str,
    template: PatternSpec | None = None,
    termination: str | None = None,
    workspace: Workspace | None = None,
    run_context: RunContext | None = None,
    dependencies: tuple[str, ...] = (),
    state: Mapping[str, Any] | None = None,
    checkpoint: Checkpoint | None = None,
    turn_store: TurnStore | None = None,
    turns: MemberTurns | None = None,
    conventions: str | None = None,
) -> PatternContext:
    """The context a pattern runs `task` in: the task's params merged over the template's, the
    template's termination (or `termination`), a copy of the saved pattern `state`. `turns`
    (how members take turns) is the template engine's, set by `PatternRegistry.run`; tests may
    pass a fake. `conventions` (crew.tools.conventions.read_conventions) heads every role's
    system message. `run_context` (crew.context.RunContext) is what agents and tools use: the
    tool registry, sandbox and limits, test command and tracer; without one, a fresh registry
    (tools by name), a null tracer and no sandbox."""
    if template is not None:
        task = replace(task, params=merge_params(template, task.params))
    return PatternContext(
        run_id=run_id, task=task, roles=dict(roles), llm=llm, workspace=workspace,
        run_context=run_context if run_context is not None else RunContext(),
        dependencies=dependencies,
        termination=termination or (template.termination if template else None),
        state=dict(state or {}), checkpoint=checkpoint, turn_store=turn_store,
        turns=turns or NATIVE_TURNS, conventions=conventions)


def context_for_task(
    resolved: ResolvedFeature,
    task_id: str,
    llm: StructuredChatModel,
    *,
    run_id: str,
    workspace: Workspace | None = None,
    run_context: RunContext | None = None,
    dependencies: tuple[str, ...] = (),
    state: dict[str, Any] | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[PatternSpec, PatternContext]:
    """The pattern template and context of a pinned task (template roles and pattern used when
    the task leaves them out, the crew's default pattern last)."""
    tasks = {t.id: t for t in resolved.feature.spec.tasks}
    if task_id not in tasks:
        raise UserError(f"no pinned task {task_id!r}", file=str(resolved.feature.path),
                        field="tasks", hint="tasks: " + ", ".join(tasks))
    t = tasks[task_id]
    tpl = resolved.templates.get(t.template) if t.template else None
    name = t.pattern or (tpl.spec.pattern if tpl else None) or resolved.crew.spec.defaults.pattern
    if name not in resolved.patterns:
        raise UserError(f"task {task_id!r}: pattern {name!r} is not among the crew's patterns",
                        file=str(resolved.feature.path), field="tasks.pattern")
    template: PatternSpec = resolved.patterns[name].spec
    if t.engine is not None:  # the task's engine overrides the template's
        template = template.model_copy(update={"engine": t.engine})
    roles = list(t.roles or (tpl.spec.roles if tpl else []))
    info = TaskInfo(id=t.id, title=t.title,
                    description=t.description or (tpl.spec.description if tpl else ""),
                    roles=tuple(roles), params=dict(t.params))
    specs = {n: loaded.spec for n, loaded in resolved.roles.items()}
    return template, pattern_context(info, specs, llm, run_id=run_id, template=template,
                                     workspace=workspace, run_context=run_context,
                                     dependencies=dependencies, state=state,
                                     checkpoint=checkpoint)
