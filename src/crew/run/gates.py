"""Acceptance gates: the feature's commands, run in the sandbox on the integration worktree,
and the fix task a failing gate turns into (the crew's `defaults.fix`: roles, pattern, rounds;
by default coder + tester in a review loop, twice)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from crew.errors import InfrastructureError
from crew.run.state import GateResult, PlannedTask

if TYPE_CHECKING:
    from crew.spec.models import AcceptanceCommand
    from crew.spec.resolve import ResolvedFeature
    from crew.tools.sandbox.base import SandboxBackend

OUTPUT_TAIL = 3000


def _tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


async def run_gate(sandbox: SandboxBackend, workdir: Path, cmd: AcceptanceCommand,
                   attempt: int) -> GateResult:
    """One acceptance command. A sandbox that cannot start (InfrastructureError) is raised: the
    run stops, resumable, rather than a fix task asking a model about the machine; any other
    exception from the backend is a failed gate."""
    started = time.monotonic()
    name = cmd.name or cmd.run
    try:
        res = await sandbox.run(cmd.run, workspace=workdir, timeout=float(cmd.timeout))
    except InfrastructureError:
        raise
    except Exception as e:
        return GateResult(name=name, command=cmd.run, exit_code=-1, passed=False,
                          output=f"{type(e).__name__}: {e}",
                          duration_s=time.monotonic() - started, attempt=attempt)
    output = (res.stdout + ("\n" + res.stderr if res.stderr.strip() else ""))
    if res.exit_code in (126, 127) and not res.timed_out:
        raise GateCommandNotRunnable(cmd.run, res.exit_code, _tail(output, 600))
    if res.timed_out:
        output += f"\n[timed out after {cmd.timeout}s]"
    return GateResult(name=name, command=cmd.run, exit_code=res.exit_code, passed=res.ok,
                      output=_tail(output), duration_s=res.duration_s, attempt=attempt)


class GateCommandNotRunnable(InfrastructureError):
    """A gate exited 126 (found, not executable) or 127 (not found): the machine lacks
    something, which no code change fixes. The run stops resumable (status `error`, exit 1)
    instead of paying a fix round; `crew resume` runs the gates again after the fix."""

    def __init__(self, command: str, exit_code: int, output: str) -> None:
        what = "was not found" if exit_code == 127 else "could not be executed"
        super().__init__(
            f"gate `{command}` exited {exit_code}: a program it runs {what} in the sandbox "
            f"({output.strip() or 'no output'}); install it where the sandbox sees it or fix "
            "the command, then `crew resume`")


def fix_task(resolved: ResolvedFeature, failed: list[GateResult], n: int) -> PlannedTask:
    """The task that fixes failing gates: the crew's `defaults.fix` roles and pattern; unset,
    a review loop of coder and tester when the crew has them, else its default pattern."""
    crew = resolved.crew.spec
    settings = crew.defaults.fix
    pattern = settings.pattern or next(
        (p for p in crew.patterns if resolved.patterns[p].spec.kind == "review_loop"),
        crew.defaults.pattern)
    kind = resolved.patterns[pattern].spec.kind
    if settings.roles is not None:
        roles = list(settings.roles)
    else:
        roles = [r for r in ("coder", "tester", "reviewer") if r in crew.members]
        roles = roles[:1] if kind != "review_loop" else roles[:2]
    report = "\n\n".join(f"### `{g.command}` exited {g.exit_code}\n```\n{g.output}\n```"
                         for g in failed)
    return PlannedTask(
        id=f"fix-gates-{n}", title="Make the acceptance gates pass",
        description=("The feature's acceptance commands fail on the integrated branch. Find the "
                     "cause, fix the code (or the tests, if they are wrong), and run them again."
                     f"\n\n{report}"),
        pattern=pattern, roles=roles or list(crew.members[:1]),
        acceptance=[g.command for g in failed], kind="gate_fix")
