"""A crew process killed with SIGKILL never runs the `finally` that removes its container: the
command keeps running with the workspace mounted. The next crew process to work there (a
`crew resume`) removes such containers before its first command."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sandbox_support import require_backend

from crew.tools.sandbox.docker import LABEL_OWNER, LABEL_WORKSPACE


async def test_a_killed_crews_container_is_removed_before_the_next_command(
        workspace: Path) -> None:
    sb = require_backend("docker")
    import docker

    client = docker.from_env()
    root = str(workspace.resolve())
    left = {LABEL_OWNER: "4242-0badc0de"}  # as the killed process labelled it
    orphan = client.containers.run(sb.image, ["sleep", "300"], detach=True,  # type: ignore[attr-defined]
                                   network_mode="none", labels={**left, LABEL_WORKSPACE: root})
    elsewhere = client.containers.run(sb.image, ["sleep", "300"], detach=True,  # type: ignore[attr-defined]
                                      network_mode="none",
                                      labels={**left, LABEL_WORKSPACE: root + "-other"})
    try:
        res = await sb.run("echo ok", workspace=workspace)
        assert res.stdout.strip() == "ok", res.stderr
        ids = {c.id for c in client.containers.list(all=True)}
        assert orphan.id not in ids  # removed, though it was still running
        assert elsewhere.id in ids  # another workspace's is not this process's business
        here = client.containers.list(all=True, filters={"label": f"{LABEL_WORKSPACE}={root}"})
        assert here == []  # and its own command's container is removed as before
    finally:
        for c in (orphan, elsewhere):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        client.close()
