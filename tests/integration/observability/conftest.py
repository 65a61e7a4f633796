"""The SDK is imported once up front, as `crew run` prewarms it while it sets up git, the
sandbox and litellm: a run shorter than that import would otherwise close before the
background-built Langfuse client exists (and, by design, not wait for it beyond 2 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _langfuse_imported() -> None:
    import langfuse  # noqa: F401
    from opentelemetry.exporter.otlp.proto.http import trace_exporter  # noqa: F401
    from opentelemetry.sdk import trace  # noqa: F401
