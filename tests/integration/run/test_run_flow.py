"""The run's flow happens once (issue 25): `crew run --plan-only` then `crew resume` as real processes
against a stub OpenAI-compatible server —

- one prewarm per process: exactly one litellm prewarm thread starts (the HTTP stage is
  loaded by the run's one LLM construction, not by a second prewarm);
- one LLM construction for a new and a resumed run: the router config's `num_retries` takes
  effect in both (every call is rate-limited twice, then answered), and the resumed run's
  ledger continues the first one's;
- one report: report.md is written once per process, after the run's end work.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.testing.stub_server import StubReply, StubServer
from shared_helpers import committed_repo

pytestmark = pytest.mark.slow  # two `crew` processes (each imports litellm)

SRC = Path(__file__).resolve().parents[3] / "src"
# runs `python -m crew ...`, then prints the names of the litellm prewarm threads it started
PROBE = """
import runpy, sys, threading
started = []
_start = threading.Thread.start
def start(self):
    started.append(self.name)
    return _start(self)
threading.Thread.start = start
import atexit
atexit.register(lambda: print("PREWARM", [n for n in started
                                          if n.startswith("crew-litellm-prewarm")],
                              file=sys.stderr))
sys.argv = ["crew", *sys.argv[1:]]
runpy.run_module("crew", run_name="__main__")
"""
IN_CLOSE_WRITE, IN_MOVED_TO = 0x08, 0x80


class _RetryTwice:
    """Rate-limits every distinct request twice, then answers it."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> StubReply:
        key = json.dumps(body.get("messages"), sort_keys=True)
        self.attempts[key] += 1
        if self.attempts[key] <= 2:
            return StubReply.rate_limited(retry_after=0)
        return StubReply.text('{"tasks": []}')  # a plan (pinned task only); a final answer


def _project(tmp_path: Path, stub: StubServer) -> Path:
    committed_repo(tmp_path / "repo")
    deployment = {"model": "openai/stub-model", "api_base": stub.url,
                  "api_key": "stub-not-a-key", "input_cost_per_token": 0,
                  "output_cost_per_token": 0}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({
        "model_list": [{"model_name": a, "litellm_params": deployment}
                       for a in ("smart", "fast")],
        "router_settings": {"num_retries": 2}}))
    (tmp_path / "feature.yaml").write_text(yaml.safe_dump({
        "title": "Flow", "goal": "Say done.", "repo": "repo", "models": "models.yaml",
        "knowledge": "off",
        "tasks": [{"id": "t1", "title": "Say done", "pattern": "single", "roles": ["coder"]}]}))
    return tmp_path / "feature.yaml"


def _crew(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = dict(os.environ, PYTHONPATH=str(SRC), LITELLM_LOCAL_MODEL_COST_MAP="True",
               XDG_STATE_HOME=str(tmp_path / "state"), LANGFUSE_TRACING_ENABLED="false")
    res = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         env=env, timeout=300, stdin=subprocess.DEVNULL, cwd=tmp_path)
    line = next((x for x in res.stderr.splitlines() if x.startswith("PREWARM ")), "PREWARM []")
    return res, list(json.loads(line.removeprefix("PREWARM ").replace("'", '"')))


@contextmanager
def _writes_of(folder: Path, name: str) -> Iterator[list[int]]:
    """Counts the completed writes of `folder/name` (a rename onto it or a closed write)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0 or libc.inotify_add_watch(fd, str(folder).encode(),
                                        IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
        pytest.skip("inotify is not available here")
    writes: list[int] = []
    try:
        yield writes
        data = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        at = 0
        while at < len(data):
            _wd, mask, _cookie, size = struct.unpack_from("iIII", data, at)
            event_name = data[at + 16:at + 16 + size].rstrip(b"\0").decode()
            if event_name == name and mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                writes.append(mask)
            at += 16 + size
    finally:
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_a_planned_then_resumed_run_prewarms_builds_its_llm_and_reports_once(
        tmp_path: Path) -> None:
    retry = _RetryTwice()
    with StubServer() as stub:
        stub.respond(retry)
        feature = _project(tmp_path, stub)
        planned, prewarm = _crew(tmp_path, "run", str(feature), "--plan-only", "--sandbox",
                                 "local", "--no-trace")
        assert planned.returncode == 0, planned.stdout[-2000:] + planned.stderr[-2000:]
        assert prewarm == ["crew-litellm-prewarm"]
        assert "plan saved; run it with `crew resume" in planned.stdout + planned.stderr
        assert retry.attempts and set(retry.attempts.values()) == {3}  # num_retries: 2
        planned_calls = len(retry.attempts)
        run_dir = next((tmp_path / "repo" / ".crew" / "runs").iterdir())
        assert not (run_dir / "report.md").exists()  # a saved plan has no report

        with _writes_of(run_dir, "report.md") as reports:
            resumed, prewarm = _crew(tmp_path, "resume", run_dir.name, "--repo",
                                     str(tmp_path / "repo"), "--sandbox", "local", "--no-trace")
        assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
        assert prewarm == ["crew-litellm-prewarm"]
        assert len(retry.attempts) > planned_calls  # the task's calls, retried as well
        assert set(retry.attempts.values()) == {3}
        assert len(reports) == 1, reports
        requests = sum(retry.attempts.values())
        with _writes_of(run_dir, "report.md") as rewritten:  # a passed run: nothing to do
            again, warmed = _crew(tmp_path, "resume", run_dir.name, "--repo",
                                  str(tmp_path / "repo"), "--no-trace")
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert "already passed; nothing to resume" in again.stdout + again.stderr
        assert sum(retry.attempts.values()) == requests and rewritten == []
        assert warmed == []  # not even litellm's import
    state = json.loads((run_dir / "state.json").read_text())
    assert state["tasks"]["t1"]["status"] == "done"
    assert state["spent"]["calls"] == len(retry.attempts)  # one ledger over both processes
    report = (run_dir / "report.md").read_text()
    assert report.strip() and report.strip() in resumed.stdout  # the one printed
