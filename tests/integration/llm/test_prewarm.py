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
    from crew.llm import LLM, prewarm
    from crew.spec.models import ModelsConfig
    prewarm()
    d = Path(sys.argv[1])
    (d / "s.yaml").write_text("answers:\\n  - content: hi\\n    repeat: true\\n")
    llm = LLM(ModelsConfig.model_validate({"model_list": [{"model_name": "m",
              "litellm_params": {"model": "replay/x", "replay_script": "s.yaml"}}]}), base_dir=d)
    tools = [{"type": "function", "function": {"name": "f", "description": "d",
              "parameters": {"type": "object", "properties": {}}}}]
    before = set(sys.modules)
    done = asyncio.run(llm.complete("m", [{"role": "user", "content": "x"}], tools=tools))
    new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("litellm", "mcp"))
    print(json.dumps({"content": done.content, "new": new}))
""")


def test_first_request_after_prewarm_imports_nothing_heavy(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["content"] == "hi"
    # litellm's lazy first-request imports were done in the background, and a function tool
    # never loads the MCP SDK; a couple of tiny provider modules may still load
    assert not [m for m in got["new"] if m.startswith("mcp")], got["new"]
    assert len(got["new"]) <= 5, got["new"]


def test_entry_point_flushes_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """A `crew run` that warmed litellm and then hit bad input: message and exit 2 intact."""
    feature = tmp_path / "feature.yaml"
    feature.write_text("title: t\ngoal: g\ncrew: no-such-crew\n")
    proc = subprocess.run([sys.executable, "-m", "crew", "run", str(feature)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "no-such-crew" in proc.stderr and "Traceback" not in proc.stderr
