"""crew used as a library (`from crew.llm import LLM`, `LLM(config)`, then a call; no prewarm,
no CLI): the import loads litellm and what its first request would load, so neither `LLM(...)`
nor the call imports any module;
and the OpenAI client's chat request loads `openai.resources.chat` without the package's
`__init__` (every other resource of the API), which still runs, in full, on any other use
of the package. Fresh processes: the test process may have imported either already. The
time this saves is measured in benchmarks/peers.py, never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from crew.testing import StubReply, StubServer

SCRIPT = """
import asyncio, json, sys
from crew.llm import LLM
from crew.llm._openai_lazy import resources_init_ran
from crew.spec.models import ModelsConfig

config = ModelsConfig.model_validate({"model_list": [{"model_name": "m", "litellm_params": {
    "model": "openai/m", "api_base": sys.argv[1], "api_key": "sk-stub",
    "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}]})
imported = "litellm" in sys.modules
before = set(sys.modules)
llm = LLM(config)
res = asyncio.run(llm.complete("m", [{"role": "user", "content": "hi"}]))
new = sorted(set(sys.modules) - before)
out = {"text": res.content, "imported": imported, "new": new, "init_ran": resources_init_ran(),
       "chat": "openai.resources.chat" in sys.modules}
import openai
from openai.resources import Files  # any other use runs the real __init__
out.update(init_ran_after=resources_init_ran(), files=Files.__name__,
           beta=type(openai.resources.beta).__name__, has_all="Embeddings" in dir(openai.resources))
print(json.dumps(out))
"""


@pytest.mark.slow
def test_a_scripts_first_call_imports_nothing_and_skips_the_other_resources() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with StubServer() as stub:
        stub.always(StubReply.text("hello"), model="m")
        proc = subprocess.run([sys.executable, "-c", SCRIPT, stub.url], env=env,
                              capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["text"] == "hello"
    assert got["imported"]  # `from crew.llm import LLM` imported litellm
    assert got["new"] == [], got["new"]  # the import loaded it all: LLM(...) and the call none
    assert got["chat"] and not got["init_ran"]  # chat alone, not every resource
    assert got["init_ran_after"] and got["files"] == "Files" and got["beta"] == "module"
    assert got["has_all"]
