"""The pytest plugin blocks real network access; crew.llm and the plugin import cheaply."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_external_connections_fail_loudly_and_loopback_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
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

        @pytest.mark.allow_network
        def test_opt_out(no_llm_network):
            assert socket.getaddrinfo is socket.getaddrinfo  # not patched: nothing to assert
    """)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    # Both blocked tests fail at teardown, even the one that swallowed the error.
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_swallowed*",
                                 "*attempted real network access*api.openai.com:443*"])


def test_importing_crew_llm_and_the_plugin_does_not_import_litellm() -> None:
    code = ("import sys, crew, crew.llm, crew.testing, crew.testing.pytest_plugin, "
            "crew.testing.stub_server\n"
            "heavy = [m for m in ('litellm', 'langfuse', 'openai', 'docker') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "import crew.testing.pytest_plugin as p\n"
            "assert 'pydantic' not in sys.modules or 'crew.llm' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    plugin_only = ("import sys, crew.testing.pytest_plugin\n"
                   "assert 'pydantic' not in sys.modules and 'yaml' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", plugin_only], check=True)
