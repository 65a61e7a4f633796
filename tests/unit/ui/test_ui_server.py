"""`crew ui` as a process: it binds loopback only unless --host names another address, and
then it prints a token that the pages ask for."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crew._net import is_loopback_host

pytest.importorskip("uvicorn")

from crew.errors import UserError
from crew.ui.server import bind

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _own_address() -> str | None:
    """An address of this machine that is not loopback (None: it has none)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return next((a for a in out.stdout.split() if "." in a and not is_loopback_host(a)), None)


@contextmanager
def _ui(*args: str) -> Iterator[list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "crew", "ui", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        if "--host" in args:
            lines.append(proc.stdout.readline())
        yield lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_bind_gives_a_token_only_off_loopback_and_reports_a_busy_port() -> None:
    for host, token in ((None, False), ("localhost", False), ("::1", False), ("0.0.0.0", True)):
        sock, got = bind(host, 0)
        with sock:
            assert (got is not None) == token, host
            if token:
                assert got is not None and len(got) >= 24
    with socket.create_server(("127.0.0.1", 0)) as busy, \
            pytest.raises(UserError, match=r"cannot listen on 127\.0\.0\.1"):
        bind(None, busy.getsockname()[1])


@pytest.mark.slow
@pytest.mark.allow_network  # connects to this machine's own network address only
def test_without_host_it_listens_on_loopback_only(tmp_path: Path) -> None:
    with _ui() as lines:
        url = lines[0].split()[2]
        assert url.startswith("http://127.0.0.1:"), lines
        assert "token" not in "".join(lines)
        assert _get(url)[0] == 200
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert _get(url, {"Host": f"attacker.example:{port}"})[0] == 403
        own = _own_address()
        if own is not None:  # the machine's network address is not served
            with pytest.raises(OSError), socket.create_connection((own, port), timeout=5):
                pass


@pytest.mark.slow
def test_a_network_host_prints_a_token_the_page_asks_for() -> None:
    with _ui("--host", "0.0.0.0") as lines:
        url, token_line = lines[0].split()[2], lines[1]
        assert url.startswith("http://0.0.0.0:") and token_line.startswith("token: "), lines
        token = token_line.split()[1]
        assert len(token) >= 24
        base = url.replace("0.0.0.0", "127.0.0.1")
        status, text = _get(base)
        assert status == 401 and 'name="token"' in text
        assert _get(f"{base}login?token=wrong")[0] == 401
        assert _get(base, {"Cookie": f"crew_ui_token={token}"})[0] == 200
