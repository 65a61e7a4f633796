"""Read-only git tools over the workspace: git_status and git_diff (the git CLI)."""

from __future__ import annotations

import asyncio
import os
import shutil

from pydantic import BaseModel, ConfigDict, Field

from crew.tools.base import ToolContext, ToolError, tool
from crew.workspace.git import GIT_OPTIONS, driver_options

# No pager, no colour, no hooks, fsmonitor, editors, filter/textconv/merge drivers or external
# diff programs: nothing from a repository's config gets to run a program on the host.
_SAFE = ["-c", "color.ui=false", *GIT_OPTIONS, "--no-pager"]


async def git(ctx: ToolContext, *args: str, timeout: float = 60) -> str:
    exe = shutil.which("git")
    if not exe:
        raise ToolError("git is not installed")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    drivers = await asyncio.to_thread(driver_options, ctx.policy.root, exe)
    if args and args[0] in ("diff", "show", "log"):
        args = (args[0], "--no-ext-diff", *args[1:])
    proc = await asyncio.create_subprocess_exec(
        exe, *_SAFE, *drivers, *args, cwd=ctx.policy.root, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError as e:
        proc.kill()
        await proc.wait()
        raise ToolError(f"git {args[0]} timed out") from e
    if proc.returncode != 0:
        msg = err.decode("utf-8", "replace").strip()
        if "not a git repository" in msg:
            raise ToolError("the workspace is not a git repository")
        raise ToolError(f"git {args[0]} failed: {msg[:1000]}")
    return out.decode("utf-8", "replace")


class GitStatusArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@tool(args=GitStatusArgs)
async def git_status(ctx: ToolContext, args: GitStatusArgs) -> str:
    """Show the branch and the changed, staged and untracked files (git status --short)."""
    out = await git(ctx, "status", "--short", "--branch", "--untracked-files=all")
    return out.rstrip() or "(clean)"


class GitDiffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, description="Limit to this file or directory.")
    staged: bool = Field(False, description="Only the staged changes (against HEAD).")
    base: str | None = Field(
        None, description="Compare with this commit or branch instead of the task's start."
    )
    stat: bool = Field(False, description="Only a summary of changed files and line counts.")


@tool(args=GitDiffArgs)
async def git_diff(ctx: ToolContext, args: GitDiffArgs) -> str:
    """Show the task's whole change as a unified diff: everything since the task started
    (committed or not, new files included), or against a base commit, or only the staged."""
    paths = [ctx.policy.relative(ctx.policy.resolve(args.path))] if args.path else []
    if args.staged:
        stat = ["--stat"] if args.stat else []
        out = await git(ctx, "diff", "--no-ext-diff", "--no-textconv", "--cached", *stat, "--",
                        *paths)
        return out.rstrip() or "(no changes)"
    base = args.base or ctx.diff_base or "HEAD"
    if base.startswith("-"):
        raise ToolError(f"invalid base {base!r}")
    from crew.workspace.changes import full_diff
    from crew.workspace.git import WorkspaceError

    try:
        out, hidden = await asyncio.to_thread(full_diff, ctx.policy.root, base, paths,
                                              stat=args.stat, hidden=ctx.policy.protected_match)
    except WorkspaceError as e:
        raise ToolError(f"git diff failed: {str(e)[-800:]}") from None
    note = f"\n(protected, not shown: {', '.join(hidden)})" if hidden else ""
    return (out.rstrip() or "(no changes)") + note
