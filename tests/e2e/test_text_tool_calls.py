"""Issue 13 item 3, end to end: a model that writes its tool calls as text (Hermes/Qwen tags, a
fenced JSON object, Llama's <|python_tag|>) edits files through a real `crew run`: LiteLLM
Router → the stub HTTP server, the calls run through the registry like native ones (traced,
answered with tool messages), the task commits and the file is on the run's branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_helpers import git, only_run, state_of
from tool_project import events, make_project, run_crew

from crew.testing import StubReply, StubServer


def _args(fmt: str) -> dict[str, str]:
    return {"path": "notes.txt", "content": f"written by a {fmt} model\n"}


REPLIES = {
    "hermes": ("I will write both files.\n<tool_call>\n"
               + json.dumps({"name": "write_file", "arguments": _args("hermes")})
               + "\n</tool_call>\n<tool_call>"
               + json.dumps({"name": "write_file",
                             "arguments": {"path": "docs/more.md", "content": "second\n"}})
               + "</tool_call>"),
    "json": ("Here is the call:\n```json\n"
             + json.dumps({"name": "write_file", "parameters": _args("json")}, indent=2)
             + "\n```"),
    "llama": ("<|python_tag|>"
              + json.dumps({"name": "write_file", "parameters": _args("llama")})
              + "<|eom_id|>"),
}


@pytest.mark.parametrize("fmt", list(REPLIES))
def test_a_model_writing_tool_calls_as_text_edits_a_file(tmp_path: Path, fmt: str) -> None:
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["write_file", "read_file"])
        stub.enqueue(StubReply.text(REPLIES[fmt]), StubReply.text("Done: notes.txt written."),
                     model="worker")
        res = run_crew("run", str(feature), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        worker = stub.requests_for("worker")
    assert len(worker) == 2
    # the second request carries the calls as real tool calls and their results
    msgs = worker[1].body["messages"]
    assistant = next(m for m in msgs if m["role"] == "assistant")
    names = [c["function"]["name"] for c in assistant["tool_calls"]]
    assert names == (["write_file", "write_file"] if fmt == "hermes" else ["write_file"])
    assert "<tool_call>" not in str(assistant.get("content"))
    results = [m["content"] for m in msgs if m["role"] == "tool"]
    assert results and all(r.startswith("created ") for r in results), results

    repo = tmp_path / "repo"
    state = state_of(only_run(repo))
    assert state["status"] == "passed" and state["tasks"]["triage"]["status"] == "done"
    assert git(repo, "show", f"{state['branch']}:notes.txt") == f"written by a {fmt} model"
    if fmt == "hermes":
        assert git(repo, "show", f"{state['branch']}:docs/more.md") == "second"
    evs = events(repo)
    ends = [e for e in evs if e["type"] == "tool.end" and e["name"] == "write_file"]
    assert [e["payload"]["status"] for e in ends] == ["ok"] * len(names)
    parsed = [e for e in evs if e["type"] == "event" and e["name"] == "text_tool_calls"]
    assert [e["payload"]["format"] for e in parsed] == [fmt]


def test_unknown_names_and_bad_arguments_written_as_text_are_answered(tmp_path: Path) -> None:
    bad = ('<tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>'
           '<tool_call>{"name": "write_file", "arguments": {"path": "x.txt"}}</tool_call>')
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["write_file"])
        stub.enqueue(StubReply.text(bad), StubReply.text("I give up."), model="worker")
        res = run_crew("run", str(feature), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        msgs = stub.requests_for("worker")[1].body["messages"]
    unknown, invalid = [m["content"] for m in msgs if m["role"] == "tool"]
    assert unknown == "Error: unknown tool 'bash'. Available tools: write_file."
    assert "invalid arguments for write_file: content: Field required" in invalid
    assert '"required":["path","content"]' in invalid  # the schema the model must follow
