"""Real sandboxes for the tests here: docker (a real daemon, DOCKER_HOST honoured), bwrap, local.

An unavailable docker or bwrap backend skips its tests with the reason, except when CI=true,
where it fails them: in CI the sandbox tests must really run (.ci/sandbox-setup.sh).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    ws.chmod(0o777)  # the docker backend runs as the host uid; keep it writable either way
    return ws
