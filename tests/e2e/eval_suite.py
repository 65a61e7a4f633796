"""A 3-case x 2-variant suite for the `crew eval` end-to-end tests, made in a temp dir.

Cases: `sub` (calc.sub), `peek` (its coder first tries to read hidden/ and lists the repo),
`mean` (the single variant's coder forgets the empty list). Variants: `single` and `review`
(the crew's default pattern). Each case's feature points its two aliases at one model served
by the stub server (when `stub_url` is given) or by a replay script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from crew.testing import StubReply, StubServer

USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}
PRICE = {"input_cost_per_token": 1e-5, "output_cost_per_token": 3e-5}
CALL_USD = 1000 * 1e-5 + 100 * 3e-5
HIDDEN_TEST = """import unittest

import {module}


class HiddenTest(unittest.TestCase):
    def test_it(self) -> None:
        {assertion}


if __name__ == "__main__":
    unittest.main()
"""
CASES: dict[str, dict[str, Any]] = {
    "sub": dict(module="calc", start="def add(a, b):\n    return a + b\n",
                good="def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
                bad=None, assertion="self.assertEqual(calc.sub(5, 3), 2)"),
    "peek": dict(module="greet", start="def hello():\n    return 'Hello!'\n",
                 good="def hello():\n    return 'Hello!'\n\n\ndef greet(n):\n"
                      "    return f'Hello, {n}!'\n",
                 bad=None, assertion="self.assertEqual(greet.greet('Ada'), 'Hello, Ada!')"),
    "mean": dict(module="stats", start="def total(xs):\n    return sum(xs)\n",
                 good="def total(xs):\n    return sum(xs)\n\n\ndef mean(xs):\n"
                      "    return sum(xs) / len(xs) if xs else 0.0\n",
                 bad="def total(xs):\n    return sum(xs)\n\n\ndef mean(xs):\n"
                     "    return sum(xs) / len(xs)\n",
                 assertion="self.assertEqual(stats.mean([]), 0.0)"),
}
VARIANTS = ("single", "review")
EXPECTED_PASS = {("sub", "single"): True, ("sub", "review"): True, ("peek", "single"): True,
                 ("peek", "review"): True, ("mean", "single"): False, ("mean", "review"): True}


def answers(case: str, variant: str) -> list[dict[str, Any]]:
    """What the model answers in one run, in call order (replay entries keyed by role)."""
    c = CASES[case]
    path = f"{c['module']}.py"
    plan = {"tasks": [{"id": "impl", "title": f"Change {path}", "description": f"Edit {path}.",
                       "roles": ["coder"], "depends_on": []}]}
    out: list[dict[str, Any]] = [{"task": "plan", "role": "supervisor", "purpose": "plan",
                                  "content": json.dumps(plan)}]
    if case == "peek":
        out.append({"task": "impl", "role": "coder", "tool_calls": [
            {"name": "read_file", "arguments": {"path": "hidden/test_hidden.py"}},
            {"name": "list_files", "arguments": {"path": "."}}]})
    code = c["bad"] if variant == "single" and c["bad"] else c["good"]
    out.append({"task": "impl", "role": "coder", "tool_calls": [
        {"name": "write_file", "arguments": {"path": path, "content": code}}]})
    out.append({"task": "impl", "role": "coder", "content": f"Wrote {path}."})
    if variant == "review":
        out.append({"task": "impl", "role": "reviewer", "purpose": "review", "content":
                    json.dumps({"approved": True, "summary": "ok", "changes": []})})
    return out


def _stub_reply(a: dict[str, Any]) -> StubReply:
    if a.get("tool_calls"):
        return StubReply.tool_call(*((t["name"], t["arguments"]) for t in a["tool_calls"]),
                                   **USAGE)
    return StubReply.text(a["content"], **USAGE)


def enqueue_all(stub: StubServer, order: list[tuple[str, str]]) -> None:
    """The stub's answers for runs made one after the other in `order`."""
    for case, variant in order:
        for a in answers(case, variant):
            stub.enqueue(_stub_reply(a))


def make_suite(root: Path, *, stub_url: str | None = None, budget_usd: float = 5.0) -> Path:
    """The suite under `root`; returns suite.yaml."""
    cases = []
    for cid, c in CASES.items():
        d = root / "cases" / cid
        (d / "project").mkdir(parents=True)
        (d / "hidden").mkdir()
        (d / "project" / f"{c['module']}.py").write_text(c["start"])
        (d / "project" / "README.md").write_text(f"# {cid}\n")
        (d / "hidden" / "test_hidden.py").write_text(
            HIDDEN_TEST.format(module=c["module"], assertion=c["assertion"]))
        (d / "feature.yaml").write_text(yaml.safe_dump({
            "title": f"Case {cid}", "goal": f"Change {c['module']}.py as the tests expect.",
            "crew": "software-team", "models": "models.yaml"}))
        if stub_url:
            params = {"model": "openai/stub", "api_base": stub_url, "api_key": "not-a-key",
                      **PRICE}
        else:
            params = {"model": f"replay/{cid}", "replay_script": "replay.yaml", **PRICE}
            # one script for both variants: the plan is the same, the rest keyed by pattern
            entries = [dict(answers(cid, "single")[0], usage=USAGE)]
            entries += [dict(a, usage=USAGE, pattern=p) for v, p in
                        (("single", "single"), ("review", "review_loop"))
                        for a in answers(cid, v)[1:]]
            (d / "replay.yaml").write_text(yaml.safe_dump({"answers": entries}))
        (d / "models.yaml").write_text(yaml.safe_dump({
            # each call reserves its worst case: the answers are 100 tokens long
            "model_list": [{"model_name": a, "litellm_params": params,
                            "model_info": {"max_output_tokens": 100}}
                           for a in ("smart", "fast")],
            "router_settings": {"num_retries": 0}}))
        cases.append({"id": cid, "repo": f"cases/{cid}/project",
                      "feature": f"cases/{cid}/feature.yaml", "hidden": f"cases/{cid}/hidden",
                      "checks": ["python3 -m unittest -q hidden.test_hidden"]})
    suite = root / "suite.yaml"
    suite.write_text(yaml.safe_dump({
        "name": "e2e", "cases": cases,
        "variants": [{"id": "single", "pattern": "single"},
                     {"id": "review", "pattern": "review_loop"}],
        "budget": {"usd": budget_usd}, "max_parallel": 1}, sort_keys=False))
    return suite


def run_dirs(eval_dir: Path) -> dict[str, Path]:
    """key (case--variant--repeat) → the run directory of that case repo."""
    out = {}
    for repo in sorted((eval_dir / "work").iterdir()):
        runs = [p for p in (repo / ".crew" / "runs").iterdir() if p.is_dir()] \
            if (repo / ".crew" / "runs").is_dir() else []
        if runs:
            assert len(runs) == 1, runs
            out[repo.name] = runs[0]
    return out


def ledger_totals(run_dir: Path) -> tuple[float, int, int]:
    lines = [json.loads(x) for x in (run_dir / "ledger.jsonl").read_text().splitlines()]
    return (sum(e["cost_usd"] for e in lines),
            sum(e["prompt_tokens"] + e["completion_tokens"] for e in lines), len(lines))
