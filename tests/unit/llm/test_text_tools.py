"""Tool calls written as text (crew.llm.text_tools): each format, several calls in one reply,
the text around them, malformed calls, and answers that only look like calls."""

from __future__ import annotations

import json

import pytest

from crew.llm.text_tools import parse_text_tool_calls


def calls(content: str) -> list[tuple[str, dict[str, object]]]:
    parsed = parse_text_tool_calls(content)
    assert parsed is not None, content
    return [(c.name, json.loads(c.arguments)) for c in parsed.calls]


W = {"path": "a.txt", "content": "hi"}


def test_hermes_tags_one_or_several_with_text_around() -> None:
    content = ("Let me look first.\n<tool_call>\n{\"name\": \"read_file\", \"arguments\": "
               "{\"path\": \"a.py\"}}\n</tool_call>\n<tool_call>{\"name\": \"write_file\", "
               "\"arguments\": " + json.dumps(W) + "}</tool_call>")
    parsed = parse_text_tool_calls(content)
    assert parsed is not None and parsed.format == "hermes" and parsed.problem is None
    assert calls(content) == [("read_file", {"path": "a.py"}), ("write_file", W)]
    assert parsed.text == "Let me look first."
    assert all(c.id == "" for c in parsed.calls)  # the agent numbers them


def test_hermes_unclosed_fenced_and_string_arguments() -> None:
    assert calls('<tool_call>{"name": "list_files", "arguments": {}}') == [("list_files", {})]
    fenced = '<tool_call>\n```json\n{"name": "git_status", "arguments": {}}\n```\n</tool_call>'
    assert calls(fenced) == [("git_status", {})]
    as_string = json.dumps({"name": "write_file", "arguments": json.dumps(W)})
    assert calls(f"<tool_call>{as_string}</tool_call>") == [("write_file", W)]
    two_in_one = json.dumps([{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}])
    assert calls(f"<tool_call>{two_in_one}</tool_call>") == [("a", {}), ("b", {})]


def test_hermes_broken_json_is_repaired_or_reported() -> None:
    assert calls('<tool_call>{"name": "write_file", "arguments": {"path": "a.txt", '
                 '"content": "hi"}</tool_call>') == [("write_file", W)]
    parsed = parse_text_tool_calls("<tool_call>write the file please</tool_call>")
    assert parsed is not None and parsed.calls == ()
    assert parsed.problem is not None and "could not read the call as JSON" in parsed.problem


@pytest.mark.parametrize("key", ["arguments", "parameters"])
def test_fenced_json_objects_and_lists(key: str) -> None:
    body = json.dumps({"name": "write_file", key: W}, indent=2)
    parsed = parse_text_tool_calls(f"I'll write it.\n```json\n{body}\n```\nThen test.")
    assert parsed is not None and parsed.format == "json"
    assert calls(f"```json\n{body}\n```") == [("write_file", W)]
    assert parsed.text == "I'll write it.\n\nThen test."
    several = json.dumps([{"name": "read_file", key: {"path": "a"}},
                          {"name": "read_file", key: {"path": "b"}}])
    assert calls(f"```\n{several}\n```") == [("read_file", {"path": "a"}),
                                             ("read_file", {"path": "b"})]


def test_openai_shape_and_a_bare_reply_of_json() -> None:
    openai = {"type": "function", "function": {"name": "write_file", "arguments": json.dumps(W)}}
    assert calls(json.dumps(openai)) == [("write_file", W)]
    assert calls(json.dumps({"name": "write_file", "parameters": W})) == [("write_file", W)]


def test_llama_python_tag_json_call_syntax_and_function_tags() -> None:
    one = "<|python_tag|>" + json.dumps({"name": "write_file", "parameters": W}) + "<|eom_id|>"
    parsed = parse_text_tool_calls(one)
    assert parsed is not None and parsed.format == "llama" and parsed.text is None
    assert calls(one) == [("write_file", W)]
    two = ("<|python_tag|>" + json.dumps({"name": "read_file", "parameters": {"path": "a"}})
           + "; " + json.dumps({"name": "read_file", "parameters": {"path": "b"}}))
    assert calls(two) == [("read_file", {"path": "a"}), ("read_file", {"path": "b"})]
    assert calls('<|python_tag|>write_file.call(path="a.txt", content="hi")') == [
        ("write_file", W)]
    assert calls('<|python_tag|>search_code(pattern="TODO", max_results=5)') == [
        ("search_code", {"pattern": "TODO", "max_results": 5})]
    assert calls('<function=write_file>{"path": "a.txt", "content": "hi"}</function>') == [
        ("write_file", W)]


def test_a_python_tag_with_code_is_a_problem_not_a_call() -> None:
    parsed = parse_text_tool_calls("<|python_tag|>import os; os.remove('x')")
    assert parsed is not None and parsed.calls == () and parsed.problem


@pytest.mark.parametrize("content", [
    None, "", "   ",
    "All done: I wrote a.txt and the tests pass.",
    '{"answer": 42}',                                    # a JSON answer
    '{"name": "Alice", "age": 31}',                      # has a name, is no call
    '{"name": "Alice", "arguments": ["a", "b"]}',        # arguments not an object
    '{"name": "write_file", "arguments": {}, "why": 1}', # extra keys: not exactly a call
    '[1, 2, 3]',
    "Use it like this:\n```python\nwrite_file(path='a')\n```",
    'Example config:\n```json\n{"name": "demo", "version": "1.0"}\n```',
    'The schema is `{"name": "x", "arguments": {}}` in prose.',
    '{"name": "has spaces", "arguments": {}}',           # not a tool-like name
])
def test_answers_that_are_not_tool_calls(content: str | None) -> None:
    assert parse_text_tool_calls(content) is None


def test_a_fence_is_only_calls_when_everything_in_it_is_a_call() -> None:
    mixed = json.dumps([{"name": "read_file", "arguments": {"path": "a"}}, {"note": "x"}])
    assert parse_text_tool_calls(f"```json\n{mixed}\n```") is None
