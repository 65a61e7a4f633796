"""Are the programs a run's commands call there, inside the sandbox? Checked before anything
exists (acceptance gates, the test command, setup commands): one sandboxed `command -v` per
program (and an `import` per `python -m MODULE`), so a missing program is exit 2 naming the
program, the PATH it was looked for in and the fix — not a gate failing with exit 127 and a
model paid to "fix" it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import shlex
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from crew.tools.sandbox.base import SandboxBackend

T = TypeVar("T")
CHECK_TIMEOUT_S = 60.0
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^python(?:[0-9.]*)$")
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "|&", "!", "{", "}"})
_REDIRECTS = frozenset({">", ">>", "<", "<<", "<<<", ">&", "<&", ">|", "&>", "&>>"})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                       "for", "in", "case", "esac", "function", "time", "nohup", "exec"})
# shell builtins: always there, nothing to look for
_BUILTINS = frozenset({"cd", "echo", "export", "set", "unset", "true", "false", "test", "[",
                       ":", ".", "source", "printf", "read", "shift", "trap", "wait", "umask",
                       "ulimit", "eval", "exit", "return", "alias", "type", "pwd", "local",
                       "command", "hash", "break", "continue", "getopts", "kill"})


@dataclass(frozen=True)
class Needed:
    """A program a command calls, and the Python module it runs with `-m` (if any)."""

    program: str
    module: str | None = None


@dataclass(frozen=True)
class Missing:
    """A command's program (or module) the sandbox does not have."""

    command: str
    program: str
    module: str | None
    path: str  # PATH inside the sandbox

    def describe(self, backend: str) -> str:
        if self.module:
            return (f"`{self.command}`: Python module {self.module!r} is not importable by "
                    f"{self.program!r} inside the {backend} sandbox (PATH={self.path})")
        return (f"`{self.command}`: program {self.program!r} was not found inside the "
                f"{backend} sandbox (looked for in PATH={self.path})")

    def hint(self) -> str:
        what = f"install {self.module!r} for that interpreter" if self.module else \
            f"install {self.program!r}"
        return (f"{what} where the sandbox sees it (a system directory, the active "
                "virtualenv or the repository's .venv), call it by a path the sandbox mounts, "
                "or change the command")


def programs_of(command: str) -> list[Needed]:
    """The programs a shell command runs (first word of each simple command, after variable
    assignments and `env`; builtins, keywords, `$VAR` words and relative paths after a `cd`
    are not checked). A command shlex cannot split gives none: the shell will say."""
    try:
        lex = shlex.shlex(command, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        tokens = list(lex)
    except ValueError:
        return []
    found: list[Needed] = []
    start, skip_next, moved, after_env = True, False, False, False
    words: list[str] = []

    def close() -> None:
        nonlocal moved
        if not words:
            return
        prog, rest = words[0], words[1:]
        if prog == "cd":
            moved = True
        if prog in _BUILTINS or any(c in prog for c in "$`*?[") or prog.startswith("-"):
            return
        if moved and "/" in prog and not prog.startswith("/"):
            return
        module = None
        if _PYTHON.match(prog.rsplit("/", 1)[-1]) and len(rest) >= 2 and rest[0] == "-m":
            module = rest[1]
        found.append(Needed(prog, module))

    skip_until: str | None = None  # `for NAME in ...; do`, `case WORD in`: not commands
    case_depth = 0  # inside `case ... esac`: after `;;` come patterns up to `)`
    for tok in tokens:
        if skip_next:
            skip_next = False
            continue
        if skip_until is not None:
            if tok == skip_until or tok == "esac":
                case_depth -= tok == "esac"
                skip_until, start = None, True
                if tok == "in":  # `case WORD in`: the first pattern follows
                    skip_until = ")"
            continue
        if start and tok in ("for", "select"):
            skip_until = "do"
            continue
        if start and tok == "case":
            skip_until, case_depth = "in", case_depth + 1
            continue
        if tok == ";;" and case_depth:
            close()
            words, start, after_env = [], True, False
            skip_until = ")"
            continue
        if start and tok == "esac" and case_depth:
            case_depth -= 1
            continue
        if tok in _OPERATORS:
            close()
            words, start, after_env = [], True, False
            continue
        if tok in _REDIRECTS or (tok[:1].isdigit() and tok[1:] in _REDIRECTS):
            skip_next = True
            continue
        if start and (_ASSIGNMENT.match(tok) or tok in _KEYWORDS):
            continue
        if start and tok == "env":
            after_env = True
            continue
        if start and after_env and tok.startswith("-"):
            continue
        start = False
        words.append(tok)
    close()
    return list(dict.fromkeys(found))


def _script(needed: Sequence[Needed]) -> str:
    lines = ['printf "PATH\\t%s\\n" "$PATH"']
    for n in needed:
        q = shlex.quote(n.program)
        lines.append(f"command -v {q} >/dev/null 2>&1 || printf 'missing\\t%s\\n' {q}")
        if n.module:
            m = shlex.quote(n.module)
            code = shlex.quote(f"import importlib.util,sys; sys.exit(importlib.util."
                               f"find_spec({n.module!r}) is None)")
            lines.append(f"command -v {q} >/dev/null 2>&1 && {{ {q} -c {code} >/dev/null 2>&1 "
                         f"|| printf 'nomodule\\t%s\\t%s\\n' {q} {m}; }}")
    lines.append("exit 0")
    return "\n".join(lines)


async def find_missing(sandbox: SandboxBackend, workdir: Path, commands: Sequence[str], *,
                       made_by_setup: bool = False) -> list[Missing]:
    """Each command's programs (and `python -m` modules) the sandbox cannot find, checked
    with one sandboxed shell in `workdir`. `made_by_setup`: setup commands will run first, so
    programs inside the workspace (relative paths) and modules are not checked. A sandbox that
    cannot start raises as it would in the run (crew.errors.InfrastructureError)."""
    per_command = [(c, [Needed(n.program) if made_by_setup else n for n in programs_of(c)
                        if not (made_by_setup and _in_workspace(n.program))])
                   for c in commands]
    needed = list(dict.fromkeys(n for _, ns in per_command for n in ns))
    if not needed:
        return []
    res = await sandbox.run(_script(needed), workspace=workdir, timeout=CHECK_TIMEOUT_S)
    path, gone, no_module = "", set(), set()
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "PATH" and len(parts) == 2:
            path = parts[1]
        elif parts[0] == "missing" and len(parts) == 2:
            gone.add(parts[1])
        elif parts[0] == "nomodule" and len(parts) == 3:
            no_module.add((parts[1], parts[2]))
    if not path and not res.ok:  # the check itself did not run: say nothing rather than guess
        return []
    out: list[Missing] = []
    for command, ns in per_command:
        for n in ns:
            if n.program in gone:
                out.append(Missing(command, n.program, None, path))
            elif n.module and (n.program, n.module) in no_module:
                out.append(Missing(command, n.program, n.module, path))
    return out


def _in_workspace(program: str) -> bool:
    return "/" in program and not program.startswith("/")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code, also when an event loop is running
    in this thread (then in a worker thread with its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
