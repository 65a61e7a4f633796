"""Binds the `crew ui` app: loopback by default; any other address only when the user names it
with `--host`, and then behind a token printed once (the page asks for it)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from crew._net import is_loopback_host
from crew.errors import UserError


def require_extra() -> None:
    """UserError unless the `crew[ui]` extra's packages are installed."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "jinja2") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"crew ui needs the ui extra ({', '.join(missing)} not installed)",
                        hint="pip install 'crew[ui]'")


def bind(host: str | None, port: int) -> tuple[socket.socket, str | None]:
    """The listening socket and the token the pages ask for: None on loopback (`host` None
    is 127.0.0.1, the only address crew ui binds unless --host names another), a fresh
    random one on any other address."""
    address = host if host is not None else "127.0.0.1"
    loopback = is_loopback_host(address)
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port number", field="--port",
                        hint="0 (any free port) to 65535")
    try:
        family = socket.AF_INET6 if ":" in address.strip("[]") else socket.AF_INET
        sock = socket.create_server((address.strip("[]"), port), family=family)
    except OSError as e:
        raise UserError(f"cannot listen on {address}:{port}: {e.strerror or e}",
                        field="--port" if port else "--host",
                        hint="pick another --port (0 takes any free one)") from None
    return sock, None if loopback else secrets.token_urlsafe(24)


def serve(repo: Path | None, host: str | None, port: int,
          say: Callable[[str], None] = print) -> None:
    """Serve the runs of `repo` (None: crew's index) until Ctrl-C."""
    import uvicorn

    from crew.ui.app import create_app

    sock, token = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    servers: list[uvicorn.Server] = []
    app = create_app(repo, token=token, loopback=token is None,
                     stopping=lambda: bool(servers and servers[0].should_exit))
    say(f"crew ui: http://{shown}:{bound_port}/  (read-only; Ctrl-C stops it)")
    if token is not None:
        say(f"token: {token}  (the page asks for it; anyone with it can read the runs)")
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                            timeout_graceful_shutdown=3)
    servers.append(uvicorn.Server(config))
    servers[0].run(sockets=[sock])
