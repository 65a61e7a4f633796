"""crew's LLM layer: the only package that imports litellm (lazily, in crew.llm._litellm).

Public API: LLM (router facade: complete / ask), prewarm (litellm imported in the background), Ledger, Budget, Limits, StructuredOutputError,
the value types of crew.llm.types. Importing this package never imports litellm.
"""

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
