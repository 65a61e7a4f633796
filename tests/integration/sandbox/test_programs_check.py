"""Issue 24: the programs a run's commands call are looked for inside the sandbox itself
(real backends), before anything exists."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sandbox_support import ALL, require_backend

from crew.run.programs import find_missing


@pytest.mark.parametrize("name", ALL)
async def test_missing_programs_and_modules_are_named_with_the_sandbox_path(
        name: str, workspace: Path) -> None:
    sb = require_backend(name)
    tool = workspace / "bin" / "check-it"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    commands = ["sh -c true && bin/check-it", "no-such-program-xyz --flag",
                "python3 -m no_such_module_xyz -q", "python3 -m json.tool --help",
                "cd sub && ./not-checked"]
    missing = await find_missing(sb, workspace, commands)
    assert [(m.command, m.program, m.module) for m in missing] == [
        ("no-such-program-xyz --flag", "no-such-program-xyz", None),
        ("python3 -m no_such_module_xyz -q", "python3", "no_such_module_xyz")]
    assert all("/usr/bin" in m.path for m in missing)
    text = missing[0].describe(sb.name)
    assert f"program 'no-such-program-xyz' was not found inside the {sb.name} sandbox " \
        "(looked for in PATH=" in text
    assert "install 'no-such-program-xyz' where the sandbox sees it" in missing[0].hint()
