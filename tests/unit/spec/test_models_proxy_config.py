"""models.yaml is whatever LiteLLM's proxy accepts: its sections, loose types, `include:`."""

from __future__ import annotations

from pathlib import Path

import pytest

from crew.errors import UserError
from crew.spec.litellm_config import load_models
from crew.spec.validate import validate_path

BASE = "model_list:\n  - model_name: smart\n    litellm_params: {model: openai/gpt-4o}\n"


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_proxy_sections_and_loose_types_are_accepted_and_named(tmp_path: Path) -> None:
    f = write(tmp_path / "models.yaml", BASE + """\
general_settings:
environment_variables: {REDIS_PORT: 6379, SAMPLE: 0.5, DEBUG: true, EMPTY: null}
guardrails: [{guardrail_name: g, litellm_params: {guardrail: aporia, mode: pre_call}}]
mcp_servers: {deepwiki: {url: https://mcp.deepwiki.com/mcp}}
policies: {p: {guardrails: {add: [g]}}}
search_tools: [{search_tool_name: s, litellm_params: {search_provider: tavily}}]
sandbox_tools: []
litellm_settings: {drop_params: true, success_callback: [langfuse]}
""")
    done = validate_path(f)
    assert done.kind == "models"
    assert done.notes == ["ignored by crew: guardrails, mcp_servers, policies, search_tools, "
                     "litellm_settings.success_callback"]


def test_an_unknown_top_level_section_is_a_warning_with_a_suggestion(tmp_path: Path) -> None:
    """The proxy ignores a section it does not read, so crew warns instead (issue 26)."""
    f = write(tmp_path / "models.yaml", BASE + "guardrail: []\n")
    (p,) = validate_path(f).warnings
    assert (p.line, p.field) == (4, "guardrail") and p.hint == "did you mean 'guardrails'?"
    assert "unknown top-level section" in p.message


@pytest.mark.parametrize(("text", "line", "words"), [
    ("model_list:\n  - model_name: smart\n", 2, "missing required field 'litellm_params'"),
    (BASE + "router_settings:\n  health_check_interval: 30\n", 5, "general_settings"),
    (BASE + "include: models2.yaml\n", 4, "'include' must be a list of file paths"),
])
def test_what_the_proxy_refuses_is_refused_with_file_and_line(
        tmp_path: Path, text: str, line: int, words: str) -> None:
    f = write(tmp_path / "models.yaml", text)
    with pytest.raises(UserError) as e:
        validate_path(f)
    rendered = e.value.problems[0].render()
    assert rendered.startswith(f"{f}:{line}:") and words in rendered, rendered


def test_includes_merge_like_the_proxy(tmp_path: Path) -> None:
    main = write(tmp_path / "models.yaml", """\
include: [parts/models.yaml]
model_list:
  - model_name: smart
    litellm_params: {model: openai/gpt-4o}
router_settings: {num_retries: 1}
""")
    write(tmp_path / "parts" / "models.yaml", """\
include: [more.yaml, models.yaml]
model_list:
  - model_name: fast
    litellm_params: {model: openai/gpt-4o-mini}
router_settings: {num_retries: 3, fallbacks: [{smart: [fast]}]}
""")
    write(tmp_path / "parts" / "more.yaml", "litellm_settings: {drop_params: true}\n")
    loaded = load_models(main)
    spec = loaded.spec
    assert [d.model_name for d in spec.model_list] == ["smart", "fast"]  # lists extend
    assert spec.router_settings == {"num_retries": 3, "fallbacks": [{"smart": ["fast"]}]}
    assert spec.litellm_settings == {"drop_params": True} and spec.include == []
    # positions point into the file each value came from
    err = loaded.error("x", ("model_list", 1, "litellm_params"))
    assert err.problems[0].file == str(tmp_path / "parts" / "models.yaml")
    assert err.problems[0].line == 4


def test_an_error_inside_an_included_file_names_that_file(tmp_path: Path) -> None:
    main = write(tmp_path / "models.yaml", BASE + "include: [bad.yaml]\n")
    bad = write(tmp_path / "bad.yaml", "model_list:\n  - model_name: fast\n    litelm_params: {}\n")
    with pytest.raises(UserError) as e:
        validate_path(main)
    assert any(p.file == str(bad) and p.line in (2, 3) for p in e.value.problems), \
        [p.render() for p in e.value.problems]
    missing = write(tmp_path / "m2.yaml", BASE + "include:\n  - nowhere.yaml\n")
    with pytest.raises(UserError) as e:
        validate_path(missing)
    p = e.value.problems[0]
    assert (p.file, p.line) == (str(missing), 5) and "not found" in p.message


def test_fallbacks_may_name_aliases_from_an_included_file(tmp_path: Path) -> None:
    main = write(tmp_path / "models.yaml", BASE + "include: [fast.yaml]\n"
                 "router_settings: {fallbacks: [{smart: [fast]}]}\n")
    write(tmp_path / "fast.yaml", "model_list:\n  - model_name: fast\n"
                                  "    litellm_params: {model: openai/gpt-4o-mini}\n")
    assert validate_path(main).kind == "models"


def test_crew_validate_names_the_ignored_sections_once(tmp_path: Path) -> None:
    from shared_helpers import crew_in_process

    f = write(tmp_path / "models.yaml", BASE + "guardrails: []\nmcp_servers: {x: {url: u}}\n"
                                               "general_settings: {master_key: sk-1}\n")
    proc = crew_in_process("validate", str(f))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ignored by crew: mcp_servers, general_settings") == 1, proc.stdout
