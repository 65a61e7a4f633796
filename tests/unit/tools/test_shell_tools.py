"""run_command and run_tests through a real (local) sandbox, and pytest summary parsing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from crew.llm.types import ToolCall
from crew.tools import OutcomeStatus, ToolContext, ToolOutcome, ToolRegistry
from crew.tools.sandbox.local import LocalSandbox
from crew.tools.shell import parse_pytest


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("==== 3 passed, 1 failed, 2 skipped in 0.12s ====",
         {"passed": 3, "failed": 1, "errors": 0, "skipped": 2}),
        ("1 failed, 1 error in 1.02s", {"passed": 0, "failed": 1, "errors": 1, "skipped": 0}),
        ("5 passed, 2 warnings in 3.40s",
         {"passed": 5, "failed": 0, "errors": 0, "skipped": 0, "warnings": 2}),
        ("===== no tests ran in 0.01s =====", {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}),
        ("2 passed, 1 xfailed, 1 deselected in 0.5s",
         {"passed": 2, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 1, "deselected": 1}),
        ("make: *** [test] Error 1", None),
    ],
)
def test_parse_pytest(line: str, expected: dict[str, int] | None) -> None:
    assert parse_pytest(f"collected stuff\n{line}\n") == expected


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ToolContext(
        ws, sandbox=LocalSandbox(warn=False), test_command=f"{sys.executable} -m pytest -q -p no:cacheprovider",
        command_timeout=30,
    )


async def run(ctx: ToolContext, name: str, **args: Any) -> ToolOutcome:
    return await ToolRegistry.builtin().invoke(ToolCall("c", name, json.dumps(args)), ctx)


async def test_run_command_reports_exit_code_and_streams(ctx: ToolContext) -> None:
    (ctx.workspace / "sub").mkdir()
    out = await run(ctx, "run_command", command="echo out; echo err >&2; pwd; exit 3", cwd="sub")
    assert out.status is OutcomeStatus.OK  # a failing command is a result, not a tool error
    assert out.output.startswith("exit code 3 (")
    assert "[stdout]\nout\n" in out.output and out.output.rstrip().endswith("[stderr]\nerr")
    assert str(ctx.workspace / "sub") in out.output
    assert out.data == {"exit_code": 3, "timed_out": False, "backend": "local"}


async def test_run_command_timeout_is_capped_by_the_context(ctx: ToolContext) -> None:
    ctx.command_timeout = 1
    out = await run(ctx, "run_command", command="sleep 20", timeout=600)
    assert out.is_error and out.output.startswith("timed out after 1s")


async def test_run_command_refuses_a_cwd_outside(ctx: ToolContext) -> None:
    out = await run(ctx, "run_command", command="ls", cwd="../..")
    assert out.is_error and "outside the workspace" in out.output


async def test_run_command_without_sandbox(tmp_path: Path) -> None:
    out = await ToolRegistry.builtin().invoke(
        ToolCall("c", "run_command", '{"command": "true"}'), ToolContext(tmp_path)
    )
    assert out.is_error and "no sandbox is configured" in out.output


@pytest.mark.slow
async def test_run_tests_counts_pass_and_fail(ctx: ToolContext) -> None:
    (ctx.workspace / "test_demo.py").write_text(
        "def test_ok():\n    assert 1\n\ndef test_ok2():\n    assert 2\n\n"
        "def test_bad():\n    assert 1 == 2\n"
    )
    out = await run(ctx, "run_tests")
    assert out.output.startswith("tests FAILED: 2 passed, 1 failed")
    assert out.data is not None
    assert out.data["tests_pass"] is False and out.data["exit_code"] == 1
    assert out.data["counts"] == {"passed": 2, "failed": 1, "errors": 0, "skipped": 0}
    only = await run(ctx, "run_tests", args="-k ok")
    assert only.output.startswith("tests PASSED: 2 passed, 1 deselected")
    assert only.data is not None and only.data["tests_pass"] is True


@pytest.mark.slow
async def test_run_tests_with_no_tests(ctx: ToolContext) -> None:
    out = await run(ctx, "run_tests")
    assert out.output.startswith("tests FAILED: no tests ran (no tests collected)")
