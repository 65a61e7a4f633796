"""Fixtures of the engine tests: an LLM over crew's real LiteLLM Router whose deployments are
the replay provider fed by a script (every role calls its own alias = its name), and a git
workspace. The engines run against it exactly as they would against a real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ROLE_NAMES, MakeLLM

from crew.llm import LLM, Budget
from crew.workspace.worktrees import Workspace
from shared_helpers import committed_repo, replay_llm


@pytest.fixture
def make_llm(tmp_path: Path) -> MakeLLM:
    def make(answers: list[dict[str, Any]], budget: Budget | None = None) -> LLM:
        # a budget reserves each call's worst-case output: these answers are short
        return replay_llm(tmp_path, answers, tuple(ROLE_NAMES), budget,
                          {"max_output_tokens": 100})

    return make


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    repo = committed_repo(tmp_path / "repo")
    return Workspace.create(repo, "r1", "Engines")
