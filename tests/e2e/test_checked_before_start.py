"""Bad input is caught before anything exists (issue 19): `crew run` exits 2 naming the file and
line (or the flag), without a traceback, and leaves no run directory and no branch in the real
repository; `crew validate FEATURE` reports the same problems."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import crew, crew_env, git

Setup = Callable[[Path], tuple[list[str], list[str]]]  # demo dir -> (extra args, expected)


def _feature(d: Path, old: str, new: str, name: str = "feature.yaml") -> None:
    text = (d / "feature.yaml").read_text(encoding="utf-8")
    assert old in text
    (d / name).write_text(text.replace(old, new), encoding="utf-8")


def _models(d: Path, old: str, new: str) -> None:
    text = (d / "models.yaml").read_text(encoding="utf-8")
    assert old in text
    (d / "models.yaml").write_text(text.replace(old, new), encoding="utf-8")


def subfolder_repo(d: Path) -> tuple[list[str], list[str]]:
    _feature(d, "repo: project ", "repo: project/tests ")
    return [], [r"feature\.yaml:8:7: repo: 'project/tests' is a folder inside the git "
                r"repository .*project, not a repository's root \(use the repository root, "
                r"`repo: project`"]


def subfolder_flag(d: Path) -> tuple[list[str], list[str]]:
    return ["--repo", str(d / "project" / "tests")], [r"--repo: .* is a folder inside the git "
                                                      r"repository"]


def repo_is_a_file(d: Path) -> tuple[list[str], list[str]]:
    _feature(d, "repo: project ", "repo: project/todo.py ")
    return [], [r"feature\.yaml:8:7: repo: repository 'project/todo.py' is a file"]


def repo_symlink_loop(d: Path) -> tuple[list[str], list[str]]:
    os.symlink("loop-b", d / "loop-a")
    os.symlink("loop-a", d / "loop-b")
    _feature(d, "repo: project ", "repo: loop-a ")
    return [], [r"feature\.yaml:8:7: repo: repository path 'loop-a': cannot resolve"]


def missing_api_key(d: Path) -> tuple[list[str], list[str]]:
    _models(d, "replay_script: replay.yaml\n  - model_name: fast",
            "replay_script: replay.yaml\n"
            "      api_key: os.environ/CREW_TEST_SURELY_UNSET_KEY\n  - model_name: fast")
    return [], [r"models\.yaml:7:16: model_list\[0\]\.litellm_params\.api_key: environment "
                r"variable CREW_TEST_SURELY_UNSET_KEY is not set"]


def unroutable_alias(d: Path) -> tuple[list[str], list[str]]:
    text = (d / "models.yaml").read_text(encoding="utf-8")
    head, fast = text.split("  - model_name: fast")
    (d / "models.yaml").write_text(
        head + "  - model_name: fast\n    litellm_params:\n      model: gpt-4o-mini-bogus\n"
        + fast[fast.index("router_settings"):], encoding="utf-8")
    return [], [r"models\.yaml:9:\d+: model_list\[1\]\.litellm_params\.model: LiteLLM cannot "
                r"tell which provider serves model 'gpt-4o-mini-bogus'"]


def words_for_retries(d: Path) -> tuple[list[str], list[str]]:
    _models(d, "num_retries: 0", "num_retries: many")
    return [], [r"models\.yaml:12:16: router_settings\.num_retries: num_retries must be a "
                r"whole number"]


def infinite_budget(d: Path) -> tuple[list[str], list[str]]:
    _feature(d, "budget: {usd: 1.00,", "budget: {usd: .inf,")
    return [], [r"feature\.yaml:\d+:\d+: budget\.usd: .*finite"]


def negative_timeout(d: Path) -> tuple[list[str], list[str]]:
    _feature(d, "name: unit tests", "name: unit tests\n    timeout: -5")
    return [], [r"feature\.yaml:14:14: acceptance\[0\]\.timeout: .*greater than or equal to 1"]


def bad_base(d: Path) -> tuple[list[str], list[str]]:
    _feature(d, "crew: software-team", "base: no-such-branch\ncrew: software-team")
    return [], [r"feature\.yaml:9:7: base: base 'no-such-branch' is not a commit"]


def utf16_without_bom(d: Path) -> tuple[list[str], list[str]]:
    text = (d / "feature.yaml").read_text(encoding="utf-8")
    (d / "feature.yaml").write_bytes(text.encode("utf-16-le"))
    return [], [r"feature\.yaml:1: UTF-16 text without a byte order mark \(save the file as "
                r"UTF-8\)"]


def role_name_and_typo(d: Path) -> tuple[list[str], list[str]]:
    (d / "roles").mkdir()
    (d / "roles" / "coder.yaml").write_text(
        "name: coderr\ntitle: Coder\ngoal: Write code.\ninstructions: Code.\ntoolz: []\n",
        encoding="utf-8")
    return [], [r"roles/coder\.yaml:1:7: name: name 'coderr' differs from the file name",
                r"roles/coder\.yaml:5:1: toolz: unknown field 'toolz' \(did you mean 'tools'\?\)"]


CASES: dict[str, Setup] = {f.__name__: f for f in (
    subfolder_repo, subfolder_flag, repo_is_a_file, repo_symlink_loop, missing_api_key,
    unroutable_alias, words_for_retries, infinite_budget, negative_timeout, bad_base,
    utf16_without_bom, role_name_and_typo)}


def _env() -> dict[str, str]:
    env = crew_env()
    env.pop("CREW_TEST_SURELY_UNSET_KEY", None)
    env["COLUMNS"] = "300"
    return env


def assert_nothing_created(project: Path) -> None:
    runs = project / ".crew" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.iterdir())
    assert not (project / ".crew" / "worktrees").exists()
    assert git(project, "branch", "--format=%(refname:short)").split() == ["main"]


def assert_refused(proc: object, expected: list[str]) -> None:
    out = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert proc.returncode == 2, out  # type: ignore[attr-defined]
    assert "Traceback" not in out
    for pattern in expected:
        assert re.search(pattern, proc.stderr), (pattern, out)  # type: ignore[attr-defined]


@pytest.mark.timeout(900)  # two crew processes; each imports litellm for the router check
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_before_anything_exists(demo: Path, case: str) -> None:
    d = demo.parent
    args, expected = CASES[case](d)
    run = crew("run", "feature.yaml", "--no-trace", "--sandbox", "local", *args, cwd=d,
               env=_env())
    assert_refused(run, expected)
    assert_nothing_created(d / "project")
    if args:  # a flag of crew run, not a file: crew validate has no such flag
        return
    check = crew("validate", "feature.yaml", cwd=d, env=_env())
    assert_refused(check, expected)


@pytest.mark.parametrize("flags,message", [
    (["--budget-usd", "nan"], "--budget-usd: --budget-usd must be a number more than 0, got nan"),
    (["--budget-usd", "inf"], "--budget-usd: --budget-usd must be a number more than 0, got inf"),
    (["--budget-usd", "-1"], "--budget-usd must be a number more than 0"),
    (["--cpus", "nan"], "--cpus must be a finite number"),
    (["--timeout-s", "-3"], "--timeout-s:"),
    (["--sandbox", "bogus"], "--sandbox: unknown sandbox 'bogus'"),
])
def test_bad_flags_are_refused_before_anything_exists(demo: Path, flags: list[str],
                                                      message: str) -> None:
    d = demo.parent
    proc = crew("run", "feature.yaml", "--no-trace", *flags, cwd=d, env=_env())
    assert_refused(proc, [re.escape(message)])
    assert_nothing_created(d / "project")


def test_unreachable_docker_is_refused_before_anything_exists(demo: Path) -> None:
    d = demo.parent
    env = {**_env(), "DOCKER_HOST": f"unix://{d}/no-docker.sock"}
    proc = crew("run", "feature.yaml", "--no-trace", "--sandbox", "docker", cwd=d, env=env)
    assert_refused(proc, [r"sandbox 'docker' is not available: no Docker daemon answers"])
    assert_nothing_created(d / "project")


@pytest.mark.timeout(900)
def test_every_problem_is_reported_in_one_go(demo: Path) -> None:
    """Problems of the repository, the sandbox and the models file come in one report, and so
    does every problem of one file: the user fixes them all before the next try."""
    d = demo.parent
    expected = [*subfolder_repo(d)[1], *missing_api_key(d)[1]]
    proc = crew("run", "feature.yaml", "--no-trace", "--sandbox", "bogus", cwd=d, env=_env())
    assert_refused(proc, [*expected, r"--sandbox: unknown sandbox 'bogus'"])
    assert proc.stderr.count("error: ") == 3, proc.stderr
    assert_nothing_created(d / "project")
    check = crew("validate", "feature.yaml", cwd=d, env=_env())
    assert_refused(check, expected)
    assert check.stderr.count("error: ") == 2, check.stderr
    # one file's problems together: a name differing from the file name hides no typo
    expected = role_name_and_typo(d)[1]
    proc = crew("validate", "--spec-only", "roles/coder.yaml", cwd=d, env=_env())
    assert_refused(proc, expected)


def test_utf16_with_a_byte_order_mark_is_read(demo: Path) -> None:
    d = demo.parent
    text = (d / "feature.yaml").read_text(encoding="utf-8")
    (d / "feature.yaml").write_text(text, encoding="utf-16")  # BOM first, as editors save it
    proc = crew("validate", "--spec-only", "feature.yaml", cwd=d, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "ok  feature.yaml (feature)" in proc.stdout
