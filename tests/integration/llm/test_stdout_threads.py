"""LLM clients built at once in threads (as `crew eval` does, one per run) leave sys.stdout
as it was: `crew eval --json` prints its JSON on stdout, not on stderr."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from crew.llm import LLM
from crew.spec.models import ModelsConfig


def test_clients_built_in_threads_leave_stdout_alone(tmp_path: Path) -> None:
    cfg = ModelsConfig.model_validate({"model_list": [
        {"model_name": a, "litellm_params": {"model": "openai/m", "api_base":
                                             "http://127.0.0.1:9/v1", "api_key": "sk-none"}}
        for a in ("smart", "fast")], "router_settings": {"num_retries": 0}})
    original = sys.stdout
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def build() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                LLM(cfg, base_dir=tmp_path)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sys.stdout is original
