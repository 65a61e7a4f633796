"""Loading, name resolution (local shadows built-in) and cross-reference checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from crew.errors import UserError
from crew.spec.library import Library, builtin_library_dir
from crew.spec.loader import load_spec
from crew.spec.models import FeatureSpec, RoleSpec, parse_termination
from crew.spec.resolve import find_cycle, resolve_feature

FEATURE = """\
title: Add CSV export
goal: Export todos as CSV.
acceptance: [pytest -q]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_builtin_feature_resolves_everything(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE)
    r = resolve_feature(f)
    assert r.crew.spec.name == "software-team"
    assert set(r.roles) == {"supervisor", "coder", "tester", "reviewer", "doc_writer",
                            "security_analyst"}
    assert set(r.patterns) == {"single", "review_loop", "supervisor_worker", "committee",
                               "debate"}
    assert r.models.aliases() == {"smart", "fast"}
    assert r.feature.spec.acceptance[0].run == "pytest -q"  # plain strings become commands
    assert r.repo == tmp_path.resolve()


def test_local_role_shadows_builtin(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE)
    write(tmp_path / "roles" / "coder.yaml",
          "title: Rust coder\ngoal: write Rust\ninstructions: Write idiomatic Rust.\n"
          "model: fast\ntools: [read_file]\n")
    r = resolve_feature(f)
    assert r.roles["coder"].spec.title == "Rust coder"
    assert r.roles["coder"].path == (tmp_path / "roles" / "coder.yaml").resolve()
    assert r.roles["tester"].path.is_relative_to(builtin_library_dir())


def test_feature_models_file_overrides_crew_router(tmp_path: Path) -> None:
    write(tmp_path / "models.yaml",
          "model_list:\n  - model_name: smart\n    litellm_params: {model: openai/x, "
          "api_base: 'http://127.0.0.1:9/v1', api_key: os.environ/NOT_SET_ANYWHERE}\n"
          "  - model_name: fast\n    litellm_params: {model: openai/y}\n")
    f = write(tmp_path / "feature.yaml", FEATURE + "models: models.yaml\n")
    r = resolve_feature(f)
    assert r.models.model_list[0].litellm_params.model == "openai/x"
    # os.environ/VAR is left to LiteLLM: a missing variable is not a validation error
    assert r.models.model_list[0].litellm_params.model_extra == {
        "api_base": "http://127.0.0.1:9/v1", "api_key": "os.environ/NOT_SET_ANYWHERE"}
    assert r.models_dir == tmp_path.resolve()


def test_models_missing_alias_reports_every_role(tmp_path: Path) -> None:
    write(tmp_path / "models.yaml",
          "model_list:\n  - model_name: smart\n    litellm_params: {model: openai/x}\n")
    f = write(tmp_path / "feature.yaml", FEATURE + "models: models.yaml\n")
    with pytest.raises(UserError) as e:
        resolve_feature(f)
    fast_roles = [p for p in e.value.problems if "'fast' is not in the router config" in p.message]
    assert fast_roles, e.value.render()
    assert all(p.file and p.file.endswith(".yaml") and p.line for p in e.value.problems)


def test_pattern_param_role_must_be_in_crew(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE)
    write(tmp_path / "patterns" / "debate.yaml",
          "kind: debate\ndescription: Argue.\nparams: {rounds: 2, judge: architect}\n")
    with pytest.raises(UserError) as e:
        resolve_feature(f)
    assert "role 'architect' is not in the crew" in e.value.render()
    assert "patterns/debate.yaml:3:" in e.value.render()


def test_several_problems_reported_at_once(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE + (
        "tasks:\n"
        "  - {id: a, title: A, pattern: debat, roles: [coder]}\n"
        "  - {id: b, title: B, template: implemnt, depends_on: [c]}\n"))
    with pytest.raises(UserError) as e:
        resolve_feature(f)
    text = e.value.render()
    assert "did you mean 'debate'" in text
    assert "did you mean 'implement'" in text
    assert "depends on unknown task 'c'" in text
    assert len(e.value.problems) == 3


def test_positions_point_at_the_value(tmp_path: Path) -> None:
    f = write(tmp_path / "r.yaml",
              "title: T\ngoal: G\ninstructions: |\n  line one\n  line two\nmax_turns: 0\n")
    with pytest.raises(UserError) as e:
        load_spec(f, RoleSpec)
    p = e.value.problems[0]
    assert (p.line, p.column, p.field) == (6, 12, "max_turns")


