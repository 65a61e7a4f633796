"""search_code: a regex search over the workspace, with ripgrep when present, else Python."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from crew.tools.base import ToolContext, ToolError, tool
from crew.tools.fs import SKIP_DIRS
from crew.tools.paths import PathPolicy


class SearchCodeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: str = Field(min_length=1, description="Regular expression (Python/ripgrep syntax).")
    path: str = Field(".", description="File or directory to search, relative to the workspace.")
    glob: str | None = Field(None, description="Only files matching this glob, e.g. '*.py'.")
    ignore_case: bool = False
    max_results: int = Field(100, ge=1, le=1000)


def _python_search(
    policy: PathPolicy, base: Path, rx: re.Pattern[str], glob: str | None, limit: int
) -> tuple[list[str], bool]:
    hits: list[str] = []
    files = [base] if base.is_file() else _walk(policy, base)
    for f in files:
        if glob and not f.match(glob):
            continue
        try:
            if f.stat().st_size > 2_000_000:
                continue
            data = f.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if rx.search(line):
                if len(hits) >= limit:
                    return hits, True
                hits.append(f"{policy.relative(f)}:{n}:{line[:300]}")
    return hits, False


def _walk(policy: PathPolicy, base: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS and not policy.protected_match(policy.relative(here / d))
        )
        for name in sorted(filenames):
            f = here / name
            if f.is_symlink() or policy.protected_match(policy.relative(f)):
                continue
            out.append(f)
    return out


async def _rg_search(
    rg: str, policy: PathPolicy, base: Path, args: SearchCodeArgs
) -> tuple[list[str], bool]:
    cmd = [rg, "--line-number", "--no-heading", "--color", "never", "--hidden",
           "--max-columns", "300", "--max-filesize", "2M"]
    for pat in policy.protected:  # gitignore-style: a name without '/' matches at any depth
        cmd += ["--glob", f"!{pat}"]
    for d in SKIP_DIRS:
        cmd += ["--glob", f"!{d}/"]
    if args.glob:
        cmd += ["--glob", args.glob]
    if args.ignore_case:
        cmd.append("--ignore-case")
    target = policy.relative(base)
    cmd += ["--regexp", args.pattern, "--", target]
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=policy.root, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await proc.communicate()
    if proc.returncode not in (0, 1):
        raise ToolError(f"search failed: {err.decode(errors='replace').strip()[:500]}")
    lines = out.decode("utf-8", "replace").splitlines()
    hits = [line[2:] if line.startswith("./") else line for line in lines]
    return hits[: args.max_results], len(hits) > args.max_results


@tool(args=SearchCodeArgs)
async def search_code(ctx: ToolContext, args: SearchCodeArgs) -> str:
    """Search file contents with a regular expression. Returns 'path:line:text' matches."""
    policy = ctx.policy
    base = policy.resolve(args.path) if args.path not in (".", "", "./") else policy.root
    if not base.exists():
        raise ToolError(f"{args.path} does not exist")
    try:
        rx = re.compile(args.pattern, re.IGNORECASE if args.ignore_case else 0)
    except re.error as e:
        raise ToolError(f"invalid regular expression {args.pattern!r}: {e}") from e
    rg = shutil.which("rg")
    if rg:
        hits, more = await _rg_search(rg, policy, base, args)
    else:
        hits, more = await asyncio.to_thread(
            _python_search, policy, base, rx, args.glob, args.max_results
        )
    if not hits:
        return f"no matches for {args.pattern!r}"
    if more:
        hits.append(f"[... more than {args.max_results} matches; narrow the pattern or path]")
    return "\n".join(hits)
