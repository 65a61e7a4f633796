"""A run of an eval is traced to Langfuse with session id = the eval id, and the eval id and
variant as tags and trace metadata (so the dashboard groups an eval and filters by variant):
the real SDK exporting real OTLP to a local receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crew.observability import Tracer
from crew.testing.otlp_receiver import OTLPReceiver


@pytest.mark.slow
def test_eval_session_tags_and_metadata_reach_langfuse(tmp_path: Path) -> None:
    with OTLPReceiver() as rx:
        env = {"LANGFUSE_PUBLIC_KEY": "pk-lf-crew-test", "LANGFUSE_SECRET_KEY": "sk-lf-x-0000",
               "LANGFUSE_BASE_URL": rx.base_url}
        t = Tracer.create("run-1", "Case sub", tmp_path, env=env, sinks=[],
                          session_id="20261201-000000-abcd",
                          tags=["software-team", "eval:20261201-000000-abcd", "variant:review"],
                          metadata={"eval_id": "20261201-000000-abcd", "variant": "review",
                                    "case": "sub"})
        with t.run(input={"goal": "g"}), t.task("impl", "single", ["coder"]):
            pass
        t.close(deadline_s=120.0)  # a loaded machine imports the SDK slowly
        spans = rx.spans
    assert len(spans) == 2
    for s in spans:
        a = s["attributes"]
        assert a["session.id"] == "20261201-000000-abcd"
        assert {"eval:20261201-000000-abcd", "variant:review"} <= set(a["langfuse.trace.tags"])
        assert _meta(a, "variant") == "review" and _meta(a, "case") == "sub"
        assert _meta(a, "eval_id") == "20261201-000000-abcd" and _meta(a, "run_id") == "run-1"


def _meta(attrs: dict[str, Any], key: str) -> Any:
    """A trace metadata value (SDK 5 JSON-encodes values, SDK 4 sends them raw)."""
    raw = attrs[f"langfuse.trace.metadata.{key}"]
    try:
        return json.loads(raw)
    except ValueError:
        return raw