def test_name_defaults_to_stem(tmp_path: Path) -> None:
    f = write(tmp_path / "roles" / "architect.yaml", "title: A\ngoal: G\ninstructions: I\n")
    assert load_spec(f, RoleSpec).spec.name == "architect"


def test_yaml_merge_keys_and_anchors_work(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml",
              "title: T\ngoal: G\nbudget: &b {usd: 2.5}\n"
              "tasks:\n  - &t {id: a, title: A, template: implement}\n"
              "  - {<<: *t, id: b}\n")
    spec = load_spec(f, FeatureSpec).spec
    assert spec.budget.usd == 2.5
    assert [t.id for t in spec.tasks] == ["a", "b"]
    assert spec.tasks[1].template == "implement"


def test_library_lists_local_and_builtin(tmp_path: Path) -> None:
    write(tmp_path / "roles" / "architect.yaml", "title: A\ngoal: G\ninstructions: I\n")
    lib = Library([tmp_path])
    assert "architect" in lib.names("role") and "coder" in lib.names("role")
    assert not lib.is_builtin(lib.entries("role")["architect"])
    assert lib.is_builtin(lib.entries("role")["coder"])
    with pytest.raises(UserError, match="did you mean 'architect'"):
        lib.load("role", "architekt")


@pytest.mark.parametrize(("expr", "names"), [
    ("max_rounds", ["max_rounds"]),
    ("approved | max_rounds", ["approved", "max_rounds"]),
    ("(approved & tests_pass) | max_rounds | guard", ["approved", "tests_pass", "max_rounds",
                                                       "guard"]),
])
def test_termination_grammar(expr: str, names: list[str]) -> None:
    assert parse_termination(expr) == names


@pytest.mark.parametrize("expr", ["", "approved |", "| approved", "approved max_rounds",
                                  "(approved", "approved)", "approved ^ guard",
                                  "approved | budget"])  # budget: no condition (always stops)
def test_termination_grammar_rejects(expr: str) -> None:
    with pytest.raises(ValueError):
        parse_termination(expr)


def test_find_cycle() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    cycle = find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert cycle is not None and set(cycle) == {"a", "b", "c"}
    assert find_cycle({"a": ["a"]}) == ["a"]


def test_merge_key_inside_a_reused_alias_is_not_a_duplicate(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml",
              "title: T\ngoal: G\ntasks:\n"
              "  - &t {<<: {id: a, title: A}, id: a1, template: implement}\n"
              "  - {<<: *t, id: b1}\n  - *t\n")
    spec = load_spec(f, FeatureSpec).spec  # no false "duplicate key" on the revisited alias
    assert [(t.id, t.title) for t in spec.tasks] == [("a1", "A"), ("b1", "A"), ("a1", "A")]


@pytest.mark.parametrize(("text", "field", "hint"), [
    ("title: T\ngoal: G\nbudget: {USD: 3}\n", "budget.USD", "did you mean 'usd'"),
    ("title: T\ngoal: G\nGoal: again\n", "Goal", "did you mean 'goal'"),
    ("title: T\ngoal: G\nre-po: .\n", "re-po", "did you mean 'repo'"),
])
def test_unknown_keys_of_any_spelling_are_located(tmp_path: Path, text: str, field: str,
                                                  hint: str) -> None:
    f = write(tmp_path / "feature.yaml", text)
    with pytest.raises(UserError) as e:
        load_spec(f, FeatureSpec)
    [p] = e.value.problems
    assert p.field == field and hint in (p.hint or "") and p.line == 3


def test_union_field_reports_the_mapping_branch_only(tmp_path: Path) -> None:
    from crew.spec.models import CrewSpec

    f = write(tmp_path / "crews" / "team.yaml",
              "supervisor: s\nmembers: [a]\npatterns: [single]\n"
              "models:\n  model_list: 3\n  router: 1\n")
    with pytest.raises(UserError) as e:
        load_spec(f, CrewSpec)
    fields = sorted(p.field or "" for p in e.value.problems)
    assert fields == ["models.model_list", "models.router"]
