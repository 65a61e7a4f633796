"""A throwaway pattern kind declared through the descriptor API alone (crew.spec.kinds): the
registry loads its class, `crew validate` checks its params and role params, `crew schema
pattern` exports its params, the planner fills its tasks up to its role count, and a feature
runs a task of that kind through the replay model."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.app import app
from crew.errors import UserError
from crew.llm import LLM
from crew.patterns import context_for_task, default_registry
from crew.run.plan import PlanTaskOut, repair_plan
from crew.spec.kinds import PatternKind, register_pattern_kind, unregister_pattern_kind
from crew.spec.resolve import resolve_feature

MODULE = '''
from typing import Any
from pydantic import BaseModel, ConfigDict
from crew.patterns.base import (BasePattern, Outcome, PatternContext, PatternResult, Record,
                                system_message, text_turn)
from crew.patterns.termination import Condition


class RelayParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    times: int = 1
    judge: str = "reviewer"


class Relay(BasePattern):
    """The first role answers; the judge role repeats it."""
    kind = "relay"
    Params = RelayParams
    default_termination = "guard"

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        first, judge = ctx.task.roles[0], params.judge
        said = await text_turn(ctx, rec, first, 1, [system_message(ctx, first),
                                                    {"role": "user", "content": ctx.task.prompt()}])
        final = await text_turn(ctx, rec, judge, 1, [system_message(ctx, judge),
                                                     {"role": "user", "content": said}])
        rec.rounds = 1
        return self.result(rec, Outcome.DONE, final * params.times, decision=final)
'''


@pytest.fixture
def relay_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PatternKind]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "relay_kind.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(site))
    from pydantic import BaseModel, ConfigDict

    class RelayParams(BaseModel):  # the spec side of the kind: no import of its class
        model_config = ConfigDict(extra="forbid")
        times: int = 1
        judge: str = "reviewer"

    kind = register_pattern_kind(PatternKind("relay", RelayParams, "relay_kind:Relay",
                                             min_roles=2, role_params=("judge",),
                                             description="one answers, the judge repeats"))
    yield kind
    unregister_pattern_kind("relay")
    default_registry()._classes.pop("relay", None)  # the default registry cached its class
    default_registry()._descriptors.pop("relay", None)


def project(tmp: Path, params: str = "{times: 2}") -> Path:
    d = tmp / "proj"
    for sub in ("patterns", "crews", "replay"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "patterns" / "relay-t.yaml").write_text(
        f"kind: relay\ndescription: Relay an answer.\nparams: {params}\ntermination: guard\n")
    (d / "crews" / "relay-team.yaml").write_text(textwrap.dedent("""\
        supervisor: supervisor
        members: [coder, reviewer]
        patterns: [relay-t]
        defaults: {pattern: relay-t}
        """))
    (d / "models.yaml").write_text(textwrap.dedent("""\
        model_list:
          - model_name: smart
            litellm_params: {model: replay/demo, replay_script: replay/script.yaml}
          - model_name: fast
            litellm_params: {model: replay/demo, replay_script: replay/script.yaml}
        """))
    (d / "replay" / "script.yaml").write_text(textwrap.dedent("""\
        answers:
          - {role: coder, pattern: relay, task: greet, content: hello}
          - {role: reviewer, pattern: relay, task: greet, content: "hello!"}
        """))
    (d / "feature.yaml").write_text(textwrap.dedent("""\
        title: Greet
        goal: Say hello.
        crew: crews/relay-team.yaml
        models: models.yaml
        tasks:
          - {id: greet, title: Say hello, pattern: relay-t, roles: [coder]}
        """))
    return d / "feature.yaml"


def test_registry_and_schema_know_a_declared_kind(relay_kind: PatternKind) -> None:
    reg = default_registry()
    assert "relay" in reg.kinds()
    assert reg.params_model("relay") is relay_kind.params  # answered before any import
    assert reg.get("relay").__module__ == "relay_kind"
    res = CliRunner().invoke(app, ["schema", "pattern"])
    assert res.exit_code == 0, res.output
    rules = json.loads(res.output)["allOf"]
    kinds = [r["if"]["properties"]["kind"]["const"] for r in rules]
    assert "relay" in kinds and {"single", "debate", "committee"} <= set(kinds)


def test_validate_checks_the_declared_kinds_params_and_role_params(
        relay_kind: PatternKind, tmp_path: Path) -> None:
    feature = project(tmp_path)
    ok = CliRunner().invoke(app, ["validate", "--spec-only", str(feature)])
    assert ok.exit_code == 0, ok.output
    project(tmp_path, "{time: 2, judge: nobody}")
    bad = CliRunner().invoke(app, ["validate", "--spec-only", str(feature)])
    assert isinstance(bad.exception, UserError) and bad.exception.exit_code == 2
    text = "\n".join(p.render() for p in bad.exception.problems)
    assert "params.time" in text and "did you mean 'times'" in text
    assert "role 'nobody' is not in the crew" in text  # its role_params, checked


def test_without_the_descriptor_the_kind_is_unknown(tmp_path: Path) -> None:
    bad = CliRunner().invoke(app, ["validate", "--spec-only", str(project(tmp_path))])
    assert isinstance(bad.exception, UserError)
    assert "unknown pattern kind 'relay'" in str(bad.exception.problems)


def test_planner_fills_a_task_to_the_kinds_role_count(relay_kind: PatternKind,
                                                      tmp_path: Path) -> None:
    resolved = resolve_feature(project(tmp_path))
    (task,) = repair_plan(resolved, [], [PlanTaskOut(id="t", title="T", pattern="relay-t",
                                                     roles=["coder"])])
    assert task.pattern == "relay-t" and len(task.roles) == 2  # min_roles from the descriptor


def test_a_feature_runs_a_task_of_the_declared_kind(relay_kind: PatternKind,
                                                    tmp_path: Path) -> None:
    feature = project(tmp_path)
    resolved = resolve_feature(feature)
    llm = LLM.from_file(feature.parent / "models.yaml")
    template, ctx = context_for_task(resolved, "greet", llm, run_id="run1")
    res = asyncio.run(default_registry().run(template, ctx))
    assert res.kind == "relay" and res.outcome.value == "done"
    assert res.summary == "hello!hello!"  # the template's params reached the class
    assert [(e.role, e.pattern) for e in llm.ledger.entries] == [("coder", "relay"),
                                                                 ("reviewer", "relay")]
