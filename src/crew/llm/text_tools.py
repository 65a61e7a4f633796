"""Tool calls a model wrote as text instead of native `tool_calls`.

Local models behind vLLM, Ollama or llama.cpp often answer a request that carries `tools` with
the calls in the message content. Three shapes are read:

- `hermes`: Hermes / Qwen tags, one call per tag (the last one may lack its closing tag):
  `<tool_call>{"name": "write_file", "arguments": {...}}</tool_call>`
- `json`: a fenced JSON block (```json ... ```) holding a call object or a list of them, or a
  whole reply that is nothing but such JSON; `arguments` may be spelled `parameters`, and the
  OpenAI shape `{"type": "function", "function": {"name": ..., "arguments": ...}}` is accepted.
- `llama`: Llama 3.x: `<|python_tag|>` followed by call objects (`;`-separated) or a simple
  `name.call(key="value", ...)` with literal arguments, and `<function=name>{...}</function>`.

Tags (`hermes`, `llama`) are explicit: whatever name they carry is a call (an unknown one is
answered with the valid names). A JSON block counts only when every object in it is exactly a
call (`name` plus an `arguments`/`parameters` object, optionally `type`/`id`), so a JSON answer
that is not a call stays an answer. Pure parsing: no litellm, no I/O.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from crew.llm.types import ToolCall

__all__ = ["TextToolCalls", "parse_text_tool_calls"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_HERMES = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
_PYTAG = re.compile(r"<\|python_tag\|>(.*?)(?:<\|eom_id\|>|<\|eot_id\|>|(?=<\|python_tag\|>)|\Z)",
                    re.S)
_FUNCTION = re.compile(r"<function=([A-Za-z_][\w.\-]*)>(.*?)</function>", re.S)
_FENCE = re.compile(r"```[ \t]*([A-Za-z_]*)[ \t]*\n(.*?)```", re.S)
_FENCE_LANGS = ("", "json", "tool_call", "tool_code", "tool", "function")
_CALL_KEYS = {"name", "arguments", "parameters", "type", "id"}


@dataclass(frozen=True)
class TextToolCalls:
    """What a reply's text held: the calls, the text around them, and the shape found.

    `problem` is set when the reply clearly tried a call (a tag) that could not be read; then
    `calls` holds the calls that could be."""

    calls: tuple[ToolCall, ...]
    text: str | None  # the reply without the calls (None when nothing else was said)
    format: str  # "hermes" | "json" | "llama"
    problem: str | None = None


def parse_text_tool_calls(content: str | None) -> TextToolCalls | None:
    """The tool calls written in `content`, or None when it holds none (an ordinary answer)."""
    if not content or not content.strip():
        return None
    if "<tool_call>" in content:
        return _tagged(content, _HERMES, "hermes")
    if "<|python_tag|>" in content or _FUNCTION.search(content):
        return _llama(content)
    return _fenced(content) or _bare(content)


# ---------------------------------------------------------------- the three shapes

def _tagged(content: str, pattern: re.Pattern[str], fmt: str) -> TextToolCalls:
    calls: list[ToolCall] = []
    problems: list[str] = []
    for m in pattern.finditer(content):
        body = _unfence(m.group(1))
        found, problem = _objects_as_calls(body, explicit=True)
        calls += found
        if problem:
            problems.append(problem)
    text = pattern.sub("", content)
    return _result(calls, text, fmt, problems)


def _llama(content: str) -> TextToolCalls:
    calls: list[ToolCall] = []
    problems: list[str] = []
    for name, body in _FUNCTION.findall(content):
        args = _json_object(body.strip() or "{}")
        if args is None:
            problems.append(f"the arguments of <function={name}> are not a JSON object")
            continue
        calls.append(_call(name, args))
    text = _FUNCTION.sub("", content)
    for m in _PYTAG.finditer(text):
        body = _unfence(m.group(1))
        found, problem = _objects_as_calls(body, explicit=True)
        if not found and problem:
            py = _python_call(body)
            if py is not None:
                found, problem = [py], None
        calls += found
        if problem:
            problems.append(problem)
    text = _PYTAG.sub("", text).replace("<|eom_id|>", "").replace("<|eot_id|>", "")
    return _result(calls, text, "llama", problems)


def _fenced(content: str) -> TextToolCalls | None:
    calls: list[ToolCall] = []
    spans: list[tuple[int, int]] = []
    for m in _FENCE.finditer(content):
        if m.group(1).lower() not in _FENCE_LANGS:
            continue
        found = _strict_calls(m.group(2))
        if found:
            calls += found
            spans.append(m.span())
    if not calls:
        return None
    text = content
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return _result(calls, text, "json", [])


def _bare(content: str) -> TextToolCalls | None:
    """A reply that is nothing but a call object (or a list of them)."""
    stripped = content.strip()
    if not stripped.startswith(("{", "[")):
        return None
    found = _strict_calls(stripped)
    return _result(found, "", "json", []) if found else None


# ---------------------------------------------------------------- reading one body

def _objects_as_calls(body: str, *, explicit: bool) -> tuple[list[ToolCall], str | None]:
    """Every call object in `body` (one object, a list, or objects one after another)."""
    objects = _json_values(body)
    if objects is None:
        return [], f"could not read the call as JSON: {body.strip()[:200]!r}"
    calls: list[ToolCall] = []
    for obj in objects:
        call = _as_call(obj, explicit=explicit)
        if call is None:
            return calls, f"not a call object (needs \"name\" and \"arguments\"): {_short(obj)}"
        calls.append(call)
    if not calls:
        return [], "an empty tool call"
    return calls, None


def _strict_calls(body: str) -> list[ToolCall]:
    """The calls in `body` when every value in it is exactly a call; else none."""
    objects = _json_values(body)
    if not objects:
        return []
    calls = [_as_call(o, explicit=False) for o in objects]
    return [c for c in calls if c is not None] if all(calls) else []


def _as_call(obj: Any, *, explicit: bool) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    fn = obj.get("function")
    if isinstance(fn, dict) and set(obj) <= {"function", "type", "id"}:
        obj = fn  # the OpenAI shape
    name = obj.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        return None
    if not set(obj) <= _CALL_KEYS:
        return None
    has_args = "arguments" in obj or "parameters" in obj
    if not has_args and not explicit:
        return None
    raw = obj.get("arguments", obj.get("parameters", {}))
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        parsed = _json_object(raw) if raw.strip() else {}
        if parsed is None:
            if not explicit:
                return None
            return ToolCall("", name, raw)  # the registry answers "not valid JSON"
        raw = parsed
    if not isinstance(raw, dict):
        if not explicit:
            return None
        return ToolCall("", name, json.dumps(raw))  # the registry answers "must be an object"
    return _call(name, raw)


def _python_call(body: str) -> ToolCall | None:
    """`name.call(k=v, ...)` or `name(k=v, ...)` with literal keyword arguments only."""
    try:
        node = ast.parse(body.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(node, ast.Call) or node.args:
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "call" and isinstance(func.value, ast.Name):
        name = func.value.id
    elif isinstance(func, ast.Name):
        name = func.id
    else:
        return None
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            return None
        try:
            args[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, SyntaxError):
            return None
    return _call(name, args)


# ---------------------------------------------------------------- helpers

def _call(name: str, args: dict[str, Any]) -> ToolCall:
    return ToolCall("", name, json.dumps(args, ensure_ascii=False))


def _unfence(body: str) -> str:
    body = body.strip()
    m = re.fullmatch(r"```[A-Za-z_]*\s*\n?(.*?)\n?```", body, re.S)
    return m.group(1).strip() if m else body


def _json_values(body: str) -> list[Any] | None:
    """The JSON values in `body`: one value (a list is flattened), or several one after
    another (separated by whitespace, `;` or `,`). Broken JSON gets one deterministic repair."""
    body = body.strip()
    if not body:
        return None
    values: list[Any] = []
    decoder = json.JSONDecoder()
    pos = 0
    try:
        while pos < len(body):
            value, pos = decoder.raw_decode(body, pos)
            values.extend(value if isinstance(value, list) else [value])
            while pos < len(body) and body[pos] in " \t\r\n;,":
                pos += 1
    except json.JSONDecodeError:
        repaired = _repair(body[pos:])
        if repaired is None:
            return None
        values.extend(repaired if isinstance(repaired, list) else [repaired])
    return values


def _repair(text: str) -> Any:
    """json-repair's best reading of a broken object or list (None when it finds none)."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    import importlib

    json_repair = importlib.import_module("json_repair")  # untyped; loaded only when needed
    try:
        value = json_repair.loads(text)
    except Exception:  # json-repair is best effort; anything it cannot read is no call
        return None
    return value if isinstance(value, dict | list) and value else None


def _json_object(text: str) -> dict[str, Any] | None:
    values = _json_values(text)
    if values and len(values) == 1 and isinstance(values[0], dict):
        return values[0]
    return None


def _short(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)[:200]


def _result(calls: list[ToolCall], text: str, fmt: str, problems: list[str]) -> TextToolCalls:
    rest = text.strip() or None
    return TextToolCalls(tuple(calls), rest, fmt, "; ".join(problems) or None)
