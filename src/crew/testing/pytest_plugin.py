"""crew's pytest plugin (entry point `pytest11: crew`). Imports only the stdlib and pytest.

Fixture `no_llm_network`: any connection to a non-loopback address (a real LLM API, Langfuse
cloud, ...) fails at once with LLMNetworkBlocked, and the test fails at teardown listing what
was attempted, even if the code under test swallowed the error. Loopback and Unix sockets stay
open (StubServer, dockerd). Use it per test, or make it autouse in a conftest.py::

    @pytest.fixture(autouse=True)
    def _offline(no_llm_network): ...

It also sets `CREW_ALLOW_MODEL_REQUESTS=0`, which crew's LLM layer honours: only offline
deployments (replay/…, mock_response, an api_base on loopback) may be called, in this process
and in every `crew` subprocess that inherits the environment.

Mark a test `@pytest.mark.allow_network` to opt out of both.

State isolation (on by default in every suite that has crew installed): from the start of the
session, before any fixture of any scope runs, `XDG_STATE_HOME` and `XDG_DATA_HOME` point into
a temporary directory removed at the end, so crew's index of runs and what its engines keep
under HOME (CrewAI's storage) never land in the user's ~/.local — also from session- or
module-scoped fixtures and from worker processes they start (Ray). Fixture `crew_state_home`
gives one test a fresh state directory of its own. Opt out with `crew_isolate_state = false`
in the pytest ini (or `-p no:crew`).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crew._net import is_loopback_host


class LLMNetworkBlocked(RuntimeError):
    """A test tried to reach the network; use crew.testing.StubServer or a replay model."""


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    return host == "" or is_loopback_host(host)  # "": INADDR_ANY, this machine


ISOLATED_VARS = ("XDG_STATE_HOME", "XDG_DATA_HOME")
_SAVED = pytest.StashKey[tuple[str, dict[str, str | None]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("crew_isolate_state", type="bool", default=True,
                  help="crew: point XDG_STATE_HOME and XDG_DATA_HOME at a temporary directory "
                       "for the whole session (default true)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_network: let this test reach non-loopback addresses "
        "(the crew plugin's no_llm_network fixture otherwise blocks them)")
    if config.getini("crew_isolate_state"):
        root = tempfile.mkdtemp(prefix="crew-test-home-")
        config.stash[_SAVED] = (root, {k: os.environ.get(k) for k in ISOLATED_VARS})
        for var in ISOLATED_VARS:
            os.environ[var] = os.path.join(root, var.lower())


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_SAVED, None)
    if saved is None:
        return
    root, before = saved
    for var, value in before.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def crew_state_home(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh XDG_STATE_HOME for this test (subprocesses inherit it): crew's index of runs
    starts empty."""
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(path))
    return path


@pytest.fixture
def no_llm_network(request: pytest.FixtureRequest,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Block non-loopback connections for this test; yields the list of attempts."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    attempts: list[str] = []
    if request.node.get_closest_marker("allow_network"):
        yield attempts
        return
    monkeypatch.setenv("CREW_ALLOW_MODEL_REQUESTS", "0")

    def refuse(what: str) -> LLMNetworkBlocked:
        attempts.append(what)
        return LLMNetworkBlocked(
            f"crew.testing: network access to {what} is blocked in tests; point the model at "
            "crew.testing.StubServer or a replay/<name> deployment (or mark the test "
            "allow_network)")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guard(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise refuse(f"{address[0]}:{address[1]}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_local(host):
            raise refuse(f"{host!s}:{port}")
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    if attempts:
        pytest.fail("test attempted real network access (blocked by crew's no_llm_network): "
                    + ", ".join(attempts), pytrace=False)
