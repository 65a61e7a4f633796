"""crew: a crew of LLM agents that builds a whole software feature.

The library API (names load on first use; `import crew` imports nothing heavy)::

    import crew

    feature = crew.load_feature("feature.yaml")          # validated, library resolved
    outcome = crew.run_feature("feature.yaml", repo="../my-app")  # plan … report
    outcome.exit_code, outcome.run_id, outcome.report
    crew.resume_run(outcome.run_id, repo="../my-app")

    # one pattern on your own context (tests, notebooks); the README has a runnable one
    roles = crew.builtin_roles("coder", "tester")      # or your own RoleSpecs
    ctx = crew.pattern_context(task, roles, llm, run_id="r1")  # task: a crew.TaskInfo
    result = await crew.Debate().run(ctx)
    # what its agents and tools use, passed explicitly (default: tools by name, no tracing,
    # no sandbox): registry, sandbox and limits, test command, tracer
    env = crew.RunContext(sandbox=my_sandbox, tracer=my_tracer)
    ctx = crew.pattern_context(task, roles, llm, run_id="r1", workspace=ws, run_context=env)
    llm = crew.ScriptedLLM([...])                         # offline fakes: crew.testing

Errors: `crew.UserError` (your input; `.problems` hold file, line, field, hint) and
`crew.CrewRuntimeError` (model/runtime; `crew.BudgetExceeded` among them).
"""

from __future__ import annotations

from crew._lazy import lazy_dir, lazy_exports

__version__ = "0.1.0"

# `import crew` (and so `crew --help`) loads neither typing nor pathlib (~25 ms on a slow core):
TYPE_CHECKING = False  # typing.TYPE_CHECKING, which type checkers also read from this name
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from crew.agent import Agent, AgentResult
    from crew.context import RunContext
    from crew.errors import BudgetExceeded, CrewError, CrewRuntimeError, Problem, UserError
    from crew.llm.budget import Budget
    from crew.llm.client import LLM
    from crew.llm.ledger import Ledger
    from crew.patterns.base import (
        BasePattern,
        Outcome,
        Pattern,
        PatternContext,
        PatternResult,
        TaskInfo,
    )
    from crew.patterns.committee import Committee
    from crew.patterns.debate import Debate
    from crew.patterns.registry import PatternRegistry, default_registry
    from crew.patterns.review_loop import ReviewLoop
    from crew.patterns.setup import pattern_context
    from crew.patterns.single import Single
    from crew.patterns.supervisor_worker import SupervisorWorker
    from crew.run.launch import RunOptions, RunOutcome
    from crew.spec.models import RoleSpec
    from crew.spec.resolve import ResolvedFeature
    from crew.testing.scripted import ScriptedLLM
    from crew.testing.stub_server import StubServer
    from crew.tools.base import Tool, ToolContext, ToolError, tool

_EXPORTS = {
    **dict.fromkeys(("Agent", "AgentResult"), "crew.agent"),
    "RunContext": "crew.context",
    **dict.fromkeys(("BudgetExceeded", "CrewError", "CrewRuntimeError", "Problem", "UserError"),
                    "crew.errors"),
    "Budget": "crew.llm.budget",
    "LLM": "crew.llm.client",
    "Ledger": "crew.llm.ledger",
    **dict.fromkeys(("BasePattern", "Outcome", "Pattern", "PatternContext", "PatternResult",
                     "TaskInfo"), "crew.patterns.base"),
    "Committee": "crew.patterns.committee",
    "Debate": "crew.patterns.debate",
    **dict.fromkeys(("PatternRegistry", "default_registry"), "crew.patterns.registry"),
    "ReviewLoop": "crew.patterns.review_loop",
    "pattern_context": "crew.patterns.setup",
    "Single": "crew.patterns.single",
    "SupervisorWorker": "crew.patterns.supervisor_worker",
    **dict.fromkeys(("RunOptions", "RunOutcome"), "crew.run.launch"),
    "ResolvedFeature": "crew.spec.resolve",
    "ScriptedLLM": "crew.testing.scripted",
    "StubServer": "crew.testing.stub_server",
    **dict.fromkeys(("Tool", "ToolContext", "ToolError", "tool"), "crew.tools.base"),
}

__all__ = [
    "LLM", "Agent", "AgentResult", "BasePattern", "Budget", "BudgetExceeded", "Committee",
    "CrewError", "CrewRuntimeError", "Debate", "Ledger", "Outcome", "Pattern", "PatternContext",
    "PatternRegistry", "PatternResult", "Problem", "ResolvedFeature", "ReviewLoop", "RunContext",
    "RunOptions", "RunOutcome", "ScriptedLLM", "Single", "StubServer", "SupervisorWorker",
    "TaskInfo", "Tool", "ToolContext", "ToolError", "UserError", "__version__", "builtin_roles",
    "default_registry", "load_feature", "pattern_context", "resume_run", "run_feature", "tool"
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), _EXPORTS)


def load_feature(path: str | Path, *, models: str | Path | None = None) -> ResolvedFeature:
    """Load and validate a feature.yaml with everything it names (crew, roles, patterns,
    templates, models); raises `UserError` listing every problem with file and line."""
    from pathlib import Path

    from crew.spec.resolve import resolve_feature

    return resolve_feature(Path(path), models_override=Path(models) if models else None)


def builtin_roles(*names: str) -> dict[str, RoleSpec]:
    """crew's built-in roles by name (coder, tester, reviewer, doc_writer, security_analyst,
    supervisor), for `pattern_context`; an unknown name is a UserError with the nearest."""
    from crew.spec.library import Library

    library = Library([])
    return {name: library.load("role", name).spec for name in names}


def run_feature(feature: str | Path, **options: Any) -> RunOutcome:
    """Run a feature as `crew run` does (blocking; call it outside a running event loop).
    `options` are `RunOptions` fields: repo, models, max_parallel, budget_usd, sandbox, …"""
    from pathlib import Path

    from crew.run.launch import RunOptions, start_run

    return start_run(Path(feature), RunOptions(**_paths(options)))


def resume_run(run_id: str, **options: Any) -> RunOutcome:
    """Continue a run from its checkpoint, as `crew resume` does (same options as `run_feature`)."""
    from crew.run import launch

    return launch.resume_run(run_id, launch.RunOptions(**_paths(options)))


def _paths(options: dict[str, Any]) -> dict[str, Any]:
    from pathlib import Path

    return {k: Path(v) if k in ("repo", "models") and isinstance(v, str) else v
            for k, v in options.items()}
