"""An edited plan (--approve-plan, or plan.json before `crew resume`) has its tasks' params and
engines checked against their patterns' kinds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.run.launch import _check_saved_plan
from crew.run.plan import planned_problems
from crew.run.state import PLAN_FILE, PlannedTask
from crew.spec.resolve import resolve_feature


def resolved(tmp_path: Path):  # type: ignore[no-untyped-def]
    f = tmp_path / "feature.yaml"
    f.write_text("title: Pick a format\ngoal: Decide the export format.\n")
    return resolve_feature(f)


def task(**kw: object) -> PlannedTask:
    return PlannedTask.model_validate({"id": "decide", "title": "Decide", "pattern": "debate",
                                       "roles": ["coder", "reviewer"], **kw})


def test_edited_plan_params_and_engine_are_checked(tmp_path: Path) -> None:
    r = resolved(tmp_path)
    assert planned_problems(r, [task(params={"rounds": 3})]) == []
    got = planned_problems(r, [task(params={"rouns": 3, "judge": "reviewer"}, engine="crewia")])
    assert len(got) == 2
    assert got[0].startswith("task 'decide': engine:") and "unknown engine 'crewia'" in got[0]
    assert got[1] == ("task 'decide': params.rouns: unknown field 'rouns' "
                      "(did you mean 'rounds'?)")
    (got,) = planned_problems(r, [task(pattern="review_loop", params={"max_rounds": 50})])
    assert "params.max_rounds: Input should be less than or equal to 20" in got


def test_resume_refuses_an_edited_plan_json(tmp_path: Path) -> None:
    r = resolved(tmp_path)
    d = tmp_path / "run"
    d.mkdir()
    (d / PLAN_FILE).write_text(json.dumps({"tasks": [task(params={"rounds": 0}).model_dump()]}))
    with pytest.raises(UserError) as e:
        _check_saved_plan(r, d)
    (p,) = e.value.problems
    assert p.file == str(d / PLAN_FILE) and "params.rounds" in p.message
    (d / PLAN_FILE).write_text(json.dumps({"tasks": [task().model_dump()]}))
    _check_saved_plan(r, d)
