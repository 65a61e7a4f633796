"""crew's LLM layer: the only package that imports litellm (in crew.llm._litellm).

Public API: LLM (router facade: complete / ask), prewarm (litellm imported in the background),
Ledger, Budget, Limits, StructuredOutputError, the value types of crew.llm.types. Names load
their module on first use: `import crew.llm` (and crew.llm.types, which every layer uses)
imports no litellm; `from crew.llm import LLM` imports crew.llm.client, which loads litellm
and what its first request needs as part of that import (see crew.llm._litellm.load_on_import).
"""

from __future__ import annotations

from crew._lazy import lazy_dir, lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see crew/__init__)
if TYPE_CHECKING:
    from crew.llm._litellm import prewarm
    from crew.llm.budget import Budget, BudgetWarning, Limits
    from crew.llm.client import LLM
    from crew.llm.ledger import Ledger, LedgerEntry, Totals
    from crew.llm.structured import StructuredOutputError, parse_as, repair_json
    from crew.llm.types import (
        CallContext,
        ChatModel,
        Completion,
        Message,
        StructuredChatModel,
        ToolCall,
        ToolSpec,
        Usage,
    )

_EXPORTS = {
    "prewarm": "crew.llm._litellm",
    **dict.fromkeys(("Budget", "BudgetWarning", "Limits"), "crew.llm.budget"),
    "LLM": "crew.llm.client",
    **dict.fromkeys(("Ledger", "LedgerEntry", "Totals"), "crew.llm.ledger"),
    **dict.fromkeys(("StructuredOutputError", "parse_as", "repair_json"), "crew.llm.structured"),
    **dict.fromkeys(("CallContext", "ChatModel", "Completion", "Message", "StructuredChatModel",
                     "ToolCall", "ToolSpec", "Usage"), "crew.llm.types"),
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), _EXPORTS)

__all__ = [
    "LLM",
    "Budget",
    "BudgetWarning",
    "CallContext",
    "ChatModel",
    "Completion",
    "Ledger",
    "LedgerEntry",
    "Limits",
    "Message",
    "StructuredChatModel",
    "StructuredOutputError",
    "ToolCall",
    "ToolSpec",
    "Totals",
    "Usage",
    "parse_as",
    "prewarm",
    "repair_json",
]
