"""Planning through the real Router (replay model): a bad plan from the supervisor — a missing
role, a cycle, an unknown pattern, no JSON at all — is re-asked or repaired, never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.agent_prompt import system_message
from crew.llm import LLM
from crew.patterns.decisions import DecisionKind, Degraded, DegradedReason
from crew.run.plan import (
    PlanTaskOut,
    catalog,
    check_plan,
    make_plan,
    pinned_tasks,
    plan_messages,
    repair_plan,
)
from crew.spec.library import builtin_library_dir
from crew.spec.resolve import resolve_feature

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "todo-csv"


@pytest.fixture
def feature(tmp_path: Path) -> Path:
    for name in ("feature.yaml", "models.yaml"):
        (tmp_path / name).write_text((EXAMPLE / name).read_text())
    (tmp_path / "project").mkdir()
    return tmp_path / "feature.yaml"


def _llm(feature: Path, answers: list[dict[str, Any]]) -> tuple[Any, LLM]:
    (feature.parent / "replay.yaml").write_text(yaml.safe_dump({"answers": answers}))
    resolved = resolve_feature(feature)
    return resolved, LLM(resolved.models, base_dir=resolved.models_dir)


def _plan(*tasks: dict[str, Any], purpose: str = "plan") -> dict[str, Any]:
    return {"task": "plan", "role": "supervisor", "purpose": purpose,
            "content": json.dumps({"tasks": list(tasks)})}


GOOD = {"id": "code", "title": "Write it", "pattern": "review_loop", "roles": ["coder", "reviewer"],
        "depends_on": ["threat-model"]}


async def test_a_good_plan_is_taken_as_is(feature: Path) -> None:
    resolved, llm = _llm(feature, [_plan(GOOD)])
    plan, notes = await make_plan(resolved, llm, run_id="r1", repo_text="")
    assert [t.id for t in plan] == ["threat-model", "code"]
    assert plan[0].pinned and plan[0].pattern == "debate"  # pinned task kept as written
    assert plan[1].roles == ["coder", "reviewer"] and plan[1].depends_on == ["threat-model"]
    assert notes == [] and len(llm.ledger.entries) == 1


async def test_missing_role_cycle_and_unknown_pattern_are_re_asked(feature: Path) -> None:
    bad = _plan({"id": "a", "title": "A", "pattern": "pair_programming", "roles": ["architect"],
                 "depends_on": ["b"]},
                {"id": "b", "title": "B", "pattern": "single", "roles": ["coder"],
                 "depends_on": ["a"]})
    resolved, llm = _llm(feature, [bad, _plan(GOOD, purpose="plan-fix")])
    plan, notes = await make_plan(resolved, llm, run_id="r1", repo_text="")
    assert [t.id for t in plan] == ["threat-model", "code"]
    assert len(notes) == 1 and "re-asked" in notes[0]
    for problem in ("unknown role 'architect'", "unknown pattern 'pair_programming'",
                    "dependency cycle"):
        assert problem in notes[0]
    fix_prompt = llm.ledger.entries[-1]
    assert fix_prompt.purpose == "plan-fix"


async def test_still_bad_after_the_re_ask_is_repaired(feature: Path) -> None:
    bad = [{"id": "a", "title": "A", "pattern": "reviewloop", "roles": ["codr"],
            "depends_on": ["b"]},
           {"id": "b", "title": "B", "roles": ["coder"], "depends_on": ["a", "nowhere"]},
           {"id": "b", "title": "B again", "pattern": "single", "roles": ["tester"]}]
    resolved, llm = _llm(feature, [_plan(*bad), _plan(*bad, purpose="plan-fix")])
    plan, notes = await make_plan(resolved, llm, run_id="r1", repo_text="")
    assert any(n.startswith("plan repaired: ") for n in notes)
    assert "plan repair: a: role 'codr' → 'coder'" in notes  # and what it changed
    assert "plan repair: a: pattern 'reviewloop' → 'review_loop'" in notes
    ids = [t.id for t in plan]
    assert len(ids) == len(set(ids)) == 4
    a = plan[1]
    assert a.pattern == "review_loop" and a.roles == ["coder", "reviewer"]  # nearest + filled
    out = [PlanTaskOut.model_validate(t.model_dump(include=set(PlanTaskOut.model_fields)))
           for t in plan[1:]]
    assert check_plan(resolved, plan[:1], out) == []  # the repaired plan is valid


async def test_the_crews_implement_setting_names_the_fallback_template(feature: Path) -> None:
    """`defaults.implement` in the crew's YAML is the template the one-task plan takes."""
    lib = feature.parent / "tasks"
    lib.mkdir()
    (lib / "build.yaml").write_text("description: Build the whole feature.\nroles: [coder]\n"
                                    "pattern: single\n")
    crews = feature.parent / "crews"
    crews.mkdir()
    crew = yaml.safe_load((builtin_library_dir() / "crews" / "software-team.yaml").read_text())
    crew["templates"] = [*crew.get("templates", []), "build"]
    crew.setdefault("defaults", {})["implement"] = "build"
    crew["name"] = "built"
    (crews / "built.yaml").write_text(yaml.safe_dump(crew))
    spec = yaml.safe_load(feature.read_text())
    spec["crew"] = "crews/built.yaml"
    feature.write_text(yaml.safe_dump(spec))
    junk = {"task": "plan", "role": "supervisor", "content": "I would rather not.",
            "repeat": True}
    resolved, llm = _llm(feature, [junk])
    plan, _ = await make_plan(resolved, llm, run_id="r1", repo_text="")
    assert plan[-1].id == "implement" and plan[-1].template == "build"
    assert plan[-1].pattern == "single" and plan[-1].roles == ["coder"]


