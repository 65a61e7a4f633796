"""Issue 18, MCP servers as tools: a role lists `mcp:issues/*`, the run starts the stdio server
in tests/e2e/mcp_issue_server.py (the mcp package's MCPServer, formerly FastMCP) as a real
child process, the model (the stub server, through LiteLLM's HTTP path) calls
`issues__get_issue`, and the result reaches the model, events.jsonl and the OTLP spans; only
listed environment variables reach the server, which is stopped at the end of the run. A server
that fails to start is exit 2 before any model call or run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tool_project import events, make_project, run_crew, tool_messages, traced_env

from crew.testing import StubReply, StubServer
from crew.testing.otlp_receiver import OTLPReceiver
from shared_helpers import alive

OBS_TYPE = "langfuse.observation.type"


def test_a_role_calls_a_stdio_mcp_server_tool(tmp_path: Path) -> None:
    servers = {"issues": {"command": ["python", "issue_server.py"], "env": ["GITHUB_TOKEN"]}}
    with StubServer() as stub, OTLPReceiver() as rx:
        feature = make_project(tmp_path, stub, tools=["read_file", "mcp:issues/*"],
                               extra={"mcp_servers": servers})
        stub.enqueue(StubReply.tool_call(("issues__get_issue", {"number": 7})),
                     StubReply.text("Issue 7 is about commas in titles."), model="worker")
        env = traced_env(rx.base_url, GITHUB_TOKEN="ghp-test-token-value", NOT_LISTED="leaky")
        res = run_crew("run", str(feature), env=env)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

        # the model was offered the server's tools with their schemas, and saw the result
        first = stub.requests_for("worker")[0].body
        offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
        assert {"read_file", "issues__get_issue", "issues__close_issue"} <= set(offered)
        params = offered["issues__get_issue"]["parameters"]
        assert params["properties"]["number"]["type"] == "integer"
        assert params["required"] == ["number"]
        (result,) = tool_messages(stub, "worker")
        assert "Issue #7: CSV export crashes" in result
        assert "token set" in result and "unlisted variable none" in result  # env: listed only

        # the call is in events.jsonl ...
        evs = events(tmp_path / "repo")
        starts = [e for e in evs if e["type"] == "tool.start" and e["name"] == "issues__get_issue"]
        ends = [e for e in evs if e["type"] == "tool.end" and e["name"] == "issues__get_issue"]
        assert len(starts) == len(ends) == 1
        assert starts[0]["payload"]["input"] == {"number": 7}
        assert "Issue #7" in ends[0]["payload"]["output"]
        assert ends[0]["payload"]["status"] == "ok"

        # ... and in the OTLP spans, as a `tool` observation
        (span,) = [s for s in rx.spans if s["name"] == "issues__get_issue"]
        attrs = span["attributes"]
        assert attrs[OBS_TYPE] == "tool"
        assert "Issue #7" in attrs["langfuse.observation.output"]
        assert "ghp-test-token-value" not in json.dumps(rx.spans)

    # the stdio server was started once and stopped at the end of the run
    pid = int((feature.parent / "server.pid").read_text())
    assert not alive(pid)


def test_a_server_that_fails_to_start_is_exit_2_before_any_model_call(tmp_path: Path) -> None:
    servers = {"issues": {"command": ["python", "no_such_server.py"]}}
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["mcp:issues/*"],
                               extra={"mcp_servers": servers})
        res = run_crew("run", str(feature), "--no-trace")
        assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
        assert stub.requests == []
    out = res.stdout + res.stderr
    assert "feature.yaml" in out and "mcp_servers.issues" in out
    assert "MCP server 'issues'" in out and "no_such_server.py" in out
    assert not (tmp_path / "repo" / ".crew" / "runs").exists()


@pytest.mark.parametrize("ref, message", [
    ("mcp:issues/get_isue", "no MCP tool matches 'mcp:issues/get_isue'"),
    ("mcp:isues/*", "unknown MCP server 'isues'"),
])
def test_unknown_mcp_names_are_exit_2(tmp_path: Path, ref: str, message: str) -> None:
    servers = {"issues": {"command": ["python", "issue_server.py"]}}
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=[ref], extra={"mcp_servers": servers})
        res = run_crew("run", str(feature), "--no-trace")
        assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
        assert stub.requests == []
    out = res.stdout + res.stderr
    assert message in out and "worker.yaml" in out and "tools[0]" in out


def test_validate_mcp_checks_tool_names_against_the_servers(tmp_path: Path) -> None:
    servers = {"issues": {"command": ["python", "issue_server.py"]}}
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["mcp:issues/get_isue"],
                               extra={"mcp_servers": servers})
        assert run_crew("validate", str(feature)).returncode == 0  # static: the server exists
        res = run_crew("validate", "--mcp", str(feature))
        assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
        assert "did you mean 'mcp:issues/get_issue'" in res.stdout + res.stderr
        worker = feature.parent / "roles" / "worker.yaml"
        worker.write_text(worker.read_text().replace("get_isue", "get_issue"))
        res = run_crew("validate", "--mcp", str(feature))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert "mcp:issues/get_issue, mcp:issues/close_issue" in res.stdout
        assert stub.requests == []
