"""The replay provider and models.yaml loading, through the real litellm.Router."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from crew.errors import ProviderError, UserError
from crew.llm import LLM, CallContext
from crew.llm.replay_script import ReplayMismatchError

TOOLS = [{"type": "function", "function": {
    "name": name, "description": name,
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}
    for name in ("read_file", "write_file")]

SCRIPT = """\
answers:
  - {role: coder, task: export, turn: 0, usage: {prompt_tokens: 50, completion_tokens: 10},
     tool_calls: [{name: read_file, arguments: {path: todo.py}}]}
  - {role: coder, task: export, turn: 1,
     tool_calls: [{name: write_file, arguments: {path: todo.py, content: "csv"}, id: w1}]}
  - {role: coder, task: export, turn: 2, content: Done., usage: {prompt_tokens: 90, completion_tokens: 2}}
  - {role: tester, task: tests, turn: 0, tool_calls: [{name: read_file, arguments: {path: test_todo.py}}]}
  - {role: tester, task: tests, turn: 1, content: Tests written.}
"""


def write_models(tmp_path: Path, body: str, script: str = SCRIPT) -> Path:
    (tmp_path / "replay").mkdir(exist_ok=True)
    (tmp_path / "replay" / "demo.yaml").write_text(script)
    models = tmp_path / "models.yaml"
    models.write_text(textwrap.dedent(body))
    return models


MODELS = """\
model_list:
  - model_name: smart
    litellm_params:
      model: replay/demo
      replay_script: replay/demo.yaml
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
router_settings: {num_retries: 0}
"""


async def run_agent(llm: LLM, role: str, task: str) -> list[str]:
    """A minimal tool loop: what each turn did."""
    messages: list[dict[str, object]] = [{"role": "user", "content": f"{role}: do {task}"}]
    seen = []
    for turn in range(10):
        c = await llm.complete("smart", messages, tools=TOOLS,
                               context=CallContext(run_id="r", task_id=task, role=role, turn=turn))
        messages.append(c.as_message())
        if not c.tool_calls:
            seen.append(f"say {c.content}")
            return seen
        for t in c.tool_calls:
            seen.append(f"{t.name} {json.loads(t.arguments)['path']}")
            messages.append({"role": "tool", "tool_call_id": t.id, "content": "ok"})
        await asyncio.sleep(0)
    raise AssertionError("no final answer")


@pytest.mark.slow
async def test_replay_drives_a_multi_turn_tool_calling_exchange(tmp_path: Path) -> None:
    llm = LLM.from_file(write_models(tmp_path, MODELS))
    assert await run_agent(llm, "coder", "export") == [
        "read_file todo.py", "write_file todo.py", "say Done."]
    entries = llm.ledger.entries
    assert [e.turn for e in entries] == [0, 1, 2]
    assert {e.deployment for e in entries} == {"replay/demo"}
    assert (entries[0].prompt_tokens, entries[0].completion_tokens) == (50, 10)
    assert entries[0].cost_usd == pytest.approx(50 * 3e-6 + 10 * 15e-6)
    assert entries[2].cost_usd == pytest.approx(90 * 3e-6 + 2 * 15e-6)
    assert entries[1].prompt_tokens > 0  # counted when the script gives no usage
    assert llm.replay_unserved() == {str(tmp_path / "replay" / "demo.yaml"): [3, 4]}


async def test_concurrent_agents_get_their_own_answers(tmp_path: Path) -> None:
    llm = LLM.from_file(write_models(tmp_path, MODELS))
    coder, tester = await asyncio.gather(run_agent(llm, "coder", "export"),
                                         run_agent(llm, "tester", "tests"))
    assert coder == ["read_file todo.py", "write_file todo.py", "say Done."]
    assert tester == ["read_file test_todo.py", "say Tests written."]
    assert set(llm.ledger.by("task")) == {"export", "tests"}
    assert all(not left for left in llm.replay_unserved().values())


async def test_two_llms_do_not_share_script_progress(tmp_path: Path) -> None:
    models = write_models(tmp_path, MODELS)
    a, b = LLM.from_file(models), LLM.from_file(models)
    ctx = CallContext(task_id="tests", role="tester", turn=1)
    assert (await a.complete("smart", [], context=ctx)).content == "Tests written."
    assert (await b.complete("smart", [], context=ctx)).content == "Tests written."


async def test_a_mismatch_names_what_was_asked_for(tmp_path: Path) -> None:
    llm = LLM.from_file(write_models(tmp_path, MODELS))
    with pytest.raises(ReplayMismatchError) as info:
        await llm.complete("smart", [{"role": "user", "content": "x"}],
                           context=CallContext(task_id="docs", role="doc_writer", turn=0))
    text = str(info.value)
    assert "role='doc_writer'" in text and "task='docs'" in text and "demo.yaml" in text
    assert "#0 task=export role=coder turn=0" in text  # what is left to serve
    assert llm.ledger.entries == []


async def test_scripted_failure_falls_back_through_the_router(tmp_path: Path) -> None:
    script = """\
