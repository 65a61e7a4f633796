"""Prompt tokens the patterns spend, on the peers' workloads (FACTS.md) with ScriptedLLM.

For each pattern: calls, total prompt tokens (cl100k when tiktoken's file is available, else
~4 chars/token) and the framework-added tokens per call (text crew and the pattern add to the
roles' own prompts and the task). Run: .venv/bin/python benchmarks/tokens.py
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from crew.patterns.base import PatternResult, TaskInfo
from crew.patterns.committee import Committee
from crew.patterns.debate import Debate
from crew.patterns.review_loop import ReviewLoop
from crew.patterns.setup import pattern_context
from crew.patterns.single import Single
from crew.patterns.supervisor_worker import SupervisorWorker
from crew.spec.library import Library
from crew.spec.models import RoleSpec
from crew.testing import ScriptedLLM

TASK = TaskInfo(id="w", title="Add CSV export to the todo CLI",
                description="`todo export --format csv PATH` writes every todo as one CSV row "
                            "with id, title, done and due date; existing commands unchanged.")


def counter() -> Callable[[str], int]:
    try:
        import tiktoken

        enc = tiktoken.get_encoding("cl100k_base")
        return lambda s: len(enc.encode(s))
    except Exception:
        return lambda s: (len(s) + 3) // 4


def roles() -> dict[str, RoleSpec]:
    lib = Library([])
    return {n: lib.load("role", n).spec for n in lib.names("role")}


def ballot(a: str) -> str:
    return json.dumps({"answer": a, "rationale": "It keeps the change small and testable."})


WORKLOADS: list[tuple[str, Any, list[str], dict[str, Any], list[Any]]] = [
    ("single", Single(), ["coder"], {}, [{"content": "Added export_csv() and a test."}]),
    ("review_loop (1 round)", ReviewLoop(), ["coder", "reviewer"], {}, [
        {"role": "coder", "content": "Added export_csv() and a test."},
        {"role": "reviewer", "content": json.dumps({"approved": True, "summary": "Good."})}]),
    ("committee: 3 reviewers + chair", Committee(), ["reviewer", "security_analyst", "tester"],
     {"aggregation": "chair", "chair": "supervisor"}, [
        {"purpose": "ballot", "content": ballot("Ship it behind a flag."), "repeat": True},
        {"purpose": "chair", "content": json.dumps(
            {"decision": "Ship behind a flag.", "rationale": "All agree."})}]),
    ("debate: 2 debaters × 3 rounds + judge", Debate(), ["coder", "security_analyst"],
     {"rounds": 3, "early_stop": False}, [
        {"role": "coder", "content": "Stream rows to the file.\nPOSITION: stream", "repeat": True},
        {"role": "security_analyst", "content": "Escape formulas.\nPOSITION: escape",
         "repeat": True},
        {"role": "reviewer", "content": json.dumps({"decision": "stream and escape",
                                                    "rationale": "Both matter."})}]),
    ("supervisor + coder, tester, doc writer", SupervisorWorker(),
     ["supervisor", "coder", "tester", "doc_writer"], {}, [
        {"purpose": "plan", "content": json.dumps({"subtasks": [
            {"id": "code", "title": "Implement export", "role": "coder"},
            {"id": "tests", "title": "Test export", "role": "tester"},
            {"id": "docs", "title": "Document export", "role": "doc_writer"}]})},
        {"purpose": "review", "content": json.dumps({"approved": True, "summary": "Done."})},
        {"content": "Done.", "repeat": True}]),
]


async def measure() -> None:
    count, specs = counter(), roles()
    print(f"{'workload':42} {'calls':>5} {'prompt tok':>10} {'fw tok/call':>11}")
    for name, pattern, members, params, answers in WORKLOADS:
        llm = ScriptedLLM(answers)
        task = TaskInfo(TASK.id, TASK.title, TASK.description, tuple(members), params)
        res: PatternResult = await pattern.run(pattern_context(task, specs, llm, run_id="b"))
        prompt = sum(count("\n".join(str(m.get("content") or "") for m in c.messages))
                     for c in llm.calls)
        calls = len(llm.calls)
        print(f"{name:42} {calls:>5} {prompt:>10,} {res.framework_tokens / calls:>11.0f}")
    print("peers (FACTS.md): committee AutoGen 1,599 / CrewAI 1,791; debate 2,579 / 2,082; "
          "supervisor 4,684 / 5,363 prompt tokens")


if __name__ == "__main__":
    asyncio.run(measure())
