"""Failed test names read from check output, `{case}` in a variant's models path, the eval
table naming failed tests, and `crew import swebench`'s checks of its input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from crew.errors import UserError
from crew.eval.failures import failed_tests
from crew.eval.suite import load_suite
from crew.eval.swebench import import_swebench, read_instances

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "swebench-sample"


def test_failed_tests_from_pytest_unittest_tap_and_node_spec() -> None:
    pytest_out = ("..F\n=== short test summary info ===\n"
                  "FAILED tests/test_a.py::test_x - AssertionError: 1 != 2\n"
                  "FAILED tests/test_a.py::T::test_y[a-b]\nERROR tests/test_b.py::test_z\n"
                  "2 failed, 1 error in 0.1s\n")
    assert failed_tests(pytest_out) == ["tests/test_a.py::test_x",
                                        "tests/test_a.py::T::test_y[a-b]",
                                        "tests/test_b.py::test_z"]
    unittest_out = "FAIL: test_mean (hidden.test_hidden.HiddenTest.test_mean)\n----\n"
    assert failed_tests(unittest_out) == [
        "test_mean (hidden.test_hidden.HiddenTest.test_mean)"]
    tap = "ok 1 proto pollution\nnot ok 2 proto pollution (constructor function)\n" \
          "not ok 3 - skipped one # SKIP\n1..3\n"
    assert failed_tests(tap) == ["proto pollution (constructor function)", "skipped one"]
    spec = "\u2714 adds (0.5ms)\n\u2716 subtracts (1.2ms)\n"
    assert failed_tests(spec) == ["subtracts"]
    assert failed_tests("all good\n1 passed\n") == []
    # each name once, even when a runner repeats it
    assert failed_tests("not ok 1 a\nnot ok 2 a\n") == ["a"]


# Real outputs (python 3.11, pytest 8): unittest's `FAILED (errors=1)` and pytest's totals
# line are summaries, not tests.
UNITTEST_OUT = """\
FE.
======================================================================
ERROR: test_b (test_uni.T.test_b)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/samp/tests/test_uni.py", line 4, in test_b
    def test_b(self): raise ValueError("x")
ValueError: x

======================================================================
FAIL: test_a (test_uni.T.test_a)
----------------------------------------------------------------------
AssertionError: 1 != 2

----------------------------------------------------------------------
Ran 3 tests in 0.001s

FAILED (failures=1, errors=1)
"""
UNITTEST_ONE_ERROR = """\
======================================================================
ERROR: test_sub (hidden.test_hidden.HiddenTest.test_sub)
----------------------------------------------------------------------
AttributeError: module 'calc' has no attribute 'sub'

----------------------------------------------------------------------
Ran 1 test in 0.001s

