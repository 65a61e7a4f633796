"""The commands a newcomer met with misleading advice (issue 26, item 5): `crew demo` again in
the same folder, `crew clean --all-finished` outside a repository, `crew init DIR`'s repo
path, next steps relative to the current directory, a lost model server named with its URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crew.cli.demo import LOCAL_NOTE, demo_sandbox, make_demo
from crew.cli.typer_app import app
from crew.errors import UserError
from crew.run.state import RunState, save_state
from shared_helpers import committed_repo

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crewai"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, UserError):
        return result.exception.exit_code, result.output + result.exception.render()
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.output


def test_demo_sandbox_is_the_lightest_isolation_available() -> None:
    assert demo_sandbox(lambda name: (name == "bwrap", "")) == "auto"
    assert demo_sandbox(lambda name: (name == "docker", "")) == "auto"
    assert demo_sandbox(lambda name: (False, "not installed")) == "local"
    assert "crew's own" in LOCAL_NOTE and "--sandbox local" in LOCAL_NOTE


def test_demo_again_after_a_failure_reruns_and_never_suggests_the_same_folder(
        tmp_path: Path) -> None:
    dest = tmp_path / "crew-demo"
    feature = make_demo(dest)
    assert make_demo(dest) == feature  # not passed yet (no run, or a failed one): run again
    run = dest / "project" / ".crew" / "runs" / "20260101-000000-abcd"
    run.mkdir(parents=True)
    save_state(run, RunState(run_id=run.name, feature_path=str(feature), feature_title="t",
                             repo=str(dest / "project"), status="passed"))
    with pytest.raises(UserError) as e:
        make_demo(dest)
    text = e.value.render()
    assert "already passed" in text and f"crew demo {dest}-2" in text
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError) as e:
        make_demo(tmp_path / "other")
    assert f"crew demo {tmp_path / 'other'}-2" in e.value.render()


def test_clean_all_finished_outside_a_repository_does_not_advise_git_init(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = invoke("clean", "--all-finished")
    assert code == 2
    assert "git init" not in out and "not inside a git repository" in out and "--repo" in out


def test_init_dir_points_repo_at_the_repository_and_prints_paths_from_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crew.run.preflight import check_repo
    from crew.spec.resolve import resolve_feature

    repo = committed_repo(tmp_path / "app")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_app.py").write_text("def test_app():\n    pass\n")
    monkeypatch.chdir(repo)
    code, out = invoke("init", "my-feature")
    assert code == 0, out
    text = (repo / "my-feature" / "feature.yaml").read_text()
    assert "repo: ..  " in text
    # detected in the repository, though my-feature/ did not exist yet (it said "nothing
    # detected: the default")
    assert "(found in tests/)" in text, text
    assert "wrote my-feature/feature.yaml" in out
    assert "`crew validate my-feature/feature.yaml`" in out
    problems: list[object] = []
    resolved = resolve_feature(repo / "my-feature" / "feature.yaml")
    assert check_repo(resolved, None, problems)[0] == repo.resolve() and problems == []


def test_import_crewai_prints_next_steps_from_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copytree(FIXTURES / "classic", tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    code, out = invoke("import", "crewai", "proj")
    assert code == 0, out
    assert "`crew validate proj/crew/feature.yaml`" in out
    assert "`crew run proj/crew/feature.yaml --plan-only`" in out
    report = (tmp_path / "proj" / "crew" / "IMPORT_REPORT.md").read_text()
    assert "`crew validate feature.yaml`" in report  # the file names it beside itself


def test_a_server_lost_mid_run_is_named_with_its_url() -> None:
    from crew.llm._litellm import load_litellm
    from crew.llm.errors import to_crew_error

    litellm = load_litellm()
    exc = litellm.APIConnectionError(message="Connection error.", llm_provider="openai",
                                     model="openai/x")
    err = to_crew_error(exc, alias="smart", source="models.yaml",
                        urls=["http://127.0.0.1:8000/v1"])
    text = str(err)
    assert "alias 'smart'" in text and "http://127.0.0.1:8000/v1" in text
    assert "fix api_base of 'smart' in models.yaml" in text and "crew resume" in text
    # what the Router raises after its retries (seen in a real run against a closed port)
    exc2 = litellm.InternalServerError(message="OpenAIException - Connection error.",
                                       llm_provider="openai", model="openai/x")
    text2 = str(to_crew_error(exc2, alias="smart", source="models.yaml",
                              urls=["http://127.0.0.1:8000/v1"]))
    assert "cannot reach the model server at http://127.0.0.1:8000/v1" in text2


def test_a_call_to_a_closed_port_names_the_server(tmp_path: Path) -> None:
    """Through the real Router: the error a run stops with names alias, URL and fix."""
    import asyncio

    from crew.errors import ProviderError
    from crew.llm import LLM
    from crew.testing.otlp_receiver import closed_port
    from shared_helpers import litellm_globals_restored

    url = f"http://127.0.0.1:{closed_port()}/v1"
    f = tmp_path / "models.yaml"
    f.write_text("model_list:\n  - model_name: smart\n    litellm_params: {model: openai/x, "
                 f"api_base: '{url}', api_key: k, max_retries: 0}}\n"
                 "router_settings: {num_retries: 0}\n")
    with litellm_globals_restored():
        llm = LLM.from_file(f)
        with pytest.raises(ProviderError) as e:
            asyncio.run(llm.complete("smart", [{"role": "user", "content": "hi"}]))
    text = str(e.value)
    assert f"cannot reach the model server at {url}" in text and "fix api_base" in text


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_take_the_sandbox_run_takes(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`crew validate`/`crew plan` had no --sandbox: validate checked programs in `auto`
    (Docker whenever DOCKER_HOST is set) whatever backend the user meant to run with."""
    from shared_helpers import crew_in_process

    repo = committed_repo(tmp_path / "app")
    monkeypatch.chdir(repo)
    assert invoke("init", ".")[0] == 0
    env = {**os.environ, "ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k",
           "XDG_STATE_HOME": str(tmp_path / "state")}
    res = crew_in_process(command, "feature.yaml", "--sandbox", "bogus", env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "--sandbox: unknown sandbox 'bogus'" in res.stdout + res.stderr
    assert not (repo / ".crew").exists()  # refused before anything existed


def test_an_imported_crewai_feature_names_the_projects_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The imported feature.yaml had no `repo:`, so it pointed at its own output folder
    (`crew validate`: "not a git repository ... run `git init` there")."""
    import shutil

    import yaml

    from crew.run.preflight import check_repo
    from crew.spec.resolve import resolve_feature

    shutil.copytree(FIXTURES / "classic", tmp_path / "proj")
    committed_repo(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    assert invoke("import", "crewai", "proj")[0] == 0
    feature = tmp_path / "proj" / "crew" / "feature.yaml"
    assert yaml.safe_load(feature.read_text())["repo"] == ".."
    problems: list[object] = []
    root = check_repo(resolve_feature(feature), None, problems)[0]
    assert root == (tmp_path / "proj").resolve() and problems == [], problems


def test_validate_warns_while_the_feature_still_holds_init_placeholders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`crew init`'s feature.yaml validated as plainly `ok` with its placeholder title and
    goal: a warning names each, and goes once they are written."""
    from crew.spec.validate import validate_path

    repo = committed_repo(tmp_path / "app")
    monkeypatch.chdir(repo)
    assert invoke("init", ".")[0] == 0
    warned = [w.field for w in validate_path(repo / "feature.yaml", "feature").warnings]
    assert warned == ["title", "goal"], warned
    text = (repo / "feature.yaml").read_text().replace(
        "Describe the feature in one line", "Add CSV export")
    (repo / "feature.yaml").write_text(text)
    warned = [w.field for w in validate_path(repo / "feature.yaml", "feature").warnings]
    assert warned == ["goal"], warned
