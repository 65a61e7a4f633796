"""Repository knowledge across runs (issue 30): two features on one repository, side by side.

The stub model follows rules instead of a fixed script: the coder uses the project's error
type (AppError) only when a message tells it to, the reviewer requests changes until it does,
and the lead distils the run's summary into notes at the end. Run 1 learns the convention from
the review; run 2 (another feature, same repository) reads it in its system messages and passes
review at once. The control is run 2 with `knowledge: off`. Each run is a fresh `crew run`
process over LiteLLM's real HTTP path; prompt tokens are counted (cl100k) on the requests the
stub received, so the notes' own cost in every prompt is included.

Run: python benchmarks/knowledge.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import tokens

from crew.testing import StubReply, StubServer

RULE = "Raise AppError (app/errors.py) on invalid input, never ValueError"
DISTIL = "You keep short notes about this repository"
ROLES = {"lead": "Plan the work.", "coder": "Write the code; follow the project's conventions.",
         "reviewer": "Review the change against the project's conventions."}


def _say(body: dict[str, Any], text: str) -> StubReply:
    # a plausible completion size; the prompt is counted from the request itself
    return StubReply.text(text, prompt_tokens=0, completion_tokens=max(len(text) // 4, 1))


def _model(body: dict[str, Any]) -> StubReply:
    msgs = body["messages"]
    system = str(msgs[0].get("content") or "")
    rest = "\n".join(str(m.get("content") or "") for m in msgs[1:])
    role = body["model"]
    if role == "lead" and DISTIL in system:
        found = "AppError" in rest
        return _say(body, json.dumps({"commands": ["`python3 -c 'import app'` checks the package"]
                                      * found,
                                      "conventions": [RULE] * found, "pitfalls": []}))
    if role == "lead":
        return _say(body, '{"tasks": []}')
    if role == "coder":  # a coder answers with its change, as real ones do
        error = "AppError" if "AppError" in system + rest else "ValueError"
        return _say(body, f"Added the parser; bad input raises {error}.\n" + _code(error))
    last = [str(m.get("content") or "") for m in msgs if m.get("role") == "user"][-1]
    if "AppError" in last and "ValueError" not in last:
        return _say(body, json.dumps({"approved": True, "summary": "Good."}))
    return _say(body, json.dumps({"approved": False, "summary": "Wrong error type.", "changes": [
        {"file": "app/parse.py", "problem": f"Use the project's error handling: {RULE}."}]}))


def _code(error: str) -> str:
    lines = ["```python", "from app.errors import AppError", "", "",
             "def parse(text: str) -> int:", '    """The value in `text`; an error if invalid."""',
             "    text = text.strip()", "    if not text:",
             f'        raise {error}("empty value")', "    if not text.isdigit():",
             f'        raise {error}(f"not a number: {{text!r}}")', "    value = int(text)",
             "    if not 0 < value < 65536:", f'        raise {error}(f"out of range: {{value}}")',
             "    return value", "```"]
    return "\n".join(lines)


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def setup(root: Path, url: str) -> Path:
    """A repository and the spec folder (roles, a crew, models on the stub); returns spec."""
    import yaml

    repo, spec = root / "repo", root / "spec"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "__init__.py").write_text("")
    (repo / "app" / "errors.py").write_text("class AppError(Exception):\n    pass\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    (spec / "roles").mkdir(parents=True)
    (spec / "crews").mkdir()
    for name, goal in ROLES.items():
        (spec / "roles" / f"{name}.yaml").write_text(yaml.safe_dump(
            {"title": name.title(), "goal": goal, "instructions": "Be brief.",
             "model": name, "tools": []}))
    (spec / "crews" / "bench.yaml").write_text(yaml.safe_dump({
        "supervisor": "lead", "members": ["coder", "reviewer"], "patterns": ["review_loop"],
        "defaults": {"pattern": "review_loop", "sandbox": "local"}}))
    (spec / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": n, "litellm_params": {"model": f"openai/{n}", "api_base": url,
                                             "api_key": "sk-stub-not-a-key"}} for n in ROLES],
        "router_settings": {"num_retries": 0}}))
    return spec


def run(spec: Path, name: str, knowledge: str, stub: StubServer) -> dict[str, Any]:
    import yaml

    feature = spec / f"{name}-{knowledge}.yaml"
    feature.write_text(yaml.safe_dump({
        "title": f"Add {name} parsing", "goal": f"Add app/{name}.py: parse a {name}.",
        "repo": "../repo", "crew": "bench", "models": "models.yaml", "knowledge": knowledge,
        "acceptance": ["python3 -c 'import app'"],
        "tasks": [{"id": name, "title": f"Add {name} parsing", "pattern": "review_loop",
                   "roles": ["coder", "reviewer"]}]}))
    before = len(stub.requests)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LANGFUSE_TRACING_ENABLED": "false"}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "crew", "run", str(feature), "--no-trace",
                          "--json"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if not res.stdout.strip():
        raise SystemExit(f"crew run failed ({res.returncode}): {res.stderr[-2000:]}")
    result = json.loads(res.stdout.splitlines()[-1])
    count, _ = tokens.counter()
    bodies = [r.body for r in stub.requests[before:]]
    state = json.loads((Path(result["report"]).parent / "state.json").read_text())
    return {"status": result.get("status"), "calls": len(bodies),
            "prompt tokens": sum(count(json.dumps(b["messages"])) for b in bodies),
            "review rounds": (state.get("tasks", {}).get(name) or {}).get("rounds", "?"),
            "notes in prompt": any(RULE in str(b["messages"][0].get("content")) for b in bodies),
            "wall s": round(wall, 1)}


def measure() -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as d, StubServer(latency_s=0.05) as stub:
        stub.respond(_model)
        spec = setup(Path(d), stub.url)
        return {"run 1 (learns)": run(spec, "port", "on", stub),
                "run 2, notes": run(spec, "host", "on", stub),
                "run 2, knowledge: off": run(spec, "host", "off", stub)}


def report(rows: dict[str, dict[str, Any]]) -> None:
    names = list(rows)
    keys = list(next(iter(rows.values())))
    print(f"{'':18}" + "".join(f"{n:>24}" for n in names))
    for k in keys:
        print(f"{k:18}" + "".join(f"{rows[n][k]!s:>24}" for n in names))
    a, b = rows[names[1]], rows[names[2]]
    print(f"run 2 with notes vs without: {a['calls']}/{b['calls']} calls, "
          f"{a['prompt tokens']}/{b['prompt tokens']} prompt tokens "
          f"({a['prompt tokens'] / max(b['prompt tokens'], 1):.2f}x)")


if __name__ == "__main__":
    report(measure())
