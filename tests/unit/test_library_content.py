"""The built-in library (roles/, patterns/, tasks/, crews/) is valid, consistent and lean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from crew.spec.catalog import BUILTIN_KINDS, BUILTIN_TOOLS
from crew.spec.models import (
    KIND_DIRS,
    KINDS,
    CrewSpec,
    ModelsConfig,
    PatternSpec,
    RoleSpec,
    TaskTemplateSpec,
)

ROOT = Path(__file__).resolve().parents[2]
ALIASES = {"smart", "fast"}
MAX_INSTRUCTION_WORDS = 180
WRITE_TOOLS = {"write_file", "edit_file"}
SHELL_TOOLS = {"run_command", "run_tests"}

EXPECTED = {
    "role": {"supervisor", "coder", "tester", "reviewer", "doc_writer", "security_analyst"},
    "pattern": set(BUILTIN_KINDS),
    "task": {"implement", "write_tests", "review", "document", "security_audit"},
    "crew": {"software-team"},
}


def _files(kind: str) -> list[Path]:
    return sorted((ROOT / KIND_DIRS[kind]).glob("*.yaml"))


def _load(kind: str) -> dict[str, Any]:
    """Every file of a kind, validated: {stem: model}."""
    model: type[BaseModel] = KINDS[kind]
    out: dict[str, Any] = {}
    for path in _files(kind):
        text = path.read_text(encoding="utf-8")
        first = text.splitlines()[0]
        assert first.startswith("# ") and len(first) > 10, f"{path}: first line must say what it is"
        data = yaml.safe_load(text)
        assert isinstance(data, dict), path
        out[path.stem] = model.model_validate(data)
    return out


@pytest.fixture(scope="module")
def lib() -> dict[str, dict[str, Any]]:
    return {kind: _load(kind) for kind in KIND_DIRS}


@pytest.mark.parametrize("kind", sorted(KIND_DIRS))
def test_every_builtin_entry_exists_and_name_matches_stem(
    lib: dict[str, dict[str, Any]], kind: str
) -> None:
    assert set(lib[kind]) == EXPECTED[kind]
    for stem, spec in lib[kind].items():
        assert spec.name == stem, f"{KIND_DIRS[kind]}/{stem}.yaml: name {spec.name!r} != stem"


def test_roles_use_only_smart_and_fast_and_catalog_tools(lib: dict[str, dict[str, Any]]) -> None:
    for name, role in lib["role"].items():
        assert isinstance(role, RoleSpec)
        assert role.model in ALIASES, f"{name}: model {role.model!r}"
        assert role.tools, f"{name}: no tools"
        unknown = set(role.tools) - set(BUILTIN_TOOLS)
        assert not unknown, f"{name}: tools not in the catalog: {unknown}"
        assert len(role.tools) == len(set(role.tools)), f"{name}: duplicate tools"


def test_roles_follow_least_privilege(lib: dict[str, dict[str, Any]]) -> None:
    tools = {name: set(role.tools) for name, role in lib["role"].items()}
    for read_only in ("supervisor", "reviewer", "security_analyst"):
        assert not tools[read_only] & WRITE_TOOLS, f"{read_only} must not write files"
    assert not tools["supervisor"] & SHELL_TOOLS
    assert tools["reviewer"] & SHELL_TOOLS == {"run_tests"}
    assert {"git_diff", "run_tests"} <= tools["reviewer"]
    assert {"search_code", "run_command"} <= tools["security_analyst"]
    assert tools["coder"] == set(BUILTIN_TOOLS)
    assert {"write_file", "run_tests"} <= tools["tester"]
    assert "run_command" not in tools["tester"]
    assert {"read_file", "write_file", "edit_file"} <= tools["doc_writer"]
    assert not tools["doc_writer"] & SHELL_TOOLS


def test_role_instructions_are_concise(lib: dict[str, dict[str, Any]]) -> None:
    counts = {name: len(role.instructions.split()) for name, role in lib["role"].items()}
    print("\ninstruction words per role:", counts, "total:", sum(counts.values()))
    for name, words in counts.items():
        assert 40 <= words <= MAX_INSTRUCTION_WORDS, f"{name}: {words} words of instructions"
        assert "helpful" not in lib["role"][name].instructions.lower(), f"{name}: fluff"


def test_patterns_kinds_params_and_termination(lib: dict[str, dict[str, Any]]) -> None:
    expected_params: dict[str, dict[str, Any]] = {
        "single": {},
        "review_loop": {"max_rounds": 3, "gate": None},
        "supervisor_worker": {"max_rounds": 2, "max_subtasks": 4},
        "committee": {"aggregation": "majority", "quorum": 2, "chair": "reviewer", "apply": True},
        "debate": {"rounds": 2, "judge": "reviewer", "early_stop": True},
    }
    expected_term = {
        "single": "guard",
        "review_loop": "approved | max_rounds | guard",
        "supervisor_worker": "approved | max_rounds | guard",
        "committee": None,  # one round: no condition (a budget stop always ends a pattern)
        "debate": "consensus | max_rounds",
    }
    for name, pat in lib["pattern"].items():
        assert isinstance(pat, PatternSpec)
        assert pat.kind == name and pat.kind in BUILTIN_KINDS
        assert pat.params == expected_params[name], name
        assert pat.termination == expected_term[name], name
        assert pat.engine == "native"
        assert len(pat.description.split()) <= 60, f"{name}: description too long"


def test_crew_references_exist(lib: dict[str, dict[str, Any]]) -> None:
    crew = lib["crew"]["software-team"]
    assert isinstance(crew, CrewSpec)
    assert crew.supervisor in lib["role"]
    assert set(crew.all_roles()) == set(lib["role"])
    assert set(crew.patterns) == set(lib["pattern"])
    assert set(crew.templates) == set(lib["task"])
    assert crew.defaults.pattern in crew.patterns
    assert crew.defaults.max_parallel == 3 and crew.defaults.sandbox == "auto"


def test_crew_router_config_is_litellm_format_with_env_keys(
    lib: dict[str, dict[str, Any]],
) -> None:
    models = lib["crew"]["software-team"].models
    assert isinstance(models, ModelsConfig)
    assert models.aliases() == ALIASES
    params = {d.model_name: d.litellm_params.model_dump() for d in models.model_list}
    assert params["smart"] == {
        "model": "anthropic/claude-sonnet-4-5",
        "api_key": "os.environ/ANTHROPIC_API_KEY",
    }
    assert params["fast"] == {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"}
    assert models.router_settings == {
        "fallbacks": [{"smart": ["fast"]}],
        "num_retries": 2,
        "timeout": 120,
    }
    # Every alias a role uses is served by the crew's router.
    for role in lib["role"].values():
        assert role.model in models.aliases()


def test_tasks_and_pattern_params_name_crew_roles(lib: dict[str, dict[str, Any]]) -> None:
    crew = lib["crew"]["software-team"]
    crew_roles = set(crew.all_roles())
    for name, task in lib["task"].items():
        assert isinstance(task, TaskTemplateSpec)
        assert set(task.roles) <= crew_roles, f"task {name}: roles {task.roles}"
        assert task.pattern in crew.patterns, f"task {name}: pattern {task.pattern}"
        assert task.outputs and task.acceptance, f"task {name}: outputs/acceptance missing"
    for name, pat in lib["pattern"].items():
        for key in ("judge", "chair"):
            if key in pat.params:
                assert pat.params[key] in crew_roles, f"pattern {name}: {key}"


def test_task_roles_fit_their_pattern(lib: dict[str, dict[str, Any]]) -> None:
    tasks = lib["task"]
    assert tasks["implement"].roles == ["coder", "reviewer"]
    assert tasks["write_tests"].roles == ["tester", "reviewer"]
    for name, task in tasks.items():
        if task.pattern == "review_loop":
            assert len(task.roles) == 2, name  # [author, reviewer]
        if task.pattern == "single":
            assert len(task.roles) == 1, name
        if task.pattern == "debate":
            assert len(task.roles) >= 2, name
    assert tasks["security_audit"].pattern == "debate"
