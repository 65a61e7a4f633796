"""Shared helpers of the sandbox tests: get a real backend, or skip (fail when CI=true)."""

from __future__ import annotations

import os

import pytest

from crew.tools.sandbox import SandboxBackend, SandboxLimits, backend_status, select_sandbox

LIMITS = SandboxLimits(memory_mb=256, cpus=1.0, pids=64, tmp_mb=64, output_chars=20_000)


def require_backend(name: str, limits: SandboxLimits = LIMITS) -> SandboxBackend:
    ok, reason = backend_status(name)
    if not ok:
        msg = f"the {name} sandbox is unavailable: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg} (CI=true: run .ci/sandbox-setup.sh first)")
        pytest.skip(msg)
    if name == "local":
        from crew.tools.sandbox.local import LocalSandbox

        return LocalSandbox(limits, warn=False)
    return select_sandbox(name, limits=limits)


ISOLATED = [
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("bwrap", marks=pytest.mark.bwrap),
]
ALL = [*ISOLATED, pytest.param("local")]
