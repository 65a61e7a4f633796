"""The pytest plugin blocks real network access; crew.llm and the plugin import cheaply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_external_connections_fail_loudly_and_loopback_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        import os
        import socket
        import pytest
        from crew.testing.stub_server import StubServer
        from crew.testing.pytest_plugin import LLMNetworkBlocked

        def test_swallowed(no_llm_network):
            try:
                socket.create_connection(("api.openai.com", 443), timeout=1)
            except Exception:
                pass  # code under test hides the error: teardown still fails the test

        def test_ip(no_llm_network):
            with pytest.raises(LLMNetworkBlocked, match="203.0.113.9:443"):
                socket.create_connection(("203.0.113.9", 443), timeout=1)
            assert no_llm_network == ["203.0.113.9:443"]

        def test_loopback_and_unix_allowed(no_llm_network):
            with StubServer() as s:
                port = int(s.url.rsplit(":", 1)[1].split("/")[0])
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                socket.create_connection(("localhost", port), timeout=1).close()
            a, b = socket.socketpair()
            a.close(); b.close()
            assert no_llm_network == []

        REAL_CONNECT = socket.socket.connect

        @pytest.mark.allow_network
        def test_opt_out(no_llm_network):
            assert socket.socket.connect is REAL_CONNECT  # not patched

        def test_model_requests_switched_off(no_llm_network):
            assert os.environ["CREW_ALLOW_MODEL_REQUESTS"] == "0"
    """)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    # Both blocked tests fail at teardown, even the one that swallowed the error.
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_swallowed*",
                                 "*attempted real network access*api.openai.com:443*"])


def test_importing_crew_llm_and_the_plugin_does_not_import_litellm() -> None:
    code = ("import sys, crew, crew.llm, crew.testing, crew.testing.pytest_plugin, "
            "crew.testing.stub_server\n"
            "heavy = [m for m in ('litellm', 'langfuse', 'openai', 'docker') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            )
    subprocess.run([sys.executable, "-c", code], check=True)
    plugin_only = ("import sys, crew.testing.pytest_plugin\n"
                   "assert 'pydantic' not in sys.modules and 'yaml' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", plugin_only], check=True)


ONLINE_AND_OFFLINE = """\
model_list:
  - {model_name: real, litellm_params: {model: openai/gpt-4o-mini, api_key: sk-test-not-used}}
  - {model_name: stub, litellm_params: {model: openai/stub, api_base: "http://127.0.0.1:9/v1",
                                        api_key: x}}
  - {model_name: mocked, litellm_params: {model: openai/gpt-4o, mock_response: hi}}
  - {model_name: guarded, litellm_params: {model: openai/gpt-4o, mock_response: hi}}
router_settings: {fallbacks: [{guarded: [real]}]}
"""


async def test_the_llm_layer_refuses_real_providers_when_model_requests_are_off(
        tmp_path: Path) -> None:
    """CREW_ALLOW_MODEL_REQUESTS=0 (set by the plugin): a deployment that could reach a real
    provider, directly or as a fallback, is refused before any request; offline ones answer."""
    from crew.errors import UserError
    from crew.llm import LLM

    assert os.environ["CREW_ALLOW_MODEL_REQUESTS"] == "0"
    models = tmp_path / "models.yaml"
    models.write_text(ONLINE_AND_OFFLINE)
    llm = LLM.from_file(models)
    for alias in ("real", "guarded"):
        with pytest.raises(UserError, match="model requests are disabled") as e:
            await llm.complete(alias, [{"role": "user", "content": "hi"}])
        assert "openai/gpt-4o-mini" in str(e.value) and str(models) in str(e.value)
    c = await llm.complete("mocked", [{"role": "user", "content": "hi"}])
    assert c.content == "hi"
    assert llm.ledger.entries and all(x.alias == "mocked" for x in llm.ledger.entries)


@pytest.mark.slow
def test_a_crew_subprocess_inherits_the_switch(tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(ONLINE_AND_OFFLINE)
    code = ("import asyncio, sys\n"
            "from crew.errors import UserError\n"
            "from crew.llm import LLM\n"
            f"llm = LLM.from_file({str(models)!r})\n"
            "try:\n"
            "    asyncio.run(llm.complete('real', [{'role': 'user', 'content': 'hi'}]))\n"
            "except UserError as e:\n"
            "    print(e); sys.exit(2)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120)
    assert res.returncode == 2, res.stderr
    assert "CREW_ALLOW_MODEL_REQUESTS=0" in res.stdout


def test_the_plugin_keeps_runs_out_of_the_users_home(pytester: pytest.Pytester,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (tests/e2e/test_eval_ray.py wrote 12 runs into ~/.local/state): a module
    fixture runs before any function fixture, and the workers it starts (Ray's) keep the
    environment of that moment; the plugin isolates the state from the session's start."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(test_inner="""
        import os, subprocess, sys
        from pathlib import Path
        import pytest
        from crew.run.index import index_path, record_run

        CHILD = "from pathlib import Path; from crew.run.index import record_run; " \\
                "record_run('child', Path('/r'), Path('/r/.crew/runs/child'))"

        @pytest.fixture(scope="module")
        def worker():
            record_run("module", Path("/r"), Path("/r/.crew/runs/module"))
            return subprocess.Popen([sys.executable, "-c", CHILD], env=dict(os.environ))

        def test_run(worker, crew_state_home):
            assert worker.wait() == 0
            assert index_path().parent.parent == crew_state_home
            assert not index_path().exists()
            record_run("test", Path("/r"), Path("/r/.crew/runs/test"))
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert left == []
    assert "XDG_STATE_HOME" not in os.environ  # the in-process session restored it


def test_isolation_can_be_switched_off(pytester: pytest.Pytester, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "mine"))
    pytester.makeini("[pytest]\ncrew_isolate_state = false\n")
    pytester.makepyfile(test_inner=f"""
        import os
        def test_env():
            assert os.environ["XDG_STATE_HOME"] == {str(tmp_path / "mine")!r}
    """)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q").assert_outcomes(passed=1)
