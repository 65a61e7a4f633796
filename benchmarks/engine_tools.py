"""A tool-using review loop on native and on the crewai engine, against the stub model through
the Router: the author reads app.py, writes it and answers; the reviewer reads it and approves.
Both engines get the same scripted replies. Prints LLM calls and prompt tokens (~4 chars per
token of the messages and tools each request sent, the same estimate for both engines) and
whether crewai's raw ANSI colour codes reached stdout/stderr.
Run: .venv/bin/python benchmarks/engine_tools.py [--dump]
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")

from crew.llm import LLM
from crew.patterns import default_registry
from crew.patterns.base import TaskInfo
from crew.patterns.setup import pattern_context
from crew.spec.models import ModelsConfig, PatternSpec, RoleSpec
from crew.testing import StubReply, StubServer
from crew.workspace.worktrees import Workspace

ROLES = {n: RoleSpec(name=n, title=n.title(), goal=f"Do {n} work well.",
                     instructions=f"You are a careful {n}. Keep answers short.", model=n,
                     max_turns=6, tools=["read_file", "write_file", "list_files"])
         for n in ("author", "reviewer")}
VERDICT = json.dumps({"approved": True, "summary": "VALUE is 2 as asked.", "changes": []})


def script(stub: StubServer) -> None:
    stub.enqueue(StubReply.tool_call(("read_file", {"path": "app.py"})),
                 StubReply.tool_call(("write_file", {"path": "app.py", "content": "VALUE = 2\n"})),
                 StubReply.text("Set VALUE to 2 in app.py."), model="author")
    stub.enqueue(StubReply.tool_call(("read_file", {"path": "app.py"})),
                 StubReply.text(VERDICT), model="reviewer")


def repo(root: Path) -> Workspace:
    root.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "app.py").write_text("VALUE = 1\n" + "".join(f"# line {i}\n" for i in range(40)))
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "init"], check=True, env=env)
    return Workspace.create(root, "bench", "Bench")


async def one(engine: str, stub: StubServer, tmp: Path) -> tuple[int, int, str, bool]:
    deps = [{"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": stub.url,
                                                 "api_key": "sk-stub"}} for n in ROLES]
    llm = LLM(ModelsConfig.model_validate({"model_list": deps,
                                           "router_settings": {"num_retries": 0}}))
    ws = repo(tmp / engine)
    task = TaskInfo(id="t1", title="Set VALUE to 2", description="In app.py.",
                    roles=("author", "reviewer"))
    ctx = pattern_context(task, ROLES, llm, run_id="bench", workspace=ws)
    tpl = PatternSpec(name="review", kind="review_loop", description="d",
                      engine=engine)  # type: ignore[arg-type]
    start = len(stub.requests)
    script(stub)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        res = await default_registry().run(tpl, ctx)
    sent = stub.requests[start:]
    tokens = sum((len(json.dumps(r.body.get("messages", []))) +
                  len(json.dumps(r.body.get("tools", []))) + 3) // 4 for r in sent)
    if "--dump" in sys.argv:
        for r in sent:
            print(json.dumps(r.body.get("messages"), indent=1)[:4000])
    ansi = "\x1b[" in out.getvalue() + err.getvalue()
    return len(sent), tokens, f"{res.outcome} {res.summary[:60]!r}", ansi


async def main() -> None:
    with StubServer() as stub, tempfile.TemporaryDirectory() as d:
        rows = {e: await one(e, stub, Path(d)) for e in ("native", "crewai")}
    base = rows["native"]
    for engine, (calls, tokens, outcome, ansi) in rows.items():
        print(f"review_loop+tools {engine:7} calls {calls:3d} ({calls / base[0]:.2f}x)  "
              f"prompt tokens {tokens:6d} ({tokens / base[1]:.2f}x)  ansi {ansi}  {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
