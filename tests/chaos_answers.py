"""A model that answers badly in plausible ways, served by crew.testing.StubServer: a seeded
mix of usable answers and the faults issue 31 measured (prose for JSON, truncated JSON, wrong
types, unknown tools, missing or non-JSON arguments, repeated calls, empty and huge replies,
unicode garbage, NUL bytes, lone surrogates, paths outside the repo, malformed response
shapes, 500/429, connections closed mid-answer, a command sleeping or printing 5 MB). Shared
by the soak and the run-level tests."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from crew.testing import StubReply

Fault = Callable[[random.Random, dict[str, Any]], StubReply]
GARBAGE = ("\x00", "\ud800", "\udfff", "\x1b[2J", "\u202e", "\ufeff", "é", "💥", "\x7f", "\r")
BAD_PATHS = ("../outside.txt", "/etc/passwd", "a\x00b.py", "x\ud800.py", "", ".", ".git/config",
             "~/x", "a/" * 40 + "deep.py", "CON", "\udfff/\x00")


def garbage(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice(GARBAGE) if rng.random() < 0.4 else rng.choice("abc {}[]\":,")
                   for _ in range(n))


def _tool_names(req: dict[str, Any]) -> list[str]:
    return [str(t.get("function", {}).get("name")) for t in req.get("tools") or []]


def _schema_instance(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A small instance of a JSON schema (what a well-behaved model returns)."""
    if "$ref" in schema:
        return _schema_instance(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs, depth)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _schema_instance(schema[key][0], defs, depth)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _schema_instance(v, defs, depth + 1) for k, v in props.items()
                if k in schema.get("required", []) or depth < 2}
    if kind == "array":
        return [] if depth > 2 else [_schema_instance(schema.get("items", {}), defs, depth + 1)]
    return {"integer": 1, "number": 1.0, "boolean": True, "null": None}.get(str(kind), "ok")


def good_reply(rng: random.Random, req: dict[str, Any]) -> StubReply:
    """What a usable model would answer: the schema's instance, a tool call, or a short text."""
    fmt = req.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt, dict) else None
    if isinstance(schema, dict):
        return StubReply.text(json.dumps(_schema_instance(schema, schema.get("$defs", {}))))
    tools = _tool_names(req)
    if tools and rng.random() < 0.5:
        if "write_file" in tools:
            name = f"notes/n{rng.randrange(1000)}.md"
            return StubReply.tool_call(("write_file", {"path": name, "content": "a note\n"}))
        return StubReply.tool_call((tools[0], {}))
    return StubReply.text(rng.choice(["Done: the change is in place.", "APPROVED",
                                      "I agree with the proposal.", "Looks fine to me."]))


def _raw(payload: dict[str, Any]) -> StubReply:
    return StubReply(raw_body=json.dumps(payload))


def _shape(choices: Any, usage: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "x", "object": "chat.completion", "created": 1,
                            "model": "chaos", "choices": choices}
    if usage:
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return body


def _call(name: Any, args: Any, call_id: Any = "call_0") -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    out: dict[str, Any] = {"type": "function", "function": fn}
    if call_id is not None:
        out["id"] = call_id
    return out


