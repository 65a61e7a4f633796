"""`crew run --approve-plan` in a real terminal (a pseudo-terminal): the live view steps aside,
the plan and the question are on the screen, and the answer decides."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from e2e_helpers import crew_env, git, only_run, state_of

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
QUESTION = "Run this plan? [y]es / [n]o / [e]dit"


def _read_until(fd: int, proc: subprocess.Popen[bytes], needle: str | None,
                limit_s: float = 600) -> str:
    """What the terminal shows until `needle` appears (None: until the process exits).
    The limit only stops a hung test; nothing is timed."""
    seen = b""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if needle is not None and needle in ANSI.sub("", seen.decode(errors="replace")):
            break
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None and needle is None:
            break
    return ANSI.sub("", seen.decode(errors="replace"))


def test_the_plan_question_is_visible_and_no_rejects_the_plan(demo: Path) -> None:
    repo = demo.parent / "project"
    main_before = git(repo, "rev-parse", "main")
    leader, follower = pty.openpty()
    env = {**crew_env(), "COLUMNS": "120", "LINES": "40", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "crew", "run", str(demo), "--no-trace",
                             "--approve-plan"], stdin=follower, stdout=follower,
                            stderr=follower, env=env, close_fds=True)
    os.close(follower)
    try:
        screen = _read_until(leader, proc, QUESTION)
        assert QUESTION in screen, screen[-3000:]
        assert "export-csv" in screen and "threat-model" in screen  # the plan is shown
        os.write(leader, b"n\r")
        screen += _read_until(leader, proc, None)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert code == 5, screen[-3000:]
    run_dir = only_run(repo)
    state = state_of(run_dir)
    assert state["status"] == "rejected"
    assert all(t["status"] == "pending" for t in state["tasks"].values())
    assert "plan rejected" in screen and "git merge" not in screen
    report = (run_dir / "report.md").read_text()
    assert "No gate ran (the plan was rejected)." in report
    assert "no acceptance commands" not in report
    assert git(repo, "rev-parse", "main") == main_before
