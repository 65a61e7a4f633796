"""Collaboration patterns: the Pattern protocol, a registry by kind (built-ins and the
`crew.patterns` entry-point group), termination conditions, member turns (the engine hook) and
the five built-in kinds.

Names load on first use: importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew._lazy import lazy_dir, lazy_exports

if TYPE_CHECKING:
    from crew.patterns.base import (
        Artifacts,
        BasePattern,
        Outcome,
        Pattern,
        PatternContext,
        PatternResult,
        TaskInfo,
        TranscriptRef,
    )
    from crew.patterns.registry import PatternRegistry, default_registry, merge_params
    from crew.patterns.setup import context_for_task, pattern_context
    from crew.patterns.termination import (
        Approved,
        Condition,
        Consensus,
        Fired,
        Guard,
        MaxRounds,
        Never,
        RoundState,
        Stop,
        TestsPass,
        build_termination,
    )
    from crew.patterns.turns import EngineTurn, MemberTurns, NativeTurns

_EXPORTS = {
    **dict.fromkeys(("Artifacts", "BasePattern", "Outcome", "Pattern", "PatternContext",
                     "PatternResult", "TaskInfo", "TranscriptRef"), "crew.patterns.base"),
    **dict.fromkeys(("PatternRegistry", "default_registry", "merge_params"),
                    "crew.patterns.registry"),
    **dict.fromkeys(("context_for_task", "pattern_context"), "crew.patterns.setup"),
    **dict.fromkeys(("Approved", "Condition", "Consensus", "Fired", "Guard", "MaxRounds",
                     "Never", "RoundState", "Stop", "TestsPass", "build_termination"),
                    "crew.patterns.termination"),
    **dict.fromkeys(("EngineTurn", "MemberTurns", "NativeTurns"), "crew.patterns.turns"),
}
__all__ = [
    "Approved",
    "Artifacts",
    "BasePattern",
    "Condition",
    "Consensus",
    "EngineTurn",
    "Fired",
    "Guard",
    "MaxRounds",
    "MemberTurns",
    "NativeTurns",
    "Never",
    "Outcome",
    "Pattern",
    "PatternContext",
    "PatternRegistry",
    "PatternResult",
    "RoundState",
    "Stop",
    "TaskInfo",
    "TestsPass",
    "TranscriptRef",
    "build_termination",
    "context_for_task",
    "default_registry",
    "merge_params",
    "pattern_context",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), _EXPORTS)
