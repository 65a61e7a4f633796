"""A stdio MCP server written with the mcp package (FastMCP, now `MCPServer`), used by the
e2e tests as a real child process. It writes its pid to `server.pid` in its working directory,
so a test can check that the run stopped it. `--http PORT` serves streamable HTTP instead."""

from __future__ import annotations

import os
from pathlib import Path

from mcp.server import MCPServer

app = MCPServer("issues")


@app.tool()
def get_issue(number: int) -> str:
    """Read a GitHub issue by its number."""
    token = "set" if os.environ.get("GITHUB_TOKEN") else "unset"
    leaked = os.environ.get("NOT_LISTED", "none")
    return (f"Issue #{number}: CSV export crashes on titles with commas "
            f"(token {token}; unlisted variable {leaked})")


@app.tool()
def close_issue(number: int, reason: str = "done") -> str:
    """Close an issue."""
    return f"closed #{number}: {reason}"


if __name__ == "__main__":
    import sys

    Path("server.pid").write_text(str(os.getpid()))
    if sys.argv[1:2] == ["--http"]:  # streamable HTTP on 127.0.0.1:PORT/mcp
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
