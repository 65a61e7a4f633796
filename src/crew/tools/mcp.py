"""MCP servers as crew tools (`mcp_servers:` in a crew or feature).

`McpHub` connects to every declared server when a run starts — a stdio `command` is started
as a child process, a `url` is reached over streamable HTTP — lists their tools, and keeps the
connections on one background event loop until `close()` (the end of the run, Ctrl-C or an
error; after a kill -9 a stdio server sees its stdin close and exits). Each remote tool becomes
an `McpTool` named `<server>__<tool>` (the name the model calls) with the server's JSON Schema;
calls go through crew's ToolRegistry like any built-in tool (approvals, hooks, timeouts,
truncation, redaction, tracing). A server that fails to start or list is a `UserError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from crew.errors import UserError
from crew.llm.types import ToolSpec
from crew.tools.base import Tool, ToolContext, ToolError, ToolOutput, _compact

if TYPE_CHECKING:
    from crew.spec.tooling import McpServerSpec

MAX_PAGES = 100
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class _AnyArgs(BaseModel):
    """MCP arguments are checked by the server against its own schema."""

    model_config = ConfigDict(extra="allow")


def model_name(server: str, tool: str) -> str:
    """`<server>__<tool>`, made a valid function name (letters, digits, _ and -, ≤ 64)."""
    return _BAD_CHARS.sub("_", f"{server}__{tool}")[:64]


@dataclass(frozen=True)
class McpTool(Tool):
    """One tool of an MCP server, called through the run's `McpHub`."""

    server: str = ""
    remote: str = ""  # the tool's own name on the server
    schema: dict[str, Any] = field(default_factory=dict)
    hub: McpHub | None = None
    timeout_s: float = 60.0

    @property
    def ref(self) -> str:
        return f"mcp:{self.server}/{self.remote}"

    def spec(self) -> ToolSpec:
        schema = _compact(self.schema) if self.schema else {"type": "object"}
        schema.setdefault("properties", {})
        return {"type": "function",
                "function": {"name": self.name, "description": self.description,
                             "parameters": schema}}

    async def invoke(self, ctx: ToolContext, args: BaseModel) -> ToolOutput:
        assert self.hub is not None
        return await self.hub.call(self.server, self.remote, args.model_dump(),
                                   self.timeout_s)


def result_text(result: Any) -> ToolOutput:
    """A CallToolResult as text: text parts joined, other parts named, else structured JSON."""
    parts: list[str] = []
    for item in getattr(result, "content", None) or []:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(str(item.text))
        elif kind == "resource":
            res = item.resource
            parts.append(str(getattr(res, "text", None) or f"[resource {res.uri}]"))
        elif kind == "resource_link":
            parts.append(f"[resource {item.uri}]")
        else:
            parts.append(f"[{kind} {getattr(item, 'mime_type', '')}]".rstrip())
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    data = structured if isinstance(structured, dict) else None
    return ToolOutput("\n".join(parts), data=data, is_error=bool(result.is_error))


