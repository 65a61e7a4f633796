"""Fixtures: patterns through the real LiteLLM Router: a replay script or the stub HTTP server.

`make_llm(answers)` takes answers in the replay-script format (role-keyed; `usage` is honoured
on both backends, other match keys only on replay). Every role calls
its own alias (= its name), so on the stub server each role has its own reply queue (calls of
one role are sequential in these tests, so queue order is call order).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from router_helpers import ROLE_NAMES, MakeLLM

from crew.llm import LLM, Budget
from crew.spec.models import ModelsConfig
from crew.testing import StubReply, StubServer
from crew.workspace.worktrees import Workspace
from shared_helpers import committed_repo, replay_llm


@pytest.fixture(params=["replay", "stub"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def _stub_reply(a: dict[str, Any]) -> StubReply:
    usage = {k: v for k, v in (a.get("usage") or {}).items()
             if k in ("prompt_tokens", "completion_tokens")}  # same counts as on replay
    if a.get("tool_calls"):
        return StubReply.tool_call(*((c["name"], c["arguments"]) for c in a["tool_calls"]),
                                   content=a.get("content"), **usage)
    return StubReply.text(a["content"], **usage)


@pytest.fixture
def make_llm(backend: str, stub: StubServer, tmp_path: Path) -> MakeLLM:
    def make(answers: list[dict[str, Any]], budget: Budget | None = None) -> LLM:
        # a budget reserves each call's worst case: the answers here are 10 tokens long
        info = {"max_output_tokens": 10}
        if backend == "replay":
            return replay_llm(tmp_path, answers, tuple(ROLE_NAMES), budget, info)
        for a in answers:
            if a.get("repeat"):
                stub.always(_stub_reply(a), model=a["role"])
            else:
                stub.enqueue(_stub_reply(a), model=a["role"])
        deps = [{"model_name": n, "litellm_params": {
            "model": f"openai/{n}", "api_base": stub.url, "api_key": "sk-stub",
            "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}, "model_info": info}
            for n in ROLE_NAMES]
        cfg = ModelsConfig.model_validate({"model_list": deps,
                                           "router_settings": {"num_retries": 0}})
        return LLM(cfg, budget=budget, base_dir=tmp_path)

    return make


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    repo = committed_repo(tmp_path / "repo")
    return Workspace.create(repo, "r1", "Integration")
