"""Prompt tokens the patterns spend on three workloads shaped like the peers' (FACTS.md:
committee of 3 + chair, debate 2 × 3 rounds + judge, supervisor + 3 workers), with ScriptedLLM.

For each pattern: calls, total prompt tokens (cl100k via tiktoken, with the encoding file
litellm ships, so it works offline: content + 4 per message, OpenAI's count), the share of
prompt tokens that repeat an earlier request's prefix (what a provider's prompt cache can
reuse) and the framework-added tokens per call. The peers' figures in FACTS.md were measured
on their own task texts, not these one-line ones: they are printed apart, for scale only.
Run: .venv/bin/python benchmarks/tokens.py
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
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


def counter() -> tuple[Callable[[str], int], str]:
    """cl100k from the encoding file bundled with litellm (no network), else ~4 chars/token."""
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    if spec is not None and spec.origin and "TIKTOKEN_CACHE_DIR" not in os.environ:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(
            Path(spec.origin).parent / "litellm_core_utils" / "tokenizers")
    try:
        import tiktoken

        enc = tiktoken.get_encoding("cl100k_base")
        return (lambda s: len(enc.encode(s, disallowed_special=()))), "cl100k"
    except Exception:
        return (lambda s: (len(s) + 3) // 4), "~4 chars/token (tiktoken unavailable)"


def message_tokens(count: Callable[[str], int], msgs: list[dict[str, Any]]) -> list[int]:
    """Tokens of each message: its content (and tool calls) plus 4 for the envelope."""
    return [4 + count(str(m.get("content") or "")) + count(json.dumps(m.get("tool_calls") or ""))
            * bool(m.get("tool_calls")) for m in msgs]


def prefix_reused(calls: list[list[dict[str, Any]]], count: Callable[[str], int]
                  ) -> tuple[int, int]:
    """(prompt tokens, tokens of whole leading messages equal to an earlier request's)."""
    total = reused = 0
    seen: list[list[str]] = []
    for msgs in calls:
        keys = [json.dumps(m, sort_keys=True, default=str) for m in msgs]
        sizes = message_tokens(count, msgs)
        best = 0
        for earlier in seen:
            n = 0
            while n < min(len(keys), len(earlier)) and keys[n] == earlier[n]:
                n += 1
            best = max(best, n)
        total += sum(sizes)
        reused += sum(sizes[:best])
        seen.append(keys)
    return total, reused


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


async def measure() -> dict[str, dict[str, float]]:
    """Per workload: calls, prompt tokens, prefix-reuse share, framework tokens per call."""
    (count, how), specs = counter(), roles()
    out: dict[str, dict[str, float]] = {}
    for name, pattern, members, params, answers in WORKLOADS:
        llm = ScriptedLLM(answers)
        task = TaskInfo(TASK.id, TASK.title, TASK.description, tuple(members), params)
        res: PatternResult = await pattern.run(pattern_context(task, specs, llm, run_id="b"))
        prompt, reused = prefix_reused([c.messages for c in llm.calls], count)
        calls = len(llm.calls)
        out[name] = {"calls": calls, "prompt_tokens": prompt, "prefix_reuse": reused / prompt,
                     "fw_per_call": res.framework_tokens / calls}
    out["_counting"] = {how: 0}
    return out


def report(rows: dict[str, dict[str, float]]) -> None:
    print(f"{'workload':42} {'calls':>5} {'prompt tok':>10} {'prefix reuse':>12} "
          f"{'fw tok/call':>11}")
    for name, r in rows.items():
        if not name.startswith("_"):
            print(f"{name:42} {r['calls']:>5.0f} {r['prompt_tokens']:>10,.0f} "
                  f"{r['prefix_reuse']:>11.0%} {r['fw_per_call']:>11.0f}")
    print(f"tokens: {next(iter(rows['_counting']))}; crew's texts above. For scale only (their "
          "own task texts, FACTS.md): committee AutoGen 1,599 / CrewAI 1,791; debate 2,579 / "
          "2,082; supervisor 4,684 / 5,363")


if __name__ == "__main__":
    report(asyncio.run(measure()))
