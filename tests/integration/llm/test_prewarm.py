"""`crew.llm.prewarm` imports litellm and what its first request loads, so the first request
through the Router imports nothing more; the `crew` entry point exits without teardown after
flushing what a command printed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from crew.llm import prewarm
    from crew.llm._litellm import load_litellm
    from crew.spec.models import ModelsConfig
    d, url = Path(sys.argv[1]), sys.argv[2]
    prewarm(http=bool(url))
    from crew.llm import LLM  # after prewarm: its import leaves the loading to the threads
    load_litellm()  # joins the prewarm threads
    import pydantic._internal._model_construction as mc
    built, complete = [], mc.complete_model_class
    def spy(cls, *a, **k):
        built.append(cls.__module__ + "." + cls.__qualname__)
        return complete(cls, *a, **k)
    mc.complete_model_class = spy
    (d / "s.yaml").write_text("answers:\\n  - content: hi\\n    repeat: true\\n")
    params = ({"model": "openai/m", "api_base": url, "api_key": "sk-stub",
               "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6} if url
              else {"model": "replay/x", "replay_script": "s.yaml"})
    tools = [{"type": "function", "function": {"name": "f", "description": "d",
              "parameters": {"type": "object", "properties": {}}}}]
    before = set(sys.modules)
    llm = LLM(ModelsConfig.model_validate({"model_list": [{"model_name": "m",
              "litellm_params": params}]}), base_dir=d)
    done = asyncio.run(llm.complete("m", [{"role": "user", "content": "x"}], tools=tools))
    new = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] in ("litellm", "mcp", "openai"))
    print(json.dumps({"content": done.content, "new": new,
                      "built": [b for b in built if not b.startswith("crew.")]}))
""")


@pytest.mark.parametrize("deployment", ["replay", "http"])
def test_building_the_router_and_first_request_after_prewarm_load_nothing(
        tmp_path: Path, deployment: str) -> None:
    """What litellm loads or builds lazily (modules, deferred pydantic models, its provider
    table) was done in the background: building the Router and the first request, replayed or
    over HTTP, import no module of litellm, openai or the MCP SDK and complete no model."""
    from crew.testing import StubReply, StubServer

    with StubServer() as stub:
        stub.always(StubReply.text("hi"))
        url = stub.url if deployment == "http" else ""
        out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), url],
                             capture_output=True, text=True, timeout=300, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["content"] == "hi"
    assert got["new"] == [], got["new"]
    assert got["built"] == [], got["built"]


def test_entry_point_flushes_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """A `crew run` that warmed litellm and then hit bad input: message and exit 2 intact."""
    feature = tmp_path / "feature.yaml"
    feature.write_text("title: t\ngoal: g\ncrew: no-such-crew\n")
    proc = subprocess.run([sys.executable, "-m", "crew", "run", str(feature)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "no-such-crew" in proc.stderr and "Traceback" not in proc.stderr


WHILE_IMPORTING = textwrap.dedent("""
    import threading
    from crew.llm import _litellm, prewarm
    _litellm._lock.acquire()  # as while litellm's import is under way in a prewarm thread
    prewarm()
    caller = threading.Thread(target=prewarm, kwargs={"http": True})
    caller.start()
    caller.join(timeout=30)
    print("returned" if not caller.is_alive() else "blocked", len(_litellm._prewarm))
    _litellm._lock.release()
    for t in list(_litellm._prewarm):
        t.join()
""")


def test_a_second_prewarm_does_not_wait_for_the_import_under_way() -> None:
    """A caller that prewarms again (a library user, `crew eval` starting a second run in
    the process) while litellm's import is under way: the call returns at once, or the
    import would no longer overlap what the caller does next."""
    out = subprocess.run([sys.executable, "-c", WHILE_IMPORTING], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert out.split() == ["returned", "2"], out
