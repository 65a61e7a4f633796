"""Pattern params and engines checked at validation: templates and pinned tasks, with
file:line, the field, pydantic's range message and "did you mean"; every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from crew.errors import Problem, UserError
from crew.patterns.checks import RegistryKinds, pattern_kinds
from crew.patterns.engines import EngineRegistry, EngineSpec
from crew.patterns.registry import PatternRegistry
from crew.spec.kinds import BUILTIN_PATTERN_KINDS
from crew.spec.params import DebateParams
from crew.spec.resolve import resolve_feature
from crew.spec.validate import validate_path

BUILTIN_PARAMS = {k.name: k.params for k in BUILTIN_PATTERN_KINDS}

FEATURE = "title: Pick a format\ngoal: Decide the export format.\n"
DEBATE_TASK = """\
tasks:
  - id: decide
    title: Decide
    pattern: debate
    roles: [coder, reviewer]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(fn: object, *args: object, **kw: object) -> list[Problem]:
    with pytest.raises(UserError) as e:
        fn(*args, **kw)  # type: ignore[operator]
    return e.value.problems


def test_template_param_out_of_range(tmp_path: Path) -> None:
    p = write(tmp_path / "patterns" / "argue.yaml",
              "kind: debate\ndescription: Argue.\nparams:\n  rounds: 50\n")
    (prob,) = problems(validate_path, p)
    assert (prob.line, prob.column, prob.field) == (4, 11, "params.rounds")
    assert "less than or equal to 10" in prob.message
    assert prob.file == str(p)


def test_task_param_typo_with_did_you_mean(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + "    params:\n      rouns: 3\n")
    (prob,) = problems(resolve_feature, f)
    assert (prob.file, prob.line, prob.column) == (str(f), 9, 7)
    assert prob.field == "tasks[0].params.rouns"
    assert prob.message == "unknown field 'rouns'"
    assert prob.hint == "did you mean 'rounds'?"


def limited_engines() -> RegistryKinds:
    """The registries plus a plugin engine that runs `single` only (autogen and crewai
    take any kind's turns, so a mismatch needs an engine that declares fewer kinds)."""
    engines = EngineRegistry()
    engines.register(EngineSpec("loops", kinds=("single",)))
    return RegistryKinds(engines=engines)


def test_task_engine_that_does_not_run_the_kind(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + "    engine: loops\n")
    resolve_feature(f)  # the spec layer alone knows no engines
    (prob,) = problems(resolve_feature, f, kinds=limited_engines())
    assert (prob.line, prob.field) == (8, "tasks[0].engine")
    assert "loops engine does not run 'debate'" in prob.message
    assert "single" in (prob.hint or "")
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + "    engine: crewia\n")
    (prob,) = problems(resolve_feature, f, kinds=pattern_kinds())
    assert "unknown engine 'crewia'" in prob.message and "crewai" in prob.message


def test_template_engine_mismatch(tmp_path: Path) -> None:
    p = write(tmp_path / "patterns" / "vote.yaml",
              "kind: committee\ndescription: Vote.\nengine: loops\n")
    (prob,) = problems(validate_path, p, kinds=limited_engines())
    assert (prob.line, prob.field) == (3, "engine")
    crewai = write(tmp_path / "patterns" / "vote2.yaml",
                   "kind: committee\ndescription: V.\nengine: crewai\n")
    validate_path(crewai, kinds=pattern_kinds())  # built-in engines take any kind's turns


def test_every_problem_at_once_and_template_problems_reported_once(tmp_path: Path) -> None:
    write(tmp_path / "patterns" / "debate.yaml",  # shadows the built-in debate template
          "kind: debate\ndescription: Argue.\nparams:\n  rounds: 0\n")
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + """\
    params: {early_stop: maybe}
  - id: more
    title: More
    pattern: debate
    roles: [coder, reviewer]
  - id: code
    title: Code
    pattern: review_loop
    roles: [coder, reviewer]
    engine: loops
    params: {max_rounds: 21, gate: pytest}
""")
    found = {(Path(p.file or "").name, p.field) for p in
             problems(resolve_feature, f, kinds=limited_engines())}
    assert found == {("debate.yaml", "params.rounds"),
                     ("feature.yaml", "tasks[0].params.early_stop"),
                     ("feature.yaml", "tasks[2].engine"),
                     ("feature.yaml", "tasks[2].params.max_rounds")}


