"""End-to-end helpers: the offline demo made in a temp dir, `crew` run through its entry
function in the test's process (tests of the process itself start `python -m crew`).
(A module of its own, not conftest: several test folders have a conftest.)"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from shared_helpers import CliResult, crew_in_process, git

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "todo-csv"
DEMO_TASKS = ("threat-model", "export-csv", "docs")


def make_demo_module() -> Any:
    spec = importlib.util.spec_from_file_location("make_demo", EXAMPLE / "make_demo.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def crew_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env["LANGFUSE_TRACING_ENABLED"] = "false"
    env.pop("LANGFUSE_PUBLIC_KEY", None)
    return env


def crew(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """`crew ARGS` in this process (crew.cli.app.main, as `python -m crew` runs it): a whole
    command, without a child's litellm import; stdin is /dev/null."""
    return crew_in_process(*args, cwd=cwd, env=env or crew_env())


def only_run(repo: Path) -> Path:
    runs = [p for p in (repo / ".crew" / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def state_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "state.json").read_text())
    return data


def ledger_of(run_dir: Path) -> list[dict[str, Any]]:
    """The run's LLM calls (ledger.jsonl, one line per call)."""
    return [json.loads(x) for x in (run_dir / "ledger.jsonl").read_text().splitlines()]


def task_commits(repo: Path, branch: str) -> list[str]:
    """The Crew-Task trailer of every commit on `branch` made by the run (merges excluded)."""
    out = git(repo, "log", "--no-merges", "--format=%(trailers:key=Crew-Task,valueonly)%x00",
              branch, "^main")
    return [x.strip() for x in out.split("\x00") if x.strip()]


def task_starts(run_dir: Path) -> dict[str, int]:
    """How many times each task was started, over every session of the run."""
    counts: dict[str, int] = {}
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["type"] == "task.start":
            counts[e["name"]] = counts.get(e["name"], 0) + 1
    return counts


ROLE_FILES = Path(__file__).resolve().parents[2] / "roles"


def roles_on_stub(feature: Path, stub_url: str, router: dict[str, Any]) -> None:
    """Each built-in role gets its own alias (= its name) served by the stub at `stub_url`, so
    each role's answers are one queue in call order: roles/ and models.yaml beside `feature`."""
    import yaml

    roles_dir = feature.parent / "roles"
    roles_dir.mkdir()
    for f in ROLE_FILES.glob("*.yaml"):
        role = yaml.safe_load(f.read_text())
        role["model"] = f.stem
        (roles_dir / f.name).write_text(yaml.safe_dump(role))
    (feature.parent / "models.yaml").write_text(yaml.safe_dump({"model_list": [
        {"model_name": f.stem, "litellm_params": {
            "model": f"openai/{f.stem}", "api_base": stub_url, "api_key": "sk-stub-not-a-key",
            # priced (a USD budget over an unpriced model is refused) and bounded (a budget
            # reserves each call's worst-case output) as a user's local server would be
            "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
         "model_info": {"max_output_tokens": 300}}
        for f in ROLE_FILES.glob("*.yaml")], "router_settings": router}))

