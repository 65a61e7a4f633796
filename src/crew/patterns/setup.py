"""From a resolved feature to what a pattern runs on: a pinned task's template + context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crew.errors import UserError
from crew.patterns.base import Checkpoint, PatternContext, TaskInfo
from crew.patterns.registry import merge_params
from crew.spec.models import PatternSpec

if TYPE_CHECKING:
    from crew.llm.types import StructuredChatModel
    from crew.spec.resolve import ResolvedFeature
    from crew.tools.sandbox.base import SandboxBackend
    from crew.workspace.worktrees import Workspace


def context_for_task(
    resolved: ResolvedFeature,
    task_id: str,
    llm: StructuredChatModel,
    *,
    run_id: str,
    workspace: Workspace | None = None,
    sandbox: SandboxBackend | None = None,
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
                    roles=tuple(roles), params=merge_params(template, t.params))
    specs = {n: loaded.spec for n, loaded in resolved.roles.items()}
    ctx = PatternContext(run_id=run_id, task=info, roles=specs, llm=llm, workspace=workspace,
                         sandbox=sandbox, dependencies=dependencies,
                         termination=template.termination, state=dict(state or {}),
                         checkpoint=checkpoint)
    return template, ctx
