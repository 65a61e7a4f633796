"""The ASGI app of `crew ui`: the runs page, a run's page, and its live updates as server-sent
events (the page body re-rendered whenever the run's files change; `end` when the run ends).

Read-only (GET only). Every value a template prints passes crew's redaction (the Jinja
`finalize` hook), so no page holds a secret the environment or the run's models config
names, nor a key shape. On a loopback bind only requests naming a loopback host are served
(a web page elsewhere cannot reach the view through DNS rebinding); with a token (a
non-loopback bind) a request needs it: `?token=` once (then a cookie), else the page asks.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crew._net import is_loopback_host
from crew.observability.redact import default_redactor
from crew.observability.transcript import Node, gen_meta, said
from crew.ui import data

HERE = Path(__file__).parent
COOKIE = "crew_ui_token"
POLL_S = 0.4
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]


def _finalize(value: Any) -> Any:
    """Every `{{ value }}` passes here before it is escaped: secrets become [REDACTED]."""
    from markupsafe import Markup

    if isinstance(value, Markup):  # a macro's output: its values were finalized already
        return value
    if value is None:
        return ""
    return default_redactor().text(value if isinstance(value, str) else str(value))


def _text(value: Any, limit: int = 20000) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                            indent=1, default=str)
    return text if len(text) <= limit else text[:limit] + f"… (+{len(text) - limit} chars)"


def _said(node: Node) -> tuple[str, list[str]]:
    return said(node, limit=20000, call_limit=300)


def _gen_meta(node: Node) -> str:
    return gen_meta(node) if node.end is not None else "thinking…"


def _heading(node: Node) -> str:
    if node.kind == "round":
        return node.name.capitalize()
    if node.kind == "agent":
        return f"{node.name} (turn {node.start.get('turn', 0)})"
    return node.name


def make_templates() -> Any:
    """The Jinja environment of the pages (autoescaped, every value redacted)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True), finalize=_finalize)
    env.globals.update(said_of=_said, gen_meta=_gen_meta, heading=_heading, text=_text,
                       chart=data.chart_points,
                       event_fields=lambda n: {k: v for k, v in n.start.items() if k != "level"})
    return env


class Guard:
    """The host check (loopback binds) and the token check (network binds) before any route."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._refusal(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD"):
            return Response("read-only\n", status_code=405, headers={"Allow": "GET, HEAD"})
        if self.loopback:
            host = request.headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not is_loopback_host(name):
                return Response("crew ui serves loopback host names only\n", status_code=403)
        if self.token is None or request.url.path.startswith("/static/"):
            return None
        if request.url.path == "/login":
            return self._login(request)
        if hmac.compare_digest(request.cookies.get(COOKIE, ""), self.token):
            return None
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return _page("token.html", {"next": nxt, "wrong": False}, status=401)

    def _login(self, request: Request) -> Response:
        nxt = request.query_params.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//") or urlsplit(nxt).netloc:
            nxt = "/"
        assert self.token is not None
        if not hmac.compare_digest(request.query_params.get("token", ""), self.token):
            return _page("token.html", {"next": nxt, "wrong": True}, status=401)
        response = RedirectResponse(quote(nxt, safe="/?=&-_.~"), status_code=303)
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


_templates: Any = None


def _page(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    global _templates
    if _templates is None:
        _templates = make_templates()
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def create_app(repo: Path | None, *, token: str | None = None, loopback: bool = True,
               stopping: Callable[[], bool] = lambda: False) -> Any:
    """The app showing the runs of `repo` (None: every run in crew's index). Live streams end
    when `stopping()` turns true (the server shuts down)."""
    shown = str(repo) if repo is not None else None

    async def runs(request: Request) -> Response:
        rows = await asyncio.to_thread(data.list_runs, repo)
        return _page("runs.html", {"runs": rows, "repo": shown})

    def _run_dir(request: Request) -> Path | None:
        return data.find_run(str(request.path_params["run_id"]), repo)

    async def run(request: Request) -> Response:
        d = _run_dir(request)
        if d is None:
            return _page("runs.html", {"runs": [], "repo": shown}, status=404)
        page = await asyncio.to_thread(data.run_page, d)
        return _page("run.html", {"page": page, "repo": shown})

    async def body(request: Request) -> Response:
        d = _run_dir(request)
        if d is None:
            return Response("no such run\n", status_code=404)
        page = await asyncio.to_thread(data.run_page, d)
        return _page("run_body.html", {"page": page})

    async def events(request: Request) -> Response:
        d = _run_dir(request)
        if d is None:
            return Response("no such run\n", status_code=404)
        return StreamingResponse(_stream(d, stopping), media_type="text/event-stream",
                                 headers={**HEADERS, "X-Accel-Buffering": "no"})

    routes = [Route("/", runs), Route("/runs/{run_id}", run), Route("/runs/{run_id}/body", body),
              Route("/runs/{run_id}/events", events),
              Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes)
    return Guard(app, token=token, loopback=loopback)


def _signature(run_dir: Path) -> tuple[int, int, bool]:
    from crew.run.state import is_locked

    def size(name: str) -> int:
        try:
            st = (run_dir / name).stat()
        except OSError:
            return -1
        return st.st_mtime_ns ^ st.st_size

    return size("events.jsonl"), size("state.json"), is_locked(run_dir)


async def _stream(run_dir: Path, stopping: Callable[[], bool]) -> AsyncIterator[str]:
    """`body` events (the re-rendered page body) whenever the run's files change, then `end`
    with the run's status once no process holds it (or nothing when the server stops: the
    browser reconnects to the next one)."""
    global _templates
    if _templates is None:
        _templates = make_templates()
    seen: tuple[int, int, bool] | None = None
    quiet = 0
    yield "retry: 2000\n\n"
    while not stopping():
        sig = await asyncio.to_thread(_signature, run_dir)
        if sig != seen:
            seen = sig
            page = await asyncio.to_thread(data.run_page, run_dir)
            html = _templates.get_template("run_body.html").render(page=page)
            lines = html.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # CR ends a line
            yield "event: body\n" + "".join(f"data: {line}\n" for line in lines) + "\n"
            if not sig[2]:
                yield f"event: end\ndata: {page.status}\n\n"
                return
            quiet = 0
        elif (quiet := quiet + 1) * POLL_S >= 15:  # a comment now and then keeps proxies open
            quiet = 0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)
