"""Collaboration patterns: the Pattern protocol, a registry by kind (built-ins and the
`crew.patterns` entry-point group), termination conditions and the five built-in kinds.

Names load on first use: importing this package imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew._lazy import lazy_exports

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
    from crew.patterns.setup import context_for_task
    from crew.patterns.termination import (
        Approved,
        Budget,
        Condition,
        Consensus,
        Guard,
        MaxRounds,
        RoundState,
        TestsPass,
        build_termination,
    )

_EXPORTS = {
    **dict.fromkeys(("Artifacts", "BasePattern", "Outcome", "Pattern", "PatternContext",
                     "PatternResult", "TaskInfo", "TranscriptRef"), "crew.patterns.base"),
    **dict.fromkeys(("PatternRegistry", "default_registry", "merge_params"),
                    "crew.patterns.registry"),
    "context_for_task": "crew.patterns.setup",
    **dict.fromkeys(("Approved", "Budget", "Condition", "Consensus", "Guard", "MaxRounds",
                     "RoundState", "TestsPass", "build_termination"),
                    "crew.patterns.termination"),
}
__all__ = [
    "Approved",
    "Artifacts",
    "BasePattern",
    "Budget",
    "Condition",
    "Consensus",
    "Guard",
    "MaxRounds",
    "Outcome",
    "Pattern",
    "PatternContext",
    "PatternRegistry",
    "PatternResult",
    "RoundState",
    "TaskInfo",
    "TestsPass",
    "TranscriptRef",
    "build_termination",
    "context_for_task",
    "default_registry",
    "merge_params",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
