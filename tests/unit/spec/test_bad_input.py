"""The bad-input corpus: every broken file exits 2 with file:line, the field and a fix —
never a traceback. The corpus runs `crew` in-process (crew.cli.app.main, what the console
script calls); the console script itself is run as a subprocess once, for its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared_helpers import CliResult, crew_in_process

CORPUS = Path(__file__).parents[2] / "corpus" / "bad"

# file (relative to the corpus), expected "file:line" prefix, phrases the message must contain
CASES: list[tuple[str, str, list[str]]] = [
    ("syntax_unclosed_bracket.yaml", "syntax_unclosed_bracket.yaml:3:", ["YAML syntax error"]),
    ("syntax_bad_indent.yaml", "syntax_bad_indent.yaml:5:", ["YAML syntax error"]),
    ("syntax_tab_indent.yaml", "syntax_tab_indent.yaml:3:", ["'\\t'"]),
    ("empty.yaml", "empty.yaml:1", ["file is empty", "crew init"]),
    ("only_comments.yaml", "only_comments.yaml:1", ["file is empty"]),
    ("top_level_list.yaml", "top_level_list.yaml:1:1", ["expected a mapping", "list"]),
    ("feature_budget_wrong_type.yaml", "feature_budget_wrong_type.yaml:3:15",
     ["budget.usd", "valid number"]),
    ("feature_unknown_key.yaml", "feature_unknown_key.yaml:1:1",
     ["unknown field 'titel'", "did you mean 'title'"]),
    ("feature_missing_goal.yaml", "feature_missing_goal.yaml:1:1",
     ["missing required field 'goal'"]),
    ("feature_tasks_not_a_list.yaml", "feature_tasks_not_a_list.yaml:3:8",
     ["tasks:", "valid list"]),
    ("feature_unknown_crew.yaml", "feature_unknown_crew.yaml:3:7",
     ["unknown crew 'sofware-team'", "did you mean 'software-team'"]),
    ("feature_task_cycle.yaml", "feature_task_cycle.yaml:7:",
     ["cycle", "code -> tests -> code"]),
    ("feature_task_unknown_pattern.yaml", "feature_task_unknown_pattern.yaml:6:14",
     ["tasks[0].pattern", "did you mean 'review_loop'"]),
    ("feature_task_role_typo.yaml", "feature_task_role_typo.yaml:7:20",
     ["tasks[0].roles[1]", "did you mean 'reviewer'"]),
    ("feature_duplicate_task_ids.yaml", "feature_duplicate_task_ids.yaml:5:",
     ["duplicate task id 'code'"]),
    ("feature_duplicate_key.yaml", "feature_duplicate_key.yaml:3:1",
     ["duplicate key 'title'", "line 1"]),
    ("feature_two_documents.yaml", "feature_two_documents.yaml:3:", ["several YAML documents"]),
    ("feature_missing_models_file.yaml", "feature_missing_models_file.yaml:3:9",
     ["router config 'no-such-models.yaml' not found"]),
    ("roles/bad_temperature.yaml", "bad_temperature.yaml:4:14",
     ["temperature", "less than or equal to 2"]),
    ("roles/tool_typo.yaml", "tool_typo.yaml:4:20",
     ["tools[1]", "unknown tool 'edit_fille'", "did you mean 'edit_file'"]),
    ("roles/unknown_key.yaml", "unknown_key.yaml:3:1",
     ["unknown field 'instructons'", "did you mean 'instructions'"]),
    ("roles/name_mismatch.yaml", "name_mismatch.yaml:1:7", ["differs from the file name"]),
    ("patterns/bad_termination.yaml", "bad_termination.yaml:3:14",
     ["termination", "did you mean 'max_rounds'"]),
    ("patterns/kind_typo.yaml", "kind_typo.yaml:1:7",
     ["unknown pattern kind 'debat'", "did you mean 'debate'"]),
    ("crews/duplicate_members.yaml", "duplicate_members.yaml:2:",
     ["members", "'coder' is listed more than once"]),
    ("crews/member_typo.yaml", "member_typo.yaml:2:11",
     ["members[0]", "unknown role 'codr'", "did you mean 'coder'"]),
    ("models_router_setting_typo.yaml", "models_router_setting_typo.yaml:5:",
     ["unknown router setting 'num_retry'", "did you mean 'num_retries'"]),
    ("models_fallback_unknown_alias.yaml", "models_fallback_unknown_alias.yaml:5:",
     ["alias 'fsat'", "did you mean 'smart'"]),
    ("models_empty_list.yaml", "models_empty_list.yaml:1:", ["model_list", "at least 1"]),
    ("alias_typo/feature.yaml", "alias_typo/roles/coder.yaml:4:8",
     ["model alias 'smrt' is not in the router config", "did you mean 'smart'"]),
    ("yaml_bomb.yaml", "yaml_bomb.yaml:", ["alias bomb"]),
    ("recursive_alias.yaml", "recursive_alias.yaml:1:", ["recursive alias"]),
    ("binary_garbage.yaml", "binary_garbage.yaml:1", ["binary file"]),
    ("latin1_text.yaml", "latin1_text.yaml:1", ["not UTF-8"]),
    ("a_directory.yaml", "a_directory.yaml", ["is a directory", "name a file inside it"]),
    ("feature_capitalised_key.yaml", "feature_capitalised_key.yaml:1:1",
     ["unknown field 'Title'", "did you mean 'title'"]),
    ("feature_bad_tag.yaml", "feature_bad_tag.yaml:2:7", ["goal", "cannot read value"]),
    ("feature_deep_nesting.yaml", "feature_deep_nesting.yaml:3", ["nested more than"]),
    ("models_fallback_nested_list.yaml", "models_fallback_nested_list.yaml:5:",
     ["must be model aliases"]),
    ("patterns/params_out_of_range.yaml", "params_out_of_range.yaml:4:11",
     ["params.rounds", "less than or equal to 10"]),
    ("patterns/params_unknown_key.yaml", "params_unknown_key.yaml:4:3",
     ["params.rouns", "unknown field 'rouns'", "did you mean 'rounds'"]),
    ("patterns/engine_unknown.yaml", "engine_unknown.yaml:3:9",
     ["engine", "unknown engine 'crewia'", "did you mean 'crewai'"]),
    ("feature_task_params_typo.yaml", "feature_task_params_typo.yaml:8:14",
     ["tasks[0].params.max_round", "did you mean 'max_rounds'"]),
    ("feature_task_engine_unknown.yaml", "feature_task_engine_unknown.yaml:8:13",
     ["tasks[0].engine", "unknown engine 'autogn'", "did you mean 'autogen'"]),
]


def run_crew(*args: str, cwd: Path) -> CliResult:
    return crew_in_process(*args, cwd=cwd)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    listed = {c[0] for c in CASES}
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yaml")
               if "alias_typo/" not in str(p.relative_to(CORPUS))} | {"alias_typo/feature.yaml"}
    assert on_disk <= listed, f"corpus files without an expectation: {on_disk - listed}"


@pytest.mark.parametrize(("name", "where", "phrases"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_exits_2_with_location(name: str, where: str, phrases: list[str]) -> None:
    proc = run_crew("validate", name, cwd=CORPUS)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert where in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    assert len(proc.stderr) < 2000  # short, not a dump


def test_ten_megabyte_file(tmp_path: Path) -> None:
    big = tmp_path / "feature.yaml"
    big.write_text("title: x\ngoal: |\n" + ("  " + "a" * 1000 + "\n") * 10_000)
    assert big.stat().st_size > 10_000_000
    proc = run_crew("validate", str(big), cwd=tmp_path)
    assert proc.returncode == 2
    assert "feature.yaml:1" in proc.stderr and "MB" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_outputs_are_user_errors(tmp_path: Path) -> None:
    proc = run_crew("schema", "feature", "-o", str(tmp_path / "no" / "such" / "dir" / "x.json"),
                    cwd=tmp_path)
    assert proc.returncode == 2 and "cannot write" in proc.stderr
    (tmp_path / "file").write_text("")
    proc = run_crew("init", str(tmp_path / "file" / "sub"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_missing_file_and_bad_flag(tmp_path: Path) -> None:
    proc = run_crew("validate", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "nope.yaml: no such file" in proc.stderr
    proc = run_crew("validate", "--no-such-flag", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_the_console_script_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """The process a user runs: a bad file is exit 2 and one short message on stderr."""
    (tmp_path / "feature.yaml").write_text("")
    proc = subprocess.run([sys.executable, "-m", "crew", "validate", "feature.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: feature.yaml:1: file is empty"), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr) < 2000