class McpHub:
    """The MCP connections of one run, on a background event loop (see the module doc)."""

    def __init__(self, servers: Mapping[str, McpServerSpec], dirs: Mapping[str, str],
                 env: Mapping[str, str] | None = None) -> None:
        self.servers = dict(servers)
        self.dirs = dict(dirs)
        self.env = os.environ if env is None else env
        self.tools: list[McpTool] = []
        self._clients: dict[str, Any] = {}
        self._errlogs: dict[str, IO[str]] = {}
        self._stop: asyncio.Event | None = None
        self._serving: list[concurrent.futures.Future[None]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="crew-mcp",
                                        daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- start and stop
    def start(self) -> list[McpTool]:
        """Connect to every server and list its tools; a UserError names what failed."""
        try:
            for name, spec in self.servers.items():
                self._connect(name, spec)
                self.tools.extend(self._list(name, spec))
        except BaseException:
            self.close()
            raise
        return self.tools

    def _connect(self, name: str, spec: McpServerSpec) -> None:
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        transport = self._transport(name, spec)
        serving = asyncio.run_coroutine_threadsafe(self._serve(name, transport, ready),
                                                   self._loop)
        self._serving.append(serving)
        done, _ = concurrent.futures.wait([ready, serving], timeout=spec.timeout_s,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        if ready in done and ready.exception() is None:
            return
        err = (ready.exception() if ready in done else
               serving.exception() if serving in done else None)
        if ready not in done and serving not in done:
            serving.cancel()
            raise self._failed(name, spec, f"no answer within {spec.timeout_s:g}s")
        raise self._failed(name, spec, _describe(err))

    async def _serve(self, name: str, transport: Any,
                     ready: concurrent.futures.Future[None]) -> None:
        from mcp import Client

        if self._stop is None:
            self._stop = asyncio.Event()
        try:
            async with Client(transport, mode="auto") as client:
                self._clients[name] = client
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as e:
            if not ready.done():
                ready.set_exception(e if isinstance(e, Exception) else RuntimeError(repr(e)))
            raise
        finally:
            self._clients.pop(name, None)

    def _transport(self, name: str, spec: McpServerSpec) -> Any:
        if spec.url is not None:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(spec.url)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        missing = [v for v in spec.env if v not in self.env]
        if missing:
            raise UserError(f"MCP server {name!r} lists environment variable {missing[0]!r}, "
                            "which is not set", field=f"mcp_servers.{name}.env",
                            hint="set it, or remove it from `env`")
        assert spec.command is not None
        command, *args = spec.command
        if command in ("python", "python3"):
            command = sys.executable  # the interpreter running crew (it has the mcp package)
        base = Path(self.dirs.get(name, "."))
        cwd = (base / spec.cwd) if spec.cwd else base
        errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._errlogs[name] = errlog
        params = StdioServerParameters(command=command, args=args, cwd=str(cwd),
                                       env={v: self.env[v] for v in spec.env})
        return stdio_client(params, errlog=errlog)

    def _list(self, name: str, spec: McpServerSpec) -> list[McpTool]:
        async def listing() -> list[Any]:
            client = self._clients[name]
            out: list[Any] = []
            cursor = None
            for _ in range(MAX_PAGES):
                page = await client.list_tools(cursor=cursor)
                out.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            return out

        fut = asyncio.run_coroutine_threadsafe(listing(), self._loop)
        try:
            remote = fut.result(timeout=spec.timeout_s)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise self._failed(name, spec, f"tools/list gave no answer in {spec.timeout_s:g}s"
                               ) from None
        except Exception as e:
            raise self._failed(name, spec, f"tools/list failed: {_describe(e)}") from None
        tools, seen = [], set()
        for t in remote:
            tool_name = model_name(name, t.name)
            if tool_name in seen:
                raise self._failed(name, spec, f"two tools map to the name {tool_name!r}")
            seen.add(tool_name)
            tools.append(McpTool(
                name=tool_name, description=(t.description or t.title or t.name).strip(),
                args_model=_AnyArgs, fn=_unused, server=name, remote=t.name,
                schema=dict(t.input_schema or {}), hub=self, timeout_s=spec.timeout_s))
        return tools

    def _failed(self, name: str, spec: McpServerSpec, why: str) -> UserError:
        what = " ".join(spec.command) if spec.command else spec.url
        stderr = ""
        log = self._errlogs.get(name)
        if log is not None:
            with contextlib.suppress(OSError, ValueError):
                log.flush()
                log.seek(0)
                tail = log.read()[-1500:].strip()
                stderr = f"; its stderr ends: {tail}" if tail else ""
        return UserError(f"MCP server {name!r} ({what}) failed to start: {why}{stderr}",
                         field=f"mcp_servers.{name}",
                         hint="check the command or url; run the server by hand to see it")

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop every stdio server and close every connection. Idempotent; never raises."""
        if not self._loop.is_running():
            return
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        concurrent.futures.wait(self._serving, timeout=timeout_s)
        for f in self._serving:
            f.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)
        for log in self._errlogs.values():
            with contextlib.suppress(OSError):
                log.close()

    # ---------------------------------------------------------------- calls
    async def call(self, server: str, tool: str, args: dict[str, Any],
                   timeout_s: float) -> ToolOutput:
        """Call `tool` on `server` from any event loop; a timeout or a lost server is a
        ToolError (the model sees it), a tool's own failure an error result."""
        client = self._clients.get(server)
        if client is None:
            raise ToolError(f"MCP server {server!r} is not connected (it stopped or failed)")
        fut = asyncio.run_coroutine_threadsafe(
            client.call_tool(tool, args, read_timeout_seconds=timeout_s), self._loop)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(fut), timeout_s + 1.0)
        except TimeoutError:
            fut.cancel()
            raise ToolError(f"{server}/{tool} gave no answer within {timeout_s:g}s") from None
        except (asyncio.CancelledError, ToolError):
            fut.cancel()
            raise
        except Exception as e:
            raise ToolError(f"MCP call {server}/{tool} failed: {_describe(e)}") from None
        return result_text(result)


def _unused(*_args: Any, **_kwargs: Any) -> None:  # McpTool.invoke does the call
    raise AssertionError("unreachable")


def _describe(err: BaseException | None) -> str:
    """The innermost message of an exception (anyio wraps them in groups)."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    if err is None:
        return "it stopped"
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}" if text != type(err).__name__ else text
