"""A proxy config's settings through the real Router: os.environ/ everywhere the proxy resolves
it, `cache: true` building LiteLLM's real cache, set_verbose kept off stdout, env values."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.llm import LLM
from crew.llm._litellm import load_litellm
from shared_helpers import litellm_globals_restored

BASE = ("model_list:\n  - model_name: smart\n    litellm_params: {model: openai/gpt-4o, "
        "api_key: sk-test}\n")
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    with litellm_globals_restored():
        yield


def llm_for(tmp_path: Path, text: str) -> LLM:
    f = tmp_path / "models.yaml"
    f.write_text(BASE + text)
    return LLM.from_file(f)


def test_cache_true_builds_litellms_cache(tmp_path: Path) -> None:
    llm = llm_for(tmp_path, "litellm_settings:\n  cache: true\n  cache_params: {type: local}\n")
    from litellm.caching.caching import Cache

    assert isinstance(load_litellm().cache, Cache)
    assert llm._router_settings["cache_responses"] is True
    first = asyncio.run(llm.complete("smart", HI, mock_response="cached answer"))
    second = asyncio.run(llm.complete("smart", HI, mock_response="cached answer"))
    assert first.content == second.content == "cached answer"


def test_cache_of_an_unavailable_kind_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as e:
        llm_for(tmp_path, "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n")
    assert e.value.problems[0].field == "litellm_settings.cache_params"


def test_os_environ_is_resolved_in_router_and_litellm_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREW_T_RETRIES", "1")
    monkeypatch.setenv("CREW_T_TIMEOUT", "42")
    llm = llm_for(tmp_path, "router_settings: {num_retries: os.environ/CREW_T_RETRIES}\n"
                            "litellm_settings: {request_timeout: os.environ/CREW_T_TIMEOUT}\n")
    assert llm._router_settings["num_retries"] == "1"
    assert load_litellm().request_timeout == "42"
    with pytest.raises(UserError) as e:
        llm_for(tmp_path, "router_settings: {redis_host: os.environ/CREW_T_UNSET_HOST}\n")
    p = e.value.problems[0]
    assert p.field == "router_settings.redis_host" and "CREW_T_UNSET_HOST" in p.message


def test_environment_variables_take_numbers_and_null(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("CREW_T_PORT", "CREW_T_RATE", "CREW_T_NULL", "CREW_T_FROM"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("CREW_T_SRC", "from-env")
    llm_for(tmp_path, "environment_variables: {CREW_T_PORT: 6379, CREW_T_RATE: 0.5, "
                      "CREW_T_NULL: null, CREW_T_FROM: os.environ/CREW_T_SRC}\n"
                      "general_settings:\n")
    assert os.environ["CREW_T_PORT"] == "6379" and os.environ["CREW_T_RATE"] == "0.5"
    assert "CREW_T_NULL" not in os.environ and os.environ["CREW_T_FROM"] == "from-env"
    for k in ("CREW_T_PORT", "CREW_T_RATE", "CREW_T_FROM"):
        monkeypatch.delenv(k)


def test_set_verbose_never_reaches_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]
                                          ) -> None:
    llm = llm_for(tmp_path, "litellm_settings: {set_verbose: true}\n"
                            "router_settings: {set_verbose: true, debug_level: DEBUG}\n")
    assert load_litellm().set_verbose is False
    asyncio.run(llm.complete("smart", HI, mock_response="pong"))
    out, err = capfd.readouterr()
    assert out == "" and "LiteLLM" in err  # the debug output went to stderr


def test_callbacks_are_not_installed(tmp_path: Path) -> None:
    lt = load_litellm()
    llm_for(tmp_path, "litellm_settings: {success_callback: [langfuse], callbacks: [otel]}\n")
    assert "langfuse" not in lt.success_callback and "otel" not in lt.callbacks


def test_set_verbose_works_without_redis(tmp_path: Path) -> None:
    """redis is optional (crew[cache]); litellm._redis imports it (issue 26)."""
    import subprocess
    import sys

    f = tmp_path / "models.yaml"
    f.write_text(BASE + "litellm_settings: {set_verbose: true}\n")
    child = (
        "import sys, asyncio\n"
        "sys.modules['redis'] = None  # as on a machine without the redis package\n"
        "from crew.llm import LLM\n"
        f"llm = LLM.from_file({str(f)!r})\n"
        "c = asyncio.run(llm.complete('smart', [{'role': 'user', 'content': 'hi'}], "
        "mock_response='pong'))\n"
        "sys.exit(0 if c.content == 'pong' else 3)\n")
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "" and "LiteLLM" in proc.stderr


def test_the_cache_extra_installs_what_a_disk_cache_needs(tmp_path: Path) -> None:
    """`pip install 'crew[cache]'`, the fix crew prints for a disk cache, installs diskcache;
    with it the disk cache answers a repeated call."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    extra = project["project"]["optional-dependencies"]["cache"]
    assert any(req.startswith("diskcache") for req in extra), extra
    pytest.importorskip("diskcache")
    llm = llm_for(tmp_path, "litellm_settings:\n  cache: true\n  cache_params: {type: disk, "
                            f"disk_cache_dir: {str(tmp_path / 'cache')!r}}}\n")
    first = asyncio.run(llm.complete("smart", HI, mock_response="cached answer"))
    second = asyncio.run(llm.complete("smart", HI, mock_response="cached answer"))
    assert first.content == second.content == "cached answer"
    assert any((tmp_path / "cache").iterdir())
