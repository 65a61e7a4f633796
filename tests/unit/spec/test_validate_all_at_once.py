"""`crew validate` reports every problem of every file in one go, whichever stage finds it (the
file's schema, what it references, what `crew run` checks here), and takes a file's kind from
its content, naming it in the message (issue 26)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.typer_app import app
from crew.errors import UserError
from crew.spec.validate import detect_kind, validate_path

MODELS = """\
model_list:
  - model_name: smart
    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', api_key: k}
    model_info: {supports_response_schema: true}
  - model_name: fast
    litellm_params: {model: openai/y, api_base: 'http://127.0.0.1:9/v1', api_key: k}
    model_info: {supports_response_schema: false}
router_settings: {fallbacks: [{smart: [fsat]}]}
"""
# One schema typo (budjet) and five problems the later stages find.
FEATURE = """\
title: Add a models endpoint
goal: GET /models lists the aliases
repo: no-such-dir
models: models.yaml
budjet: {usd: 1}
tasks:
  - id: code
    title: Code
    template: implemnt
    roles: [coder, reveiwer]
    depends_on: [tests]
"""


def validate(*args: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(app, ["validate", *args])
    assert not isinstance(result.exception, AssertionError | TypeError | AttributeError), \
        result.exception
    err = result.stderr + "".join(f"error: {p.render()}\n" for p in getattr(
        result.exception, "problems", []))
    return result.exit_code if result.exception is None else 2, err


def test_a_schema_typo_does_not_hide_the_other_problems(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "add-models-endpoint.yaml").write_text(FEATURE)
    code, err = validate("add-models-endpoint.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    for phrase in ("unknown field 'budjet'", "did you mean 'budget'",  # the schema stage
                   "fallbacks names model alias 'fsat'",              # the router config
                   "task template 'implemnt'", "role 'reveiwer'",     # references
                   "depends on unknown task 'tests'",
                   "repository 'no-such-dir' does not exist"):        # what `crew run` checks
        assert phrase in err, err
    assert "checked as a feature" in err


def test_a_role_typo_does_not_hide_an_unknown_tool(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "coder2.yaml").write_text(
        "title: Coder\ngoal: write code\ninstructions: Write code.\ntemprature: 0.3\n"
        "tools: [read_fil]\n")
    code, err = validate("roles/coder2.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    assert "unknown field 'temprature'" in err and "did you mean 'temperature'" in err
    assert "unknown tool 'read_fil'" in err and "did you mean 'read_file'" in err


def test_a_missing_field_in_a_task_keeps_the_rest_checked(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast"))
    f = tmp_path / "feature.yaml"
    f.write_text("title: t\ngoal: g\nmodels: models.yaml\ncrew: sofware-team\n"
                 "tasks:\n  - id: code\n    roles: [coder]\n")
    with pytest.raises(UserError) as e:
        validate_path(f)
    text = e.value.render()
    assert "missing required field 'title'" in text and "unknown crew 'sofware-team'" in text


@pytest.mark.parametrize(("name", "text", "kind"), [
    ("add-models-endpoint.yaml", FEATURE, "feature"),
    ("my-models-feature.yaml", MODELS, "models"),
    ("litellm.yaml", "title: x\ngoal: y\ninstructions: z\n", "role"),
    ("suite_feature.yaml", "name: s\ncases: []\nvariants: []\n", "suite"),
    ("config.yaml", "supervisor: supervisor\nmembers: [coder]\npatterns: [single]\n", "crew"),
])
def test_the_kind_comes_from_the_content_not_the_name(tmp_path: Path, name: str, text: str,
                                                      kind: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert detect_kind(path).kind == kind


def test_a_valid_feature_named_like_a_models_file_validates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast"))
    (tmp_path / "add-models-endpoint.yaml").write_text(
        "title: Add a models endpoint\ngoal: GET /models lists the aliases\n"
        "models: models.yaml\n")
    code, err = validate("--spec-only", "add-models-endpoint.yaml", cwd=tmp_path,
                         monkeypatch=monkeypatch)
    assert (code, err) == (0, "")


def test_kind_overrides_detection_and_is_named(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast"))
    code, err = validate("--kind", "role", "models.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    assert "checked as a role (--kind" in err and "missing required field 'title'" in err


def test_a_misspelt_deployment_key_is_one_problem_with_no_follow_on_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast").replace(
        "litellm_params: {model: openai/x", "litelm_params: {model: openai/x", 1))
    (tmp_path / "feature.yaml").write_text(
        "title: t\ngoal: g\nrepo: .\nmodels: models.yaml\ncrew: software-team\n")
    typo = ("models.yaml:3:5: model_list[0].litelm_params: unknown field 'litelm_params' "
            "(did you mean 'litellm_params'?)")
    code, err = validate("models.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and typo in err
    assert err.count("error: ") == 1, err  # smart and fast are written: no follow-on error
    code, err = validate("feature.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and typo in err
    for follow_on in ("missing required field", "at least 1 deployment", "model alias 'smart'",
                      "serves model alias"):
        assert follow_on not in err, err


def _with_coder(tmp_path: Path, coder_yaml: str) -> None:
    """A feature on the software-team crew whose `roles/coder.yaml` beside it is `coder_yaml`."""
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast"))
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "coder.yaml").write_text(coder_yaml)
    (tmp_path / "feature.yaml").write_text(
        "title: t\ngoal: g\nmodels: models.yaml\ncrew: software-team\n")


def test_a_role_missing_a_required_field_still_has_its_model_and_tools_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_coder(tmp_path, "title: Coder\ngoal: write code\nmodel: smrt\ntools: [read_fil]\n")
    code, err = validate("--spec-only", "feature.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    for problem in ("coder.yaml:1:1: instructions: missing required field 'instructions'",
                    "coder.yaml:3:8: model: model alias 'smrt' is not in the router config "
                    "(did you mean 'smart'?)",
                    "coder.yaml:4:9: tools[0]: unknown tool 'read_fil' (did you mean "
                    "'read_file'?)"):
        assert problem in err, err
    code, err = validate("roles/coder.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2 and "instructions" in err and "unknown tool 'read_fil'" in err


def test_a_role_calling_a_misspelt_alias_is_one_problem_not_also_the_routers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_coder(tmp_path, "title: Coder\ngoal: write code\ninstructions: Write code.\n"
                          "model: smrt\n")
    code, err = validate("feature.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    assert "coder.yaml:4:8: model: model alias 'smrt' is not in the router config" in err
    assert [ln for ln in err.splitlines() if "'smrt'" in ln and "error: " in ln] == [
        ln for ln in err.splitlines() if "coder.yaml:4:8" in ln], err


def test_a_models_file_alone_names_a_misspelt_provider(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast").replace(
        "model: openai/y", "model: opnai/gpt-4o"))
    code, err = validate("models.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 0  # it has an api_base: LiteLLM may route it by that, unsure here
    (tmp_path / "models.yaml").write_text(MODELS.replace("fsat", "fast").replace(
        "{model: openai/y, api_base: 'http://127.0.0.1:9/v1', api_key: k}",
        "{model: opnai/gpt-4o, api_key: k}"))
    code, err = validate("models.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert code == 2
    assert ("models.yaml:6:29: model_list[1].litellm_params.model: LiteLLM cannot tell which "
            "provider serves model 'opnai/gpt-4o' (replace the misspelt provider: "
            "openai/gpt-4o, or set custom_llm_provider)") in err, err


def test_problems_name_files_below_the_current_directory_relatively(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A feature's own problems read `feature.yaml:3:1`, the models file it includes was
    `/abs/path/models.yaml:7:16`: both relative now when under the current directory."""
    from crew.errors import Problem

    monkeypatch.chdir(tmp_path)
    inside = Problem("x", file=str(tmp_path / "sub" / "models.yaml"), line=7, column=16)
    outside = Problem("x", file="/elsewhere/models.yaml", line=1)
    assert inside.render() == "sub/models.yaml:7:16: x"
    assert outside.render() == "/elsewhere/models.yaml:1: x"
    assert Problem("x", file="feature.yaml", line=3).render() == "feature.yaml:3: x"
