"""Prompt-cache friendliness: the share of prompt tokens (cl100k) in leading messages that
repeat an earlier request's leading messages — what a provider's prefix cache can reuse.

Two workloads:
  demo        the offline demo (`crew demo`, replay model) in a fresh process; requests are
              read back from the run's events.jsonl (the inputs as sent, redacted)
  multi-turn  one tool-using agent over 8 tool turns then a final answer (ScriptedLLM, real
              tools in a temporary repository), and a 2 × 3 debate with its judge
Tool schemas are not counted (they precede the messages and never change within an agent).
Goal: >= 70% in multi-turn tasks. Run: .venv/bin/python benchmarks/prefix_reuse.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).parent))

from tokens import TASK, WORKLOADS, counter, prefix_reused, roles

from crew.agent import Agent
from crew.context import RunContext
from crew.patterns.base import TaskInfo
from crew.patterns.setup import pattern_context
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM


def demo_requests() -> list[list[dict[str, Any]]]:
    """Every request of a fresh offline demo run, in order."""
    with tempfile.TemporaryDirectory() as d:
        dest = Path(d) / "demo"
        subprocess.run([sys.executable, "-m", "crew", "demo", str(dest), "--no-trace",
                        "--json", "--sandbox", "local"], check=True, capture_output=True)
        events = next((dest / "project" / ".crew" / "runs").glob("*/events.jsonl"))
        rows = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return [r["payload"]["input"] for r in rows if r.get("type") == "generation.start"]


async def agent_requests(turns: int = 8) -> list[list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        for i in range(turns):
            (ws / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 20)
        script: list[Any] = [{"tool_calls": [{"name": "read_file",
                                              "arguments": {"path": f"m{i}.py"}}]}
                             for i in range(turns)]
        llm = ScriptedLLM([*script, {"content": "Done."}])
        role = RoleSpec(name="coder", title="Coder", goal="Write working code.",
                        instructions="Make the smallest change that works.", model="smart",
                        tools=["read_file", "write_file", "list_files"], max_turns=turns + 2)
        files = "## Files\n" + "\n".join(f"m{i}.py" for i in range(turns))
        await Agent(role, llm, workspace=ws, run_context=RunContext()).run(
            TASK.prompt(), repo_context=files)
        return [c.messages for c in llm.calls]


async def debate_requests() -> list[list[dict[str, Any]]]:
    _name, pattern, members, params, answers = next(w for w in WORKLOADS if "debate" in w[0])
    llm = ScriptedLLM(answers)
    task = TaskInfo(TASK.id, TASK.title, TASK.description, tuple(members), params)
    await pattern.run(pattern_context(task, roles(), llm, run_id="b"))
    return [c.messages for c in llm.calls]


def measure() -> dict[str, float]:
    count, _how = counter()
    out = {}
    for name, reqs in (("multi-turn agent (8 tool turns)", asyncio.run(agent_requests())),
                       ("debate 2 x 3 + judge", asyncio.run(debate_requests())),
                       ("offline demo (16 calls)", demo_requests())):
        total, reused = prefix_reused(reqs, count)
        out[name] = reused / total
        print(f"{name:34} {len(reqs):>3} requests {total:>7,} prompt tok "
              f"{reused / total:>6.0%} repeat an earlier prefix")
    return out


if __name__ == "__main__":
    measure()
