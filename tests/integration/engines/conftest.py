"""Fixtures of the engine tests: an LLM over crew's real LiteLLM Router whose deployments are
the replay provider fed by a script (every role calls its own alias = its name), and a git
workspace. The engines run against it exactly as they would against a real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from engine_helpers import ROLE_NAMES, MakeLLM

from crew.llm import LLM, Budget
from crew.spec.models import ModelsConfig
from crew.workspace.worktrees import Workspace
from shared_helpers import committed_repo


@pytest.fixture
def make_llm(tmp_path: Path) -> MakeLLM:
    def make(answers: list[dict[str, Any]], budget: Budget | None = None) -> LLM:
        script = tmp_path / "script.yaml"
        script.write_text(yaml.safe_dump({"answers": answers}))
        deps = [{"model_name": n, "litellm_params": {
            "model": "replay/demo", "replay_script": str(script)}} for n in ROLE_NAMES]
        cfg = ModelsConfig.model_validate({"model_list": deps,
                                           "router_settings": {"num_retries": 0}})
        return LLM(cfg, budget=budget, base_dir=tmp_path)

    return make


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    repo = committed_repo(tmp_path / "repo")
    return Workspace.create(repo, "r1", "Engines")