answers:
  - {model: primary, error: server}
  - {model: primary, error: rate_limit}
  - {model: backup, content: from backup, repeat: true}
"""
    models = write_models(tmp_path, """\
model_list:
  - model_name: smart
    litellm_params: {model: replay/primary, replay_script: replay/demo.yaml}
  - model_name: fast
    litellm_params: {model: replay/backup, replay_script: replay/demo.yaml}
router_settings: {num_retries: 0, fallbacks: [{smart: [fast]}]}
""", script)
    llm = LLM.from_file(models)
    for _ in range(2):
        c = await llm.complete("smart", [{"role": "user", "content": "x"}])
        assert (c.content, c.alias, c.model) == ("from backup", "smart", "replay/backup")
    assert list(llm.replay_unserved().values()) == [[]]  # primary failed twice, as scripted
    models.write_text(models.read_text().replace(", fallbacks: [{smart: [fast]}]", ""))
    script_only_errors = "answers:\n  - {error: timeout}\n"
    (tmp_path / "replay" / "demo.yaml").write_text(script_only_errors)
    with pytest.raises(ProviderError) as info:
        await LLM.from_file(models).complete("smart", [{"role": "user", "content": "x"}])
    assert info.value.transient


def test_config_errors_are_user_errors_naming_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREW_TEST_MISSING_KEY", raising=False)
    models = write_models(tmp_path, """\
model_list:
  - model_name: smart
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/CREW_TEST_MISSING_KEY}
""")
    with pytest.raises(UserError) as info:
        LLM.from_file(models)
    text = str(info.value)
    assert "CREW_TEST_MISSING_KEY is not set" in text
    assert "model_list[0].litellm_params.api_key" in text and "models.yaml" in text

    # a misspelt provider is reported beside a missing variable (it waited for the variable)
    models.write_text(models.read_text() + "  - model_name: fast\n"
                      "    litellm_params: {model: opnai/gpt-4o-mini, api_key: sk-x}\n")
    with pytest.raises(UserError) as both:
        LLM.from_file(models)
    fields = [p.field for p in both.value.problems]
    assert fields == ["model_list[0].litellm_params.api_key",
                      "model_list[1].litellm_params.model"], both.value.problems

    models.write_text("model_list:\n  - model_name: smart\n    litellm_params: {model: replay/x}\n")
    with pytest.raises(UserError, match="replay_script"):
        LLM.from_file(models)

    models.write_text("model_list:\n  - model_name: smart\n    litellm_params:\n"
                      "      {model: replay/x, replay_script: nowhere.yaml}\n")
    with pytest.raises(UserError, match=r"nowhere\.yaml.*cannot read replay script"):
        LLM.from_file(models)

    models.write_text(MODELS.replace("{num_retries: 0}", "{num_retrys: 0}"))
    with pytest.raises(UserError, match="did you mean 'num_retries'"):
        LLM.from_file(models)

    (tmp_path / "replay" / "demo.yaml").write_text("answers:\n  - {role: coder, contnt: hi}\n")
    models.write_text(MODELS)
    with pytest.raises(UserError, match=r"answers\[0\].*did you mean 'content'"):
        LLM.from_file(models)


def test_env_var_from_the_environment_is_accepted_and_kept_out_of_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREW_TEST_KEY", "sk-secret-value-123456")
    models = write_models(tmp_path, """\
model_list:
  - model_name: smart
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/CREW_TEST_KEY,
                     api_base: "http://127.0.0.1:9/v1"}
""")
    llm = LLM.from_file(models)
    assert llm.aliases == {"smart"}
    from crew.llm.errors import scrub

    assert scrub("bad key sk-secret-value-123456", llm._secrets) == "bad key [redacted]"