async def test_no_json_at_all_plans_the_goal_as_one_task(feature: Path) -> None:
    junk = {"task": "plan", "role": "supervisor", "content": "I would rather not.",
            "repeat": True}
    resolved, llm = _llm(feature, [junk])
    degraded: list[Degraded] = []
    plan, notes = await make_plan(resolved, llm, run_id="r1", repo_text="", degraded=degraded)
    assert [t.id for t in plan] == ["threat-model", "implement"]
    assert plan[1].template == "implement" and plan[1].roles[0] == "coder"
    assert plan[1].depends_on == ["threat-model"]
    assert "no usable plan" in notes[0]
    # crew's own one-task plan gets its roles filled silently: the user sees one note, not
    # "plan repair: implement: role 'coder' added" about a plan no model wrote
    assert len(notes) == 1 and not any("plan repair" in n for n in notes), notes
    [d] = degraded
    assert (d.decision, d.reason, d.role) == (DecisionKind.RUN_PLAN, DegradedReason.SINGLE_TASK,
                                              "supervisor")
    assert d.excerpt == "I would rather not." and "no valid PlanOut" in d.error


async def test_an_unreadable_re_ask_repairs_the_first_plan(feature: Path) -> None:
    bad = _plan({"id": "a", "title": "A", "pattern": "reviewloop", "roles": ["coder"]})
    junk = {"task": "plan", "role": "supervisor", "purpose": "plan-fix", "content": "No.",
            "repeat": True}
    resolved, llm = _llm(feature, [bad, junk])
    degraded: list[Degraded] = []
    plan, notes = await make_plan(resolved, llm, run_id="r1", repo_text="", degraded=degraded)
    assert [t.id for t in plan] == ["threat-model", "a"] and plan[1].pattern == "review_loop"
    assert degraded == [] and "could not be read" in notes[1]


def test_repair_breaks_every_cycle(feature: Path) -> None:
    (feature.parent / "replay.yaml").write_text("answers: []\n")
    resolved = resolve_feature(feature)
    tasks = [PlanTaskOut(id=x, title=x, pattern="single", roles=["coder"], depends_on=[y])
             for x, y in (("a", "b"), ("b", "c"), ("c", "a"))]
    plan = repair_plan(resolved, [], tasks)
    out = [PlanTaskOut.model_validate(t.model_dump(include=set(PlanTaskOut.model_fields)))
           for t in plan]
    assert check_plan(resolved, [], out) == []
    assert sum(len(t.depends_on) for t in plan) == 2


def test_repair_says_what_it_changed_and_the_report_lists_it(feature: Path) -> None:
    """A role swapped for its nearest name, a role added for the pattern's minimum, a cycle
    edge dropped: each is a line of report.md (issue 26: plan repair was silent)."""
    from crew.llm.ledger import Ledger
    from crew.run.report import render_report
    from crew.run.state import RunState

    (feature.parent / "replay.yaml").write_text("answers: []\n")
    resolved = resolve_feature(feature)
    tasks = [PlanTaskOut(id="a", title="A", pattern="review_loop", roles=["codr"],
                         depends_on=["b"]),
             PlanTaskOut(id="b", title="B", pattern="single", roles=["coder"],
                         depends_on=["a"])]
    changes: list[str] = []
    repair_plan(resolved, [], tasks, changes)
    assert "a: role 'codr' → 'coder'" in changes
    assert any(c.startswith("a: role 'reviewer' added") for c in changes), changes
    assert any("dependency on" in c and "dropped (cycle" in c for c in changes), changes
    state = RunState(run_id="r", feature_path=str(feature), feature_title="t", repo=".",
                     plan_notes=[f"plan repair: {c}" for c in changes])
    report = render_report(state, [], Ledger())
    assert "## Plan repairs" in report and "role 'codr' → 'coder'" in report


def test_the_plan_prompt_comes_from_the_one_prompt_builder(feature: Path) -> None:
    """The supervisor's plan prompt is laid out by crew.agent_prompt like every role's:
    conventions, the role, then the catalog; the repository, the goal and the pinned tasks
    last — and for the library supervisor, byte for byte the text it had before."""
    resolved = resolve_feature(feature)
    sup = resolved.roles[resolved.crew.spec.supervisor].spec
    conv = "## Repository conventions (AGENTS.md)\nUse tabs."
    system, user = plan_messages(resolved, "## Repository files\napp.py",
                                 pinned_tasks(resolved), conventions=conv)
    assert system == system_message(sup, conventions=conv, section=catalog(resolved))
    assert system["content"] == (f"{conv}\n\n{sup.title}: {sup.goal.strip()}\n\n"
                                 f"{sup.instructions.strip()}\n\n{catalog(resolved)}")
    assert str(user["content"]).startswith("## Repository files\napp.py\n\n# Feature: ")
