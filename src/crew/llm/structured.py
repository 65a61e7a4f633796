"""Structured output: a validated pydantic instance from any ChatModel.

Order of defences: response_format json_schema where the deployment supports it (else a short
instruction carrying the schema), then a deterministic repair of the text (code fences, text
around the JSON, trailing commas, single quotes, Python literals), then re-asks that carry the
validation error, then StructuredOutputError.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from crew.errors import ModelBehaviorError
from crew.llm.types import CallContext, ChatModel, Message

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_PY_LITERALS = re.compile(r"\b(True|False|None)\b")


class StructuredOutputError(ModelBehaviorError):
    """The model's answer did not validate against the schema after repairs and re-asks."""

    def __init__(self, message: str, *, schema: str, attempts: int, last_output: str | None,
                 errors: list[str]) -> None:
        self.schema, self.attempts, self.last_output, self.errors = (
            schema, attempts, last_output, errors)
        super().__init__(message)


def schema_instruction(schema: type[BaseModel]) -> str:
    js = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    return f"Reply with only a JSON object (no prose, no code fence) valid against this JSON Schema: {js}"


def response_format_for(schema: type[BaseModel]) -> dict[str, Any]:
    return {"type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()}}


def _outermost_json(text: str) -> str:
    """The span from the first { or [ to its matching closer (strings respected), else text."""
    start = next((i for i, ch in enumerate(text) if ch in "{["), None)
    if start is None:
        return text
    depth, quote, escape = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return text[start:]


def _single_to_double_quotes(s: str) -> str:
    """Turn 'single-quoted' JSON strings into "double-quoted" ones, leaving "..." intact."""
    out, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch == '"':
            j = i + 1
            while j < n and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            out.append(s[i:j + 1])
            i = j + 1
        elif ch == "'":
            j, buf = i + 1, []
            while j < n and s[j] != "'":
                if s[j] == "\\" and j + 1 < n:
                    buf.append(s[j:j + 2] if s[j + 1] != "'" else "'")
                    j += 2
                    continue
                buf.append('\\"' if s[j] == '"' else s[j])
                j += 1
            out.append('"' + "".join(buf) + '"')
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def repair_json(text: str) -> Any:
    """Parse `text` as JSON, repairing common model slips; raises ValueError if it cannot."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    candidate = text.strip()
    fence = _FENCE.search(candidate)
    if fence:
        candidate = fence.group(1).strip()
    candidate = _outermost_json(candidate)
    for fix in (lambda s: s, _single_to_double_quotes):
        fixed = _TRAILING_COMMA.sub(r"\1", fix(candidate))
        for attempt in (fixed, _PY_LITERALS.sub(
                lambda m: {"True": "true", "False": "false", "None": "null"}[m.group(1)], fixed)):
            try:
                return json.loads(attempt)
            except ValueError:
                continue
    raise ValueError("the answer is not valid JSON, even after repair")


def parse_as(schema: type[T], text: str | None) -> T:
    """Validate `text` (repaired if needed) as `schema`; raises ValueError with the reason."""
    if not text or not text.strip():
        raise ValueError("the answer was empty")
    data = repair_json(text)
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(root)'}: {err['msg']}"
                             for err in e.errors()[:8])
        raise ValueError(f"the JSON does not match the schema: {problems}") from None


async def ask_structured(model: ChatModel, alias: str, messages: list[Message],
                         schema: type[T], *, context: CallContext | None = None,
                         max_reasks: int = 2, native_schema: bool = False, **params: Any) -> T:
    """Ask `model` for an instance of `schema`; see the module docstring for the defences."""
    if native_schema:
        params["response_format"] = response_format_for(schema)
        convo = list(messages)
    else:  # volatile instruction last, so the stable prefix stays cacheable
        convo = [*messages, {"role": "user", "content": schema_instruction(schema)}]
    errors: list[str] = []
    last: str | None = None
    for attempt in range(max_reasks + 1):
        completion = await model.complete(alias, convo, context=context, **params)
        last = completion.content
        try:
            return parse_as(schema, last)
        except ValueError as e:
            errors.append(str(e))
        if attempt < max_reasks:
            convo = [*convo, {"role": "assistant", "content": last or ""},
                     {"role": "user", "content": (
                         f"That reply was invalid: {errors[-1]}. "
                         "Reply again with only the corrected JSON object.")}]
    raise StructuredOutputError(
        f"{alias}: no valid {schema.__name__} after {max_reasks + 1} attempts: {errors[-1]}",
        schema=schema.__name__, attempts=max_reasks + 1, last_output=last, errors=errors)
