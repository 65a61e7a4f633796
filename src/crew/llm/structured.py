"""Structured output: a validated pydantic instance from any ChatModel.

Order of defences: response_format json_schema where the deployment declares it
(`model_info.supports_response_schema`, else what LiteLLM knows of the model), otherwise a
compact field list as the last message; then a deterministic repair of the text (the JSON
object inside code fences or prose, then the `json-repair` library: trailing commas, single
quotes, missing quotes, truncation); then re-asks carrying the validation error — the last ones
go to the alias's router fallback, when it has one and the alias keeps failing; then
StructuredOutputError (which the patterns turn into a degraded decision).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from crew.errors import ModelBehaviorError
from crew.llm.types import CallContext, ChatModel, Message

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.S)
_PY_NONE = re.compile(r"(?<=[:\[,])(\s*)None(?=\s*[,}\]])")  # a Python None in value position
# After this many invalid answers from an alias, the remaining re-asks go to its fallback.
FALLBACK_AFTER = 2


class StructuredOutputError(ModelBehaviorError):
    """The model's answer did not validate against the schema after repairs and re-asks."""

    def __init__(self, message: str, *, schema: str, attempts: int, last_output: str | None,
                 errors: list[str]) -> None:
        self.schema, self.attempts, self.last_output, self.errors = (
            schema, attempts, last_output, errors)
        super().__init__(message)


def _shape(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """A compact, JSON-like rendering of one JSON Schema node."""
    if "$ref" in node:
        return _shape(defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {}), defs)
    if "enum" in node:
        return "|".join(json.dumps(v) for v in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return "|".join(dict.fromkeys(_shape(n, defs) for n in node[key]))
    kind = node.get("type")
    if kind == "array":
        return f"[{_shape(node.get('items') or {}, defs)},...]"
    if kind == "object" or "properties" in node:
        required = set(node.get("required") or ())
        fields = [f'"{k}":{_shape(v, defs)}' if k in required  # no spaces: fewer tokens
                  else f'"{k}"?:{_shape(v, defs).removesuffix("|null")}'  # `?` says it
                  for k, v in (node.get("properties") or {}).items()]
        return "{" + ",".join(fields) + "}"
    return {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
            "null": "null"}.get(str(kind), "any")


def schema_shape(schema: type[BaseModel]) -> str:
    """The schema as a compact field list, e.g. `{"approved": bool, "summary"?: str}`
    (`?`: may be left out)."""
    js = schema.model_json_schema()
    return _shape(js, js.get("$defs") or {})


def schema_instruction(schema: type[BaseModel]) -> str:
    """The instruction for servers without native structured output: a compact field list,
    not a JSON Schema dump (measured in docs/ARCHITECTURE.md, "Degraded decisions")."""
    return f"JSON: {schema_shape(schema)}"


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




def repair_json(text: str) -> Any:
    """Parse `text` as JSON, repairing common model slips; raises ValueError if it cannot.

    Deterministic: the JSON inside a code fence or around prose (the first object or array,
    brace-matched), a Python `None` in value position, then `json_repair` (trailing commas,
    single or missing quotes, Python booleans, unclosed brackets of a truncated answer)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    candidate = text.strip()
    fence = _FENCE.search(candidate)
    if fence:
        candidate = fence.group(1).strip()
    candidate = _PY_NONE.sub(r"\1null", _outermost_json(candidate))
    if candidate[:1] not in ("{", "["):
        raise ValueError("the answer holds no JSON object")
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    from json_repair import repair_json as _library_repair  # type: ignore[import-untyped]

    try:
        data = _library_repair(candidate, return_objects=True)
    except Exception:  # the library's parser on hostile input: treat as unrepairable
        data = ""
    if data == "" or data is None:
        raise ValueError("the answer is not valid JSON, even after repair")
    return data


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


def _opening(messages: list[Message], schema: type[BaseModel], native: bool,
             params: dict[str, Any]) -> tuple[list[Message], dict[str, Any]]:
    if native:
        return list(messages), {**params, "response_format": response_format_for(schema)}
    # volatile instruction last, so the stable prefix stays cacheable; on the last user
    # message when it is text (a message of its own costs ~4 tokens more)
    note = schema_instruction(schema)
    last = messages[-1] if messages else None
    if last is not None and last.get("role") == "user" and isinstance(last.get("content"), str):
        return [*messages[:-1], {**last, "content": f"{last['content']}\n\n{note}"}], dict(params)
    return [*messages, {"role": "user", "content": note}], dict(params)


async def ask_structured(model: ChatModel, alias: str, messages: list[Message],
                         schema: type[T], *, context: CallContext | None = None,
                         max_reasks: int = 2, native_schema: bool = False,
                         fallbacks: Sequence[tuple[str, bool]] = (), **params: Any) -> T:
    """Ask `model` for an instance of `schema`; see the module docstring for the defences.
    `fallbacks`: (alias, native_schema) to re-ask once `alias` gave FALLBACK_AFTER invalid
    answers (the fallback starts from the original messages: it owes nothing to the other
    model's mistakes)."""
    targets = [(alias, native_schema), *fallbacks[:1]]
    current = 0
    convo, call = _opening(messages, schema, native_schema, params)
    errors: list[str] = []
    failures = 0  # invalid answers of the current target
    last: str | None = None
    for attempt in range(max_reasks + 1):
        completion = await model.complete(targets[current][0], convo, context=context, **call)
        last = completion.content
        try:
            return parse_as(schema, last)
        except ValueError as e:
            errors.append(str(e))
            failures += 1
        if attempt == max_reasks:
            break
        if failures >= FALLBACK_AFTER and current + 1 < len(targets):
            current, failures = current + 1, 0
            convo, call = _opening(messages, schema, targets[current][1], params)
            continue
        convo = [*convo, {"role": "assistant", "content": last or ""},
                 {"role": "user", "content": (
                     f"That reply was invalid: {errors[-1]}. "
                     "Reply again with only the corrected JSON object.")}]
    used = " then ".join(a for a, _ in targets[:current + 1])
    raise StructuredOutputError(
        f"{used}: no valid {schema.__name__} after {len(errors)} attempts: {errors[-1]}",
        schema=schema.__name__, attempts=len(errors), last_output=last, errors=errors)
