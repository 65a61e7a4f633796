"""`crew validate` and `crew init` recommend `model_info: {supports_response_schema: ...}`
for a deployment served at an `api_base` that does not say (issue 26, item 6): without it
every plan and verdict of a local server silently went through prompt instructions."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.typer_app import app
from crew.spec.validate import validate_path

MODELS = """\
model_list:
  - model_name: smart
    litellm_params: {model: hosted_vllm/qwen, api_base: 'http://127.0.0.1:8000/v1'}
  - model_name: fast
    litellm_params: {model: ollama_chat/qwen, api_base: 'http://127.0.0.1:11434'}
    model_info: {supports_response_schema: true}
  - model_name: hosted
    litellm_params: {model: openai/gpt-4o-mini, api_key: k}
  - model_name: offline
    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', api_key: k}
    model_info: {supports_response_schema: false}
"""


def test_validate_warns_where_an_api_base_does_not_say(tmp_path: Path) -> None:
    f = tmp_path / "models.yaml"
    f.write_text(MODELS)
    done = validate_path(f)
    (warning,) = done.warnings  # only smart: the others say, or are hosted
    assert (warning.line, warning.field) == (2, "model_list[0]")
    assert "alias 'smart'" in warning.message
    assert "model_info: {supports_response_schema: true}" in (warning.hint or "")


def test_the_warning_reaches_the_terminal(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models.yaml").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "models.yaml"])
    assert result.exit_code == 0, result.output
    assert "warning: models.yaml:2:5: model_list[0]: alias 'smart'" in result.stderr


def test_init_shows_how_to_declare_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path / "f")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "f" / "models.yaml").read_text()
    assert "model_info: {supports_response_schema: true}" in text and "api_base" in text