FAILED (errors=1)
"""
PYTEST_OUT = """\
=========================== short test summary info ============================
FAILED tests/test_ok.py::test_fail - assert 1 == 2
FAILED tests/test_ok.py::test_p[2] - assert 2 == 1
FAILED tests/test_uni.py::T::test_a - AssertionError: 1 != 2
ERROR tests/test_ok.py::test_err - RuntimeError: fixture
===================== 3 failed, 3 passed, 1 error in 0.94s =====================
"""
PYTEST_COLLECTION = """\
E   ModuleNotFoundError: No module named 'missing_mod_xyz'
=========================== short test summary info ============================
ERROR tests/test_s.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
=============================== 1 error in 0.84s ===============================
"""


def test_summary_lines_are_not_failed_tests() -> None:
    assert failed_tests(UNITTEST_ONE_ERROR) == [
        "test_sub (hidden.test_hidden.HiddenTest.test_sub)"]
    assert failed_tests(UNITTEST_OUT) == ["test_b (test_uni.T.test_b)",
                                          "test_a (test_uni.T.test_a)"]
    assert failed_tests(PYTEST_OUT) == ["tests/test_ok.py::test_fail",
                                        "tests/test_ok.py::test_p[2]",
                                        "tests/test_uni.py::T::test_a",
                                        "tests/test_ok.py::test_err"]
    assert failed_tests(PYTEST_COLLECTION) == ["tests/test_s.py"]
    assert failed_tests("FAILED (errors=1)\nFAILED (failures=2)\n") == []


def _suite(tmp_path: Path, models: str) -> Path:
    for cid in ("one", "two"):
        d = tmp_path / "cases" / cid
        (d / "project").mkdir(parents=True)
        (d / "project" / "x.py").write_text("x = 1\n")
        (d / "feature.yaml").write_text(yaml.safe_dump(
            {"title": "t", "goal": "g", "crew": "software-team", "models": "models.yaml"}))
        (d / "replay.yaml").write_text("answers: []\n")
        (d / "models.yaml").write_text(yaml.safe_dump({"model_list": [
            {"model_name": a, "litellm_params": {"model": f"replay/{cid}",
                                                 "replay_script": "replay.yaml"}}
            for a in ("smart", "fast")]}))
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({
        "cases": [{"id": c, "repo": f"cases/{c}/project", "feature": f"cases/{c}/feature.yaml",
                   "checks": ["true"]} for c in ("one", "two")],
        "variants": [{"id": "v", "pattern": "single", "models": models}]}))
    return suite


def test_variant_models_path_with_case_is_per_case(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, "cases/{case}/models.yaml"))
    (variant,) = suite.variants
    assert variant.models_for("one") == tmp_path / "cases" / "one" / "models.yaml"
    assert variant.models_for("two") == tmp_path / "cases" / "two" / "models.yaml"


def test_variant_models_with_case_missing_for_one_case_is_exit_2(tmp_path: Path) -> None:
    path = _suite(tmp_path, "cases/{case}/models.yaml")
    (tmp_path / "cases" / "two" / "models.yaml").unlink()
    with pytest.raises(UserError) as e:
        load_suite(path)
    text = "\n".join(p.render() for p in e.value.problems)
    assert "cases/two/models.yaml (for case 'two') not found" in text
    assert "suite.yaml" in text and "'one'" not in text


def test_eval_table_names_the_failed_tests(capsys: pytest.CaptureFixture[str]) -> None:
    from crew.cli.eval_cmd import _print_table
    from crew.eval.engine import EvalOutcome

    results = [{"case": "c", "variant": "v", "repeat": 1, "passed": False, "status": "failed",
                "usd": 0.0, "tokens": 0, "calls": 0, "wall_s": 0.0, "run_id": "r1",
                "failed_tests": ["tests/test_a.py::test_x"]}]
    _print_table(EvalOutcome("e", Path("/tmp/e"), 0, ["v"], results))
    out = capsys.readouterr().out
    assert "fail  c / v #1  failed  run r1\n        failed: tests/test_a.py::test_x\n" in out


def _rows() -> list[dict[str, object]]:
    return [json.loads(x) for x in (SAMPLE / "instances.jsonl").read_text().splitlines()]


def test_swebench_bad_lines_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    rows = _rows()
    del rows[0]["test_patch"]
    rows[1]["FAIL_TO_PASS"] = "not json"
    rows[2]["instance_id"] = rows[1]["instance_id"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n{oops\n")
    with pytest.raises(UserError) as e:
        import_swebench(bad, SAMPLE / "clones", tmp_path / "out")
    got = {(p.line, p.field, p.message.split(":")[0]) for p in e.value.problems}
    assert (1, "test_patch", "missing field 'test_patch'") in got
    assert (2, "FAIL_TO_PASS", "FAIL_TO_PASS must be a list of test ids (or its JSON text)") \
        in got
    assert any(line == 3 and f == "instance_id" for line, f, _ in got)
    assert any(line == 4 and m == "not JSON" for line, _, m in got)
    assert not (tmp_path / "out").exists()


def test_swebench_missing_clone_and_busy_output_are_exit_2(tmp_path: Path) -> None:
    clones = tmp_path / "clones"
    clones.mkdir()
    shutil.copy(SAMPLE / "clones" / "crew-samples__textkit.bundle", clones)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserError) as e:
        import_swebench(SAMPLE / "instances.jsonl", clones, out)
    text = "\n".join(p.render() for p in e.value.problems)
    assert "no clone of 'crew-samples/mathkit'" in text
    assert "crew-samples__mathkit" in text  # the hint names where to put it
    assert "not empty" in text and "--force" in text
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_swebench_lists_may_be_json_text_or_lists(tmp_path: Path) -> None:
    rows = _rows()
    rows[0]["FAIL_TO_PASS"] = ["tests/test_slug.py::test_trailing_punctuation"]
    path = tmp_path / "i.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    got = read_instances(path)
    assert [i.fail_to_pass for i in got][:2] == [
        ["tests/test_slug.py::test_trailing_punctuation"], ["tests/test_wrap.py::test_empty"]]
    assert got[0].id == "crew-samples__textkit-1"
