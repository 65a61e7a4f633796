"""`crew ui`: a local, read-only web view of runs (the `crew[ui]` extra: Starlette, uvicorn,
Jinja2). `data` reads a run's files into what the pages show, `app` is the ASGI app (pages and
server-sent events), `server` binds it. Nothing here writes to a run directory."""
