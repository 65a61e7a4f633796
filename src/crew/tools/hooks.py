"""Hook plugins from YAML (`hooks:`): the `crew.hooks` entry-point group.

A plugin registers a factory — usually a `Hook` subclass — that is called with the hook's
`settings` mapping::

    [project.entry-points."crew.hooks"]
    no-secrets = "my_pkg.hooks:NoSecrets"        # NoSecrets(settings: dict) -> a hook

A hook overrides what it needs (every method is optional; sync or async for tool calls):

- `before_tool(call, ctx)` returns None to allow the call or a reason to veto it (the model
  sees "Vetoed: <reason>"); `after_tool(call, outcome, ctx)` sees every outcome.
- `before_task(event)` / `after_task(event)` and `before_turn(event)` / `after_turn(event)`
  are notifications (they cannot stop anything) with the run's redacted trace event (a dict:
  type, name, payload — crew.observability.events); they run synchronously, so keep them quick.

A factory that rejects its settings (ValueError, TypeError, pydantic's ValidationError) is a
UserError naming `hooks[i].settings` before the run starts.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from crew.errors import UserError
from crew.spec.tooling import HOOKS_GROUP, HookSpec

if TYPE_CHECKING:
    from crew.llm.types import ToolCall
    from crew.tools.base import ToolContext
    from crew.tools.registry import ToolOutcome, ToolRegistry

log = logging.getLogger(__name__)
BUILTIN = {"protect": "crew.tools.protect:ProtectHook"}


class Hook:
    """Base class of hook plugins: every method is a no-op until overridden."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})

    def before_tool(self, call: ToolCall, ctx: ToolContext) -> Any:
        return None

    def after_tool(self, call: ToolCall, outcome: ToolOutcome, ctx: ToolContext) -> Any:
        return None

    def before_task(self, event: dict[str, Any]) -> None: ...

    def after_task(self, event: dict[str, Any]) -> None: ...

    def before_turn(self, event: dict[str, Any]) -> None: ...

    def after_turn(self, event: dict[str, Any]) -> None: ...


def _factory(name: str) -> Any:
    for ep in entry_points(group=HOOKS_GROUP):
        if ep.name == name:
            return ep.load()
    if name in BUILTIN:
        import importlib

        module, attr = BUILTIN[name].split(":")
        return getattr(importlib.import_module(module), attr)
    raise KeyError(name)


def load_hooks(specs: Sequence[HookSpec]) -> list[Any]:
    """Build each hook from its entry point and settings; problems are UserErrors."""
    from pydantic import ValidationError

    hooks = []
    for i, spec in enumerate(specs):
        where = f"hooks[{i}]"
        try:
            factory = _factory(spec.name)
        except KeyError:
            raise UserError(f"unknown hook {spec.name!r}", field=f"{where}.name",
                            hint=f"install a package with a {HOOKS_GROUP!r} entry point "
                            "of that name") from None
        except Exception as e:
            raise UserError(f"hook {spec.name!r} failed to load: {type(e).__name__}: {e}",
                            field=f"{where}.name") from e
        try:
            hooks.append(factory(dict(spec.settings)))
        except (ValueError, TypeError, ValidationError) as e:
            raise UserError(f"hook {spec.name!r} rejects its settings: {e}",
                            field=f"{where}.settings") from e
    return hooks


def attach(registry: ToolRegistry, hooks: Sequence[Any]) -> None:
    """Run each hook's before_tool / after_tool around every call of `registry`."""
    for h in hooks:
        before, after = getattr(h, "before_tool", None), getattr(h, "after_tool", None)
        if before is not None:
            registry.before_call(before)
        if after is not None:
            registry.after_call(after)


class HookSink:
    """A trace sink turning task and agent-turn observations into hook notifications."""

    METHODS: ClassVar[dict[str, str]] = {"task.start": "before_task", "task.end": "after_task",
                                         "agent.start": "before_turn",
                                         "agent.end": "after_turn"}

    def __init__(self, hooks: Sequence[Any]) -> None:
        self.hooks = list(hooks)

    def on_event(self, event: dict[str, Any]) -> None:
        method = self.METHODS.get(str(event.get("type")))
        if method is None:
            return
        for h in self.hooks:
            fn = getattr(h, method, None)
            if fn is None:
                continue
            try:
                res = fn(event)
                if inspect.isawaitable(res):
                    log.warning("hook %r: %s must not be async; ignored", h, method)
                    close = getattr(res, "close", None)
                    if close is not None:
                        close()
            except Exception:
                log.exception("hook %r failed in %s", h, method)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
