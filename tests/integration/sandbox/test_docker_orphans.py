"""A crew process killed with SIGKILL never runs the `finally` that removes its container: the
command keeps running with the workspace mounted. The next crew process to work there (a
`crew resume`) removes such containers before its first command."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Any

from sandbox_support import require_backend

from crew.tools.sandbox.docker import LABEL_OWNER, LABEL_WORKSPACE, owner_label


async def test_a_killed_crews_container_is_removed_before_the_next_command(
        workspace: Path) -> None:
    sb = require_backend("docker")
    import docker

    client = docker.from_env()
    root = str(workspace.resolve())
    host = owner_label().split(":")[0]
    gone = subprocess.Popen(["true"])
    gone.wait()  # a crew process that was killed: its pid runs no more

    def sleeper(owner: str, ws: str) -> Any:
        return client.containers.run(sb.image, ["sleep", "300"], detach=True,  # type: ignore[attr-defined]
                                     network_mode="none",
                                     labels={LABEL_OWNER: owner, LABEL_WORKSPACE: ws})

    orphan = sleeper(f"{host}:{gone.pid}:0badc0de", root)
    live = sleeper(f"{host}:1:0badc0de", root)  # another crew, alive, probing the same repo
    elsewhere = sleeper(f"{host}:{gone.pid}:0badc0de", root + "-other")
    try:
        res = await sb.run("echo ok", workspace=workspace)
        assert res.stdout.strip() == "ok", res.stderr
        ids = {c.id for c in client.containers.list(all=True)}
        assert orphan.id not in ids  # removed, though it was still running
        assert live.id in ids  # a live process's container is its own business
        assert elsewhere.id in ids  # so is another workspace's
        here = client.containers.list(all=True, filters={"label": f"{LABEL_WORKSPACE}={root}"})
        assert [c.id for c in here] == [live.id]  # its own command's container removed too
    finally:
        for c in (orphan, live, elsewhere):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        client.close()
