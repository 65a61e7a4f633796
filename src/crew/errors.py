"""crew's two error families.

`UserError`: the user's mistake (a file, a flag, a config). It carries where (file, line,
column, field) and a fix, and the CLI turns it into a short message and exit code 2.

Everything else derives from `CrewRuntimeError`: model and runtime failures that are retried,
repaired or fed back to the model, or that stop a run cleanly so it can be resumed. Of those,
only a tool's own `ToolError` (crew.tools.base) is shown to the model; an `InfrastructureError`
(the machinery failed: a sandbox that cannot start, a tool or plugin that crashed) stops the
task with its message instead, and `crew resume` retries the task once the cause is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Problem:
    """One located problem in a user's input."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    field: str | None = None  # dotted path, e.g. "tasks[0].roles[1]"
    hint: str | None = None  # e.g. "did you mean 'reviewer'?"

    def render(self) -> str:
        where = ""
        if self.file:
            where = _shown(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        text = f"{where}{field}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


def _shown(path: str) -> str:
    """A file below the current directory as a relative path (a feature named as
    `feature.yaml` and the models file it includes then read alike); others as given."""
    import os

    try:
        cwd = os.getcwd()
    except OSError:  # the current directory was removed
        return path
    if os.path.isabs(path) and path.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, cwd)
    return path


class CrewError(Exception):
    """Base of every error crew raises on purpose."""


class UserError(CrewError):
    """The user's mistake: bad file, flag or config. Exit code 2, never a traceback."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        self.problems = problems or [Problem(message, file, line, column, field, hint)]
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class CrewRuntimeError(CrewError):
    """A model or runtime failure: retried, repaired, fed back, or a clean resumable stop."""


class InfrastructureError(CrewRuntimeError):
    """crew's machinery failed, not the model: a sandbox that cannot start, a tool, hook or
    plugin that raised unexpectedly. Never fed to the model: the task stops with this message
    (task and run status `error`, exit 1) and `crew resume` retries it."""


class ModelBehaviorError(CrewRuntimeError):
    """The model answered, but not usefully (invalid structured output after repairs, etc.)."""


class ProviderError(CrewRuntimeError):
    """The provider failed (after LiteLLM's own retries and fallbacks)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class ContextTooLongError(ProviderError):
    """The prompt does not fit the model's context window (and no fallback took it)."""


class BudgetKind(StrEnum):
    """The dimension of a budget limit (each has its own `crew resume --budget-*` flag)."""

    USD = "usd"
    TOKENS = "tokens"
    MINUTES = "minutes"


class BudgetExceeded(CrewRuntimeError):
    """A budget would be or was crossed. A run turns this into a clean stop (exit 3); `kind`
    says which limit, so nobody has to read it out of the message."""

    exit_code = 3

    def __init__(self, message: str, *, scope: str = "run", kind: BudgetKind = BudgetKind.USD,
                 limit: float = 0.0, spent: float = 0.0, needed: float = 0.0) -> None:
        self.scope, self.kind, self.limit, self.spent = scope, BudgetKind(kind), limit, spent
        self.needed = needed  # spent + held in flight + the refused call's worst case
        super().__init__(message)
