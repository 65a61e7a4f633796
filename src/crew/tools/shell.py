"""Commands in the sandbox: run_command, and run_tests (which reads pytest's pass/fail counts)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crew.tools.base import ToolContext, ToolOutput, tool
from crew.tools.sandbox.base import SandboxResult, cap_text

_COUNT = re.compile(
    r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)"
)
_SUMMARY = re.compile(r"\bin \d+(?:\.\d+)?s\b")
PYTEST_EXIT = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}


def parse_pytest(output: str) -> dict[str, int] | None:
    """Counts from pytest's final summary line ('3 passed, 1 failed in 0.12s'), or None."""
    for line in reversed(output.splitlines()):
        if not _SUMMARY.search(line):
            continue
        counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        found = False
        for n, kind in _COUNT.findall(line):
            key = {"error": "errors", "warning": "warnings"}.get(kind, kind)
            counts[key] = counts.get(key, 0) + int(n)
            found = True
        if found or "no tests ran" in line:
            return counts
    return None


def format_result(res: SandboxResult, timeout: float, limit: int) -> str:
    head = (
        f"timed out after {timeout:g}s; the command was killed"
        if res.timed_out
        else f"exit code {res.exit_code}"
    )
    parts = [f"{head} ({res.duration_s:.1f}s)"]
    if res.stdout.strip():
        parts.append(f"[stdout]\n{res.stdout.rstrip()}")
    if res.stderr.strip():
        parts.append(f"[stderr]\n{res.stderr.rstrip()}")
    return cap_text("\n".join(parts), limit)[0]


async def _run(ctx: ToolContext, command: str, cwd: str, timeout: float | None) -> tuple[
    SandboxResult, float
]:
    sandbox = ctx.require_sandbox()
    policy = ctx.policy
    rel_cwd = policy.relative(policy.resolve(cwd, what="cwd")) if cwd not in ("", ".") else "."
    limit = min(timeout or ctx.command_timeout, ctx.command_timeout)
    # the backend masks its own protected paths; the tool adds its policy's when they differ
    same = tuple(getattr(sandbox, "protected", ())) == policy.protected
    read_only, hidden = ([], []) if same else policy.sandbox_masks()
    res = await sandbox.run(
        command, workspace=policy.root, cwd=rel_cwd, timeout=limit, env=ctx.env,
        read_only=read_only, hidden=hidden,
    )
    return res, limit


class RunCommandArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = Field(min_length=1, description="A shell command (run with /bin/sh -c).")
    cwd: str = Field(".", description="Working directory relative to the workspace root.")
    timeout: float | None = Field(None, gt=0, description="Seconds (capped by the crew's limit).")


@tool(args=RunCommandArgs)
async def run_command(ctx: ToolContext, args: RunCommandArgs) -> ToolOutput:
    """Run a shell command in the sandbox (workspace is the only writable place, no network).
    Returns the exit code, stdout and stderr."""
    res, limit = await _run(ctx, args.command, args.cwd, args.timeout)
    data: dict[str, Any] = {
        "exit_code": res.exit_code, "timed_out": res.timed_out, "backend": res.backend,
    }
    return ToolOutput(format_result(res, limit, ctx.output_chars), data, is_error=res.timed_out)


class RunTestsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    args: str = Field("", description="Extra arguments, e.g. a test path or '-k name'.")
    command: str | None = Field(None, description="Override the test command (default: pytest).")


@tool(args=RunTestsArgs)
async def run_tests(ctx: ToolContext, args: RunTestsArgs) -> ToolOutput:
    """Run the test suite in the sandbox and report pass/fail counts and the output."""
    command = (args.command or ctx.test_command).strip()
    if args.args.strip():
        command = f"{command} {args.args.strip()}"
    res, limit = await _run(ctx, command, ".", None)
    counts = parse_pytest(res.stdout + "\n" + res.stderr)
    passed = res.ok
    data: dict[str, Any] = {
        "exit_code": res.exit_code, "timed_out": res.timed_out, "tests_pass": passed,
        "counts": counts, "command": command,
    }
    if res.timed_out:
        verdict = f"tests timed out after {limit:g}s"
    elif counts is not None:
        shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no tests ran"
        verdict = f"tests {'PASSED' if passed else 'FAILED'}: {shown}"
    else:
        verdict = f"tests {'PASSED' if passed else 'FAILED'}"
    if res.exit_code in PYTEST_EXIT and counts is not None:
        verdict += f" ({PYTEST_EXIT[res.exit_code]})"
    body = format_result(res, limit, ctx.output_chars)
    return ToolOutput(f"{verdict}\n{body}", data, is_error=res.timed_out)
