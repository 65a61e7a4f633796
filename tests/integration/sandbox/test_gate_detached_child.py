"""A gate whose command leaves a detached child (setsid) holding its output pipe: the gate
ends when the command exits (not when the child does), passes, and the process exits without
`Event loop is closed`. Run in a fresh interpreter, as `crew run` runs a gate."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    import crew.tools.sandbox.local as local
    from crew.run.gates import run_gate
    from crew.spec.models import AcceptanceCommand
    from crew.tools.sandbox import SandboxLimits

    if sys.argv[2] == "plain":  # a machine without a writable cgroup or namespaces
        local.make_cgroup = lambda limits: None
    sandbox = local.LocalSandbox(SandboxLimits(), warn=False,
                                 namespaces=None if sys.argv[2] == "ns" else False)
    cmd = AcceptanceCommand(
        run="setsid sh -c 'echo $$ > child.pid; exec sleep 60' & echo started", timeout=40)

    async def main() -> None:
        res = await run_gate(sandbox, Path(sys.argv[1]), cmd, 1)
        print("RESULT", res.passed, res.exit_code, res.output.strip())

    asyncio.run(main())
""")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["plain", "ns"])
def test_gate_with_detached_child_ends_cleanly(tmp_path: Path, mode: str) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    try:
        proc = subprocess.run([sys.executable, "-X", "dev", "-c", SCRIPT, str(ws), mode],
                              capture_output=True, text=True, timeout=35,
                              env={**os.environ, "PYTHONASYNCIODEBUG": "0"})
    finally:
        pid_file = ws / "child.pid"
        if pid_file.exists() and pid_file.read_text().strip():
            with contextlib.suppress(ProcessLookupError):  # killed with its group/namespace
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert proc.returncode == 0, proc.stderr
    assert "RESULT True 0 started" in proc.stdout, proc.stdout + proc.stderr
    assert "Event loop is closed" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "ResourceWarning" not in proc.stderr
