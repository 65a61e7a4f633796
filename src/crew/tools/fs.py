"""File tools confined to the workspace: read_file, write_file, edit_file, list_files."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from crew.tools.base import ToolContext, ToolError, tool
from crew.tools.sandbox.base import cap_text

MAX_READ_BYTES = 2_000_000
SKIP_DIRS = frozenset(
    {"__pycache__", "node_modules", ".venv", "venv", ".mypy_cache", ".pytest_cache",
     ".ruff_cache", ".tox", "dist", "build", ".idea", ".vscode"}
)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _read_text(path: Path, shown: str) -> str:
    if not path.exists():
        raise ToolError(f"{shown} does not exist")
    if path.is_dir():
        raise ToolError(f"{shown} is a directory; use list_files")
    if path.stat().st_size > MAX_READ_BYTES:
        raise ToolError(f"{shown} is larger than {MAX_READ_BYTES} bytes")
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise ToolError(f"{shown} is a binary file")
    return data.decode("utf-8", "replace")


def _refuse_secrets(text: str, shown: str) -> None:
    """ToolError when `text` holds a known secret value or a key shape."""
    from crew.observability.redact import find_secrets

    found = find_secrets(text)
    if found:
        raise ToolError(
            f"refused to write {shown}: the content holds a secret ({', '.join(found)}). "
            "Never put keys in files: read them from the environment at run time "
            "(e.g. os.environ['OPENAI_API_KEY'])"
        )


class ReadFileArgs(_Args):
    path: str = Field(description="File path relative to the workspace root.")
    start_line: int = Field(1, ge=1, description="First line to show (1-based).")
    end_line: int | None = Field(None, ge=1, description="Last line to show (inclusive).")


@tool(args=ReadFileArgs)
async def read_file(ctx: ToolContext, args: ReadFileArgs) -> str:
    """Read a text file, optionally a line range. Lines are shown numbered ('N<TAB>text')."""
    path = ctx.policy.resolve(args.path)
    lines = _read_text(path, args.path).splitlines()
    end = min(args.end_line or len(lines), len(lines))
    if args.start_line > max(len(lines), 1):
        raise ToolError(f"{args.path} has only {len(lines)} lines")
    chosen = lines[args.start_line - 1 : end]
    body = "\n".join(f"{n}\t{line}" for n, line in enumerate(chosen, args.start_line))
    if len(body) > ctx.output_chars:
        # cut at a line boundary, and say how to read the rest
        cut = body.rfind("\n", 0, ctx.output_chars)
        if cut <= 0:  # one enormous line: keep its head and tail
            return cap_text(body, ctx.output_chars)[0]
        body = body[:cut]
        last = args.start_line + body.count("\n")
        return f"{body}\n[... truncated at line {last}; read from start_line={last + 1}]"
    if not lines:
        return f"({args.path} is empty)"
    if args.start_line > 1 or end < len(lines):
        return f"{body}\n[lines {args.start_line}-{end} of {len(lines)}]"
    return body


class WriteFileArgs(_Args):
    path: str = Field(description="File path relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")


@tool(args=WriteFileArgs)
async def write_file(ctx: ToolContext, args: WriteFileArgs) -> str:
    """Create or overwrite a file with the given content (parent directories are created)."""
    path = ctx.policy.resolve(args.path)
    if path.is_dir():
        raise ToolError(f"{args.path} is a directory")
    _refuse_secrets(args.content, args.path)
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    # resolve again: a directory created above cannot be a symlink, but re-check anyway
    path = ctx.policy.resolve(args.path)
    path.write_text(args.content, encoding="utf-8")
    verb = "overwrote" if existed else "created"
    return f"{verb} {args.path} ({len(args.content.encode())} bytes)"


class EditFileArgs(_Args):
    path: str = Field(description="File path relative to the workspace root.")
    old_text: str = Field(min_length=1, description="Exact text to replace, whitespace included.")
    new_text: str = Field(description="Replacement text.")
    replace_all: bool = Field(False, description="Replace every occurrence, not just one.")


@tool(args=EditFileArgs)
async def edit_file(ctx: ToolContext, args: EditFileArgs) -> str:
    """Replace an exact piece of text in a file. old_text must match exactly once unless
    replace_all is true."""
    path = ctx.policy.resolve(args.path)
    _refuse_secrets(args.new_text, args.path)
    text = _read_text(path, args.path)
    count = text.count(args.old_text)
    if count == 0:
        hint = ""
        first = args.old_text.strip().splitlines()[0].strip() if args.old_text.strip() else ""
        if first and first in text:
            line = text[: text.index(first)].count("\n") + 1
            hint = f" (its first line appears at line {line}: check indentation and whitespace)"
        raise ToolError(
            f"old_text was not found in {args.path}{hint}; read the file and copy the exact text"
        )
    if count > 1 and not args.replace_all:
        raise ToolError(
            f"old_text matches {count} places in {args.path}; include more surrounding lines "
            "to make it unique, or set replace_all to true"
        )
    new = text.replace(args.old_text, args.new_text) if args.replace_all else text.replace(
        args.old_text, args.new_text, 1
    )
    path.write_text(new, encoding="utf-8")
    return f"edited {args.path}: replaced {count if args.replace_all else 1} occurrence(s)"


class ListFilesArgs(_Args):
    path: str = Field(".", description="Directory relative to the workspace root.")
    recursive: bool = Field(True, description="Descend into subdirectories.")
    max_entries: int = Field(400, ge=1, le=5000)


@tool(args=ListFilesArgs)
async def list_files(ctx: ToolContext, args: ListFilesArgs) -> str:
    """List files under a directory (protected paths and caches such as .git and
    __pycache__ are left out). Directories end with '/'."""
    policy = ctx.policy
    base = policy.resolve(args.path) if args.path not in (".", "", "./") else policy.root
    if not base.is_dir():
        raise ToolError(f"{args.path} is not a directory")
    entries: list[str] = []
    more = False
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS and not policy.protected_match(policy.relative(here / d))
        )
        names = [f"{d}/" for d in dirnames] + sorted(filenames)
        for name in names:
            rel = policy.relative(here / name.rstrip("/"))
            if policy.protected_match(rel):
                continue
            if len(entries) >= args.max_entries:
                more = True
                break
            entries.append(rel + ("/" if name.endswith("/") else ""))
        if more or not args.recursive:
            break
    if not entries:
        return f"({args.path} is empty)"
    if more:
        entries.append("[... more entries; narrow the path or raise max_entries]")
    return "\n".join(entries)
