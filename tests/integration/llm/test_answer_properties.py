"""Issue 31, item 6: property tests over the model-output boundary. Hypothesis generates
answers — JSON and not, any unicode (lone surrogates, NUL, controls), sizes up to 100 KB,
malformed response shapes, tool calls of every form with hostile paths — served by the
StubServer through LiteLLM's real HTTP path and the Router:

- one call: no exception escapes `LLM.complete`; every text it returns is safe to store and
  send (crew.textsafe); the tool layer answers each call with a ToolOutcome (a refusal at
  worst); the turn journal writes it and reads it back.
- whole runs: a single-task run answered by a generated script ends with a final status, its
  checkpoint and journals read back, and `crew resume` of a stopped run continues it.

Example counts are modest (derandomized: the same examples on every machine)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crew.llm import LLM
from crew.llm.types import ToolCall
from crew.run.journal import TurnJournal, read_jsonl
from crew.run.launch import RunOptions, resume_run, start_run
from crew.run.state import FINISHED_RUN, load_state
from crew.spec.models import ModelsConfig
from crew.testing import StubReply, StubServer
from crew.textsafe import is_safe
from crew.tools import ToolContext, ToolOutcome, ToolRegistry
from shared_helpers import committed_repo

# -------------------------------------------------------------------------- strategies
ANY_CHAR = st.characters(exclude_categories=())  # lone surrogates (Cs) included
SPECIAL = st.sampled_from(["\x00", "\ud800", "\udfff", "\x1b[2J", "\u202e", "\ufeff", "\r",
                           "```json", "{", "}", "null", '"', "\\u0000"])
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.lists(st.one_of(SPECIAL, st.text(ANY_CHAR, max_size=5)), max_size=12).map("".join),
    st.integers(0, 100_000).map(lambda n: "x" * n),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10)
PATHS = st.one_of(st.sampled_from(["app.py", "notes/a.md", "../out.txt", "/etc/passwd", "",
                                   ".git/config", "a\x00b", "x\ud800", "~/x", "a/" * 30 + "b",
                                   ".env", "sub/../../x"]), TEXT)
TOOL_NAMES = st.sampled_from(["write_file", "read_file", "edit_file", "list_files",
                              "search_code", "git_status", "launch_rockets", "", "\x00"])


@st.composite
def tool_calls(draw: st.DrawFn) -> dict[str, Any]:
    args: Any = draw(st.one_of(
        st.fixed_dictionaries({"path": PATHS}, optional={
            "content": TEXT, "old": TEXT, "new": TEXT, "pattern": TEXT}),
        JSON.map(json.dumps), TEXT, st.none()))
    fn: dict[str, Any] = {"arguments": args if isinstance(args, str) or args is None
                          else json.dumps(args)}
    if draw(st.integers(0, 4)):  # a name most of the time
        fn["name"] = draw(TOOL_NAMES)
    call: dict[str, Any] = {"type": "function", "function": fn}
    if draw(st.booleans()):
        call["id"] = draw(st.text(max_size=8))
    return call


def _raw(choices: Any, usage: bool) -> StubReply:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                            "choices": choices}
    if usage:
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return StubReply(raw_body=json.dumps(body))


@st.composite
def replies(draw: st.DrawFn) -> StubReply:
    """One answer as the server sends it: text, JSON, tool calls, or a malformed shape."""
    kind = draw(st.sampled_from(["text", "json", "tools", "shape", "body"]))
    if kind == "text":
        return StubReply.text(draw(TEXT))
    if kind == "json":
        return StubReply.text(json.dumps(draw(JSON), ensure_ascii=draw(st.booleans())))
    if kind == "tools":
        calls = tuple(draw(st.lists(tool_calls(), min_size=1, max_size=3)))
        return StubReply(content=draw(st.none() | TEXT), tool_calls=calls,
                         finish_reason="tool_calls")
    if kind == "body":
        return StubReply(raw_body=draw(st.sampled_from(
            ['{"choices": [', "", "null", "[]", '{"choices": null}', "<html>502</html>"])))
    message: Any = draw(st.one_of(
        st.none(), st.fixed_dictionaries({"role": st.just("assistant")}, optional={
            "content": st.none() | TEXT, "tool_calls": st.lists(tool_calls(), max_size=2)})))
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
    if message is not None:
        choice["message"] = message
    return _raw(draw(st.sampled_from([[], [choice], [choice, choice]])), draw(st.booleans()))


# -------------------------------------------------------------------------- one call
@pytest.fixture(scope="module")
def served() -> Iterator[tuple[StubServer, LLM, asyncio.AbstractEventLoop]]:
    with StubServer() as stub:
        llm = LLM(ModelsConfig.model_validate({"model_list": [{
            "model_name": "smart", "litellm_params": {
                "model": "openai/prop", "api_base": stub.url, "api_key": "sk-stub-not-a-key",
                "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}}],
            "router_settings": {"num_retries": 0}}))
        # one loop for every example: LiteLLM caches its HTTP clients per loop (left open:
        # closing it under cached clients makes their finalizers complain)
        yield stub, llm, asyncio.new_event_loop()


TOOLS = ToolRegistry.builtin()
SPECS = [TOOLS.get(n).spec() for n in ("write_file", "read_file")]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(reply=replies())
def test_any_answer_becomes_a_safe_completion_and_tool_outcomes(
        served: tuple[StubServer, LLM, asyncio.AbstractEventLoop], tmp_path: Path,
        reply: StubReply) -> None:
    stub, llm, loop = served
    stub.always(reply)
    c = loop.run_until_complete(llm.complete("smart", [{"role": "user", "content": "go"}],
                                             tools=SPECS))
    assert c.content is None or is_safe(c.content)
    assert all(is_safe(t.id) and is_safe(t.name) and is_safe(t.arguments) and t.id
               for t in c.tool_calls)
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    outcomes = [loop.run_until_complete(TOOLS.invoke(ToolCall(t.id, t.name, t.arguments),
                                                     ToolContext(ws)))
                for t in c.tool_calls]
    assert all(isinstance(o, ToolOutcome) and is_safe(o.output) for o in outcomes)
    journal = TurnJournal(tmp_path / "turns.jsonl")
    messages = [c.as_message(), *(o.as_message() for o in outcomes)]
    journal.record("t/coder//1/0", 1, messages, None)
    journal.log.close()
    assert list(read_jsonl(tmp_path / "turns.jsonl"))  # written, and read back
    assert all((p.resolve() == ws.resolve() or ws.resolve() in p.resolve().parents)
               for p in ws.rglob("*"))  # nothing written outside the workspace


# -------------------------------------------------------------------------- whole runs
def _feature(root: Path, stub: StubServer) -> Path:
    committed_repo(root / "repo")
    (root / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": a, "litellm_params": {"model": "openai/prop", "api_base": stub.url,
                                             "api_key": "sk-stub-not-a-key"}}
        for a in ("smart", "fast")], "router_settings": {"num_retries": 0}}))
    (root / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Props", "goal": "Change the app.", "repo": "repo", "models": "models.yaml",
        "tasks": [{"id": "t", "title": "Change it", "pattern": "single", "roles": ["coder"]}]}))
    return root / "feature.yaml"


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(script=st.lists(replies(), min_size=1, max_size=6))
def test_a_run_answered_by_anything_ends_readable_and_resumes(
        tmp_path_factory: pytest.TempPathFactory, script: list[StubReply]) -> None:
    root = tmp_path_factory.mktemp("run")
    with StubServer() as stub:
        stub.enqueue(*script)
        stub.always(StubReply.text("Done."))
        feature = _feature(root, stub)
        out = start_run(feature, RunOptions(sandbox="local", trace=False))
        state = load_state(out.run_dir)  # the checkpoint reads back
        list(read_jsonl(out.run_dir / "turns.jsonl"))
        assert (out.run_dir / "report.md").is_file()
        assert not (out.run_dir / "crash.txt").exists()
        assert state.status in FINISHED_RUN | {"error", "budget", "interrupted"}
        if state.status not in FINISHED_RUN:
            again = resume_run(out.run_id, RunOptions(repo=root / "repo", sandbox="local",
                                                      trace=False))
            assert again.state.sessions == 2
            assert again.state.status in FINISHED_RUN, again.state.stop_reason