FAULTS: dict[str, Fault] = {
    "prose": lambda r, q: StubReply.text("Sure! I think that is a fine idea overall."),
    "truncated_json": lambda r, q: StubReply.text('{"tasks": [{"id": "a", "title": '),
    "wrong_types": lambda r, q: StubReply.text(json.dumps(
        {"tasks": "many", "approved": "perhaps", "votes": 3, "choice": [1]})),
    "unknown_tool": lambda r, q: StubReply.tool_call(("launch_rockets", {"n": 3})),
    "missing_args": lambda r, q: StubReply(tool_calls=(_call("write_file", None),)),
    "non_json_args": lambda r, q: StubReply.tool_call(("write_file", "{path: oops")),
    "repeat_call": lambda r, q: StubReply.tool_call(("read_file", {"path": "app.py"}),
                                                    ("read_file", {"path": "app.py"})),
    "empty": lambda r, q: StubReply.empty(),
    "huge": lambda r, q: StubReply.text("x" * 100_000),
    "garbage": lambda r, q: StubReply.text(garbage(r, 40)),
    "nul": lambda r, q: StubReply.text("Done.\x00\x00 commit me"),
    "surrogate": lambda r, q: StubReply.text("fine \ud800 answer \udc00"),
    "bad_path": lambda r, q: StubReply.tool_call(
        (r.choice(["write_file", "read_file", "edit_file", "list_files"]),
         {"path": r.choice(BAD_PATHS), "content": "x", "old": "a", "new": "b"})),
    "no_choices": lambda r, q: _raw(_shape([])),
    "no_message": lambda r, q: _raw(_shape([{"index": 0, "finish_reason": "stop"}])),
    "null_content": lambda r, q: _raw(_shape([{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant",
                                                           "content": None}}])),
    "call_no_id_name": lambda r, q: _raw(_shape([{"index": 0, "finish_reason": "tool_calls",
                                                  "message": {"role": "assistant",
                                                              "content": None, "tool_calls": [
                                                                  _call(None, "{}", None)]}}])),
    "no_usage": lambda r, q: _raw(_shape([{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "ok"}}], usage=False)),
    "not_json_body": lambda r, q: StubReply.bad_body(),
    "server_error": lambda r, q: StubReply.error(500),
    "rate_limited": lambda r, q: StubReply.rate_limited(0),
    "hang_up": lambda r, q: StubReply.closed_mid_answer(),
    "slow": lambda r, q: StubReply.text("slowly: done", delay_s=0.3),
    "sleepy_command": lambda r, q: StubReply.tool_call(("run_command", {"command": "sleep 30"})),
    "flooding_command": lambda r, q: StubReply.tool_call(
        ("run_command", {"command": "python3 -c \"print('x' * 5_000_000)\""})),
}


def chaotic(seed: int, bad_rate: float,
            faults: dict[str, Fault] | None = None) -> Callable[[dict[str, Any]], StubReply]:
    """A StubServer responder: a fault with probability `bad_rate`, else a usable answer."""
    rng = random.Random(seed)
    pool = faults or FAULTS
    names = sorted(pool)

    def respond(req: dict[str, Any]) -> StubReply:
        if rng.random() < bad_rate:
            return pool[rng.choice(names)](rng, req)
        return good_reply(rng, req)

    return respond


# ---------------------------------------------------------------- a five-pattern feature
TASKS: list[dict[str, Any]] = [
    {"id": "one", "title": "Add a greeting", "pattern": "single", "roles": ["coder"],
     "params": {}},
    {"id": "review", "title": "Improve the greeting", "pattern": "review_loop",
     "roles": ["coder", "reviewer"], "params": {"max_rounds": 2}},
    {"id": "debate", "title": "Pick a greeting style", "pattern": "debate",
     "roles": ["security_analyst", "coder"], "params": {"rounds": 1}},
    {"id": "vote", "title": "Is the greeting needed", "pattern": "committee",
     "roles": ["coder", "tester", "reviewer"], "params": {"apply": False}},
    {"id": "split", "title": "Document the greeting", "pattern": "supervisor_worker",
     "roles": ["supervisor", "doc_writer", "coder"], "params": {"max_rounds": 1}},
]


def five_pattern_feature(root: Path, stub_url: str) -> Path:
    """A git repo `root/project` and `root/feature.yaml` whose five pinned tasks use the five
    built-in patterns, every role served by the stub at `stub_url` (native JSON schema)."""
    project = root / "project"
    project.mkdir(parents=True)
    (project / "app.py").write_text("def main():\n    return 0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(project), *args], check=True)
    deployment = {"model": "openai/chaos", "api_base": stub_url, "api_key": "sk-stub-not-a-key",
                  "timeout": 5, "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    (root / "models.yaml").write_text(yaml.safe_dump({
        "model_list": [{"model_name": a, "litellm_params": deployment,
                        "model_info": {"supports_response_schema": True,
                                       "max_output_tokens": 2000}}
                       for a in ("smart", "fast")],
        "router_settings": {"num_retries": 2, "retry_after": 0}}))
    (root / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Greet", "goal": "Add a greet() function to app.py.", "repo": "project",
        "crew": "software-team", "models": "models.yaml", "tasks": TASKS,
        "budget": {"usd": 5, "tokens": 2_000_000, "minutes": 5},
        "sandbox": {"timeout_s": 2}}))  # a sleeping command costs 2 s, not 10 minutes
    return root / "feature.yaml"
