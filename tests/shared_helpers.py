"""Helpers for every test folder (`from shared_helpers import …`: pyproject puts tests/ on
pytest's pythonpath, so the import works whichever folders pytest collects). Not a conftest:
several folders have one, and `from conftest import` picks whichever was imported first."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crew.llm import LLM, Budget


def recording_sandbox(timeout_s: float) -> Any:
    """The real local backend (plain subprocesses) with `timeout_s`, noting in `.timeouts` the
    timeout each command was given."""
    from crew.tools.sandbox import SandboxLimits, SandboxResult
    from crew.tools.sandbox.base import Command
    from crew.tools.sandbox.local import LocalSandbox

    class Recording(LocalSandbox):
        timeouts: list[float]

        async def run(self, cmd: Command, *, workspace: Path, cwd: str = ".",
                      timeout: float = 120.0, env: Mapping[str, str] | None = None,
                      read_only: Sequence[str] = (), hidden: Sequence[str] = ()
                      ) -> SandboxResult:
            self.timeouts.append(timeout)
            return await super().run(cmd, workspace=workspace, cwd=cwd, timeout=timeout,
                                     env=env, read_only=read_only, hidden=hidden)

    sandbox = Recording(SandboxLimits(timeout_s=timeout_s), warn=False, namespaces=False)
    sandbox.timeouts = []
    return sandbox


def git(repo: Path, *args: str) -> str:
    """`git -C repo ARGS`'s stdout, stripped; a failing command raises."""
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def committed_repo(path: Path, files: Mapping[str, str] | None = None) -> Path:
    """A git repo at `path` on branch main with one commit of `files` (default: app.py)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for rel, text in (files or {"app.py": "VALUE = 1\n"}).items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return path


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except FileNotFoundError:  # reaped between the two looks
        return False


def free_port() -> int:
    """A loopback TCP port nobody listens on (free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    """Poll `cond` every 0.1 s until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def replay_llm(base_dir: Path, answers: list[dict[str, Any]], aliases: tuple[str, ...],
               budget: Budget | None = None, model_info: dict[str, Any] | None = None) -> LLM:
    """crew's LLM over the real LiteLLM Router, every alias the replay provider reading
    `answers` (written to base_dir/script.yaml); no Router retries."""
    import yaml

    from crew.llm import LLM
    from crew.spec.models import ModelsConfig

    script = base_dir / "script.yaml"
    script.write_text(yaml.safe_dump({"answers": answers}))
    deps = [{"model_name": n, "litellm_params": {"model": "replay/demo",
                                                 "replay_script": str(script)},
             **({"model_info": model_info} if model_info else {})}
            for n in aliases]
    cfg = ModelsConfig.model_validate({"model_list": deps,
                                       "router_settings": {"num_retries": 0}})
    return LLM(cfg, budget=budget, base_dir=base_dir)


@contextmanager
def litellm_globals_restored() -> Iterator[None]:
    """Put back the litellm module settings a config changed (a config's litellm_settings are
    process-wide, as in the proxy) and quiet its loggers again."""
    from crew.llm._litellm import LITELLM_LOGGERS, load_litellm

    lt = load_litellm()
    before = dict(vars(lt))
    yield
    for key, value in before.items():
        if vars(lt).get(key) is not value:
            setattr(lt, key, value)
    for name in LITELLM_LOGGERS:  # a config's set_verbose must not slow the next tests
        logging.getLogger(name).setLevel(logging.CRITICAL)


class CliResult:
    """What a `crew` command line left: exit code, stdout and stderr (as a subprocess's)."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr

    def __repr__(self) -> str:
        return (f"CliResult(args={self.args!r}, returncode={self.returncode}, "
                f"stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})")


def _stdin(input: str | None) -> io.TextIOWrapper:
    """`input` on a pipe that then ends (as subprocess.run(input=...) gives it), else
    /dev/null (no terminal, nothing to read)."""
    if input is None:
        return open(os.devnull, encoding="utf-8")
    r, w = os.pipe()
    with os.fdopen(w, "w", encoding="utf-8") as f:
        f.write(input)  # test answers: far below a pipe's 64 KiB buffer
    return os.fdopen(r, encoding="utf-8")


def crew_in_process(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                    input: str | None = None) -> CliResult:
    """`crew ARGS` through `crew.cli.app.main`, the function `python -m crew` runs, in this
    process: for tests where the process boundary is not what is tested (it saves a child's
    ~3 s litellm import). `cwd`, the whole environment `env` (default: this one), sys.argv,
    stdin (`input` on a pipe, else /dev/null), stdout and stderr are the command's for the
    call, restored after. Whole-process behaviour (kill, exit timing, pty, import cost) stays
    in subprocess tests."""
    from crew.cli.app import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_std = sys.argv, sys.stdin, sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with _stdin(input) as stdin:
        try:
            if env is not None:
                os.environ.clear()
                os.environ.update(env)
            if cwd is not None:
                os.chdir(cwd)
            sys.argv = ["crew", *args]
            sys.stdin, sys.stdout, sys.stderr = stdin, out, err
            main()
        except SystemExit as e:
            code = e.code
        finally:
            sys.argv, sys.stdin, sys.stdout, sys.stderr = saved_std
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
    if isinstance(code, str):  # what sys.exit prints
        err.write(code + "\n")
        code = 1
    return CliResult(["crew", *args], code or 0, out.getvalue(), err.getvalue())
