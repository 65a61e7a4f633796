"""McpHub against real servers (tests/e2e/mcp_issue_server.py): streamable HTTP by `url`, and a
stdio server whose parent is killed with SIGKILL exits by itself (its stdin closes)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crew.llm.types import ToolCall
from crew.spec.tooling import McpServerSpec
from crew.tools.base import ToolContext
from crew.tools.mcp import McpHub
from crew.tools.registry import OutcomeStatus, ToolRegistry
from shared_helpers import alive, free_port, wait_until

SERVER = Path(__file__).resolve().parents[2] / "e2e" / "mcp_issue_server.py"
pytestmark = pytest.mark.slow


def _connects(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_streamable_http_server(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "--http", str(port)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _connects(port), 60), "the HTTP server did not come up"
        hub = McpHub({"search": McpServerSpec(url=f"http://127.0.0.1:{port}/mcp")}, {})
        try:
            tools = hub.start()
            assert [t.ref for t in tools] == ["mcp:search/get_issue", "mcp:search/close_issue"]
            reg = ToolRegistry(tools).select(["mcp:search/get_issue"])
            out = asyncio.run(reg.invoke(ToolCall("1", "search__get_issue", '{"number": 3}'),
                                         ToolContext(workspace=tmp_path)))
            assert out.status is OutcomeStatus.OK and out.output.startswith("Issue #3:")
            bad = asyncio.run(reg.invoke(ToolCall("2", "search__get_issue", '{"number": "x"}'),
                                         ToolContext(workspace=tmp_path)))
            assert bad.status is OutcomeStatus.ERROR and "valid integer" in bad.output
        finally:
            hub.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_unreachable_url_is_a_user_error() -> None:
    from crew.errors import UserError

    hub = McpHub({"search": McpServerSpec(url=f"http://127.0.0.1:{free_port()}/mcp",
                                          timeout_s=10)}, {})
    with pytest.raises(UserError, match="MCP server 'search'"):
        hub.start()


def test_a_stdio_server_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    (tmp_path / "srv.py").write_text(SERVER.read_text())
    parent = textwrap.dedent(f"""\
        import time
        from crew.spec.tooling import McpServerSpec
        from crew.tools.mcp import McpHub
        hub = McpHub({{"issues": McpServerSpec(command=["python", "srv.py"])}},
                     {{"issues": {str(tmp_path)!r}}})
        hub.start()
        print("ready", flush=True)
        time.sleep(600)
        """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        pid = int((tmp_path / "srv.py").parent.joinpath("server.pid").read_text())
        assert alive(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_until(lambda: not alive(pid), 20), "the server outlived its killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