def test_task_params_override_a_bad_template_value(tmp_path: Path) -> None:
    write(tmp_path / "patterns" / "debate.yaml",
          "kind: debate\ndescription: Argue.\nparams: {rounds: 1}\n")
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + "    params: {rounds: 3}\n")
    resolve_feature(f, kinds=pattern_kinds())


def test_template_task_and_default_pattern_are_checked(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE + """\
tasks:
  - id: code
    title: Code
    template: implement
    params: {max_round: 2}
  - id: more
    title: More
    roles: [coder, reviewer]
    params: {max_rounds: 0}
""")
    got = {(p.field, p.hint) for p in problems(resolve_feature, f)}
    assert ("tasks[0].params.max_round", "did you mean 'max_rounds'?") in got
    assert ("tasks[1].params.max_rounds", None) in got  # crew default: review_loop


def test_missing_engine_package_warns_at_validate_and_refuses_at_run(tmp_path: Path) -> None:
    engines = EngineRegistry(entry_points=False)
    engines.register(EngineSpec("autogen", kinds=("debate",), requires="no_such_module_here",
                                package="autogen-agentchat", extra="autogen"))
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + "    engine: autogen\n")
    r = resolve_feature(f, kinds=RegistryKinds(engines=engines))
    (w,) = r.warnings
    assert w.field == "tasks[0].engine" and "crew[autogen]" in (w.hint or "")
    (prob,) = problems(resolve_feature, f,
                       kinds=RegistryKinds(engines=engines, require_installed=True))
    assert "not installed" in prob.message


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    times: int = Field(default=1, ge=1, le=3)


class Echo:
    kind = "echo"
    Params = EchoParams

    async def run(self, ctx: object) -> object: ...


class Bare:
    kind = "bare"

    async def run(self, ctx: object) -> object: ...


class Broken:
    kind = "broken"
    Params = dict

    async def run(self, ctx: object) -> object: ...


def plugin_kinds() -> RegistryKinds:
    reg = PatternRegistry(entry_points=False)
    for cls in (Echo, Bare, Broken):
        reg.register(cls)
    return RegistryKinds(registry=reg)


def plugin_template(tmp_path: Path, kind: str, params: str) -> Path:
    return write(tmp_path / "patterns" / f"{kind}-t.yaml",
                 f"kind: {kind}\ndescription: A plugin.\nparams: {params}\n")


def test_plugin_kind_declares_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crew.spec.resolve.known_pattern_kinds",
                        lambda: frozenset({*BUILTIN_PARAMS, "echo", "bare", "broken"}))
    kinds = plugin_kinds()
    validate_path(plugin_template(tmp_path, "echo", "{times: 2}"), kinds=kinds)
    (prob,) = problems(validate_path, plugin_template(tmp_path, "echo", "{time: 9}"), kinds=kinds)
    assert prob.field == "params.time" and prob.hint == "did you mean 'times'?"
    (prob,) = problems(validate_path, plugin_template(tmp_path, "bare", "{x: 1}"), kinds=kinds)
    assert prob.hint == "the bare pattern takes no params"  # no Params: no params
    validate_path(plugin_template(tmp_path, "bare", "{}"), kinds=kinds)
    (prob,) = problems(validate_path, plugin_template(tmp_path, "broken", "{}"), kinds=kinds)
    assert prob.field == "kind" and "not a pydantic model" in prob.message


def test_builtin_patterns_use_the_spec_params() -> None:
    reg = PatternRegistry(entry_points=False)
    for kind, model in BUILTIN_PARAMS.items():
        assert reg.params_model(kind) is model  # answered without importing the pattern
        assert reg.get(kind).Params is model
        assert reg.params_model(kind) is model
    assert BUILTIN_PARAMS["debate"] is DebateParams


def test_pattern_schema_carries_each_kinds_params() -> None:
    import jsonschema

    from crew.spec.schema import schema_of

    schema = schema_of("pattern")
    jsonschema.validate({"kind": "debate", "description": "d", "params": {"rounds": 3}}, schema)
    jsonschema.validate({"kind": "my_plugin", "description": "d", "params": {"x": 1}}, schema)
    for bad in ({"rounds": 50}, {"rouns": 3}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"kind": "debate", "description": "d", "params": bad}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "single", "description": "d", "params": {"x": 1}}, schema)


def test_task_role_params_name_crew_members(tmp_path: Path) -> None:
    f = write(tmp_path / "feature.yaml", FEATURE + DEBATE_TASK + "    params: {judge: reviwer}\n")
    (prob,) = problems(resolve_feature, f)
    assert prob.field == "tasks[0].params.judge" and prob.hint == "did you mean 'reviewer'?"
