"""Issue 18, approvals in YAML: `approvals: {run_command: ask}`. Without a terminal the call is
refused with a tool error the model sees and the run goes on; `--approve-tools run_command`
lets it run; on a pty a human answers the prompt. Every decision is an `approval` event."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from e2e_helpers import crew_env
from tool_project import events, make_project, run_crew, tool_messages, traced_env

from crew.testing import StubReply, StubServer
from crew.testing.otlp_receiver import OTLPReceiver

ASK = {"approvals": {"run_command": "ask"}}


def _script(stub: StubServer) -> None:
    stub.enqueue(StubReply.tool_call(("run_command", {"command": "echo approved-$((6*7))"})),
                 StubReply.text("done"), model="worker")


def _approvals(tmp_path: Path) -> list[dict[str, Any]]:
    return [e["payload"] for e in events(tmp_path / "repo")
            if e["type"] == "event" and e["name"] == "approval"]


def test_ask_without_a_terminal_is_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    with StubServer() as stub, OTLPReceiver() as rx:
        feature = make_project(tmp_path, stub, tools=["run_command"], extra=ASK)
        _script(stub)
        res = run_crew("run", str(feature), "--sandbox", "local", env=traced_env(rx.base_url))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        (result,) = tool_messages(stub, "worker")
        # the decision is in the trace too: an event under the tool's observation
        spans = {s["span_id"]: s for s in rx.spans}
        (decision_span,) = [s for s in spans.values() if s["name"] == "approval"]
        assert spans[decision_span["parent_span_id"]]["name"] == "run_command"
        assert decision_span["attributes"]["langfuse.observation.level"] == "WARNING"
    assert result.startswith("Refused:") and "--approve-tools run_command" in result
    assert "approved-42" not in result
    (decision,) = _approvals(tmp_path)
    assert decision["tool"] == "run_command" and decision["decision"] == "refused"
    assert decision["by"] == "no-terminal" and decision["policy"] == "ask"


def test_approve_tools_flag_lets_the_call_run(tmp_path: Path) -> None:
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"], extra=ASK)
        _script(stub)
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", "local",
                       "--approve-tools", "run_command")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        (result,) = tool_messages(stub, "worker")
    assert "approved-42" in result
    (decision,) = _approvals(tmp_path)
    assert decision["decision"] == "approved" and decision["by"] == "--approve-tools"


def test_a_human_answers_the_prompt_on_a_terminal(tmp_path: Path) -> None:
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"], extra=ASK)
        _script(stub)
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "crew", "run", str(feature), "--no-trace", "--sandbox",
             "local"], stdin=slave, stdout=slave, stderr=slave, env=crew_env(),
            close_fds=True)
        os.close(slave)
        seen, answered = b"", False
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # the child closed the terminal
                        break
                    seen += chunk
                    if not answered and b"allow run_command" in seen and b"[y/N]" in seen:
                        os.write(master, b"y\n")
                        answered = True
                elif proc.poll() is not None:
                    break
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
        text = seen.decode(errors="replace")
        assert answered, text[-3000:]
        assert code == 0, text[-3000:]
        (result,) = tool_messages(stub, "worker")
    assert "approved-42" in result
    (decision,) = _approvals(tmp_path)
    assert decision["decision"] == "approved" and decision["by"] == "human"
