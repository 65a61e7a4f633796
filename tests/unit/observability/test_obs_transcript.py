"""Transcripts of a run: terminal rendering, self-contained HTML, the Langfuse URL."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from rich.console import Console

from crew.llm.types import Completion, ToolCall, Usage
from crew.observability import (
    Tracer,
    read_events,
    render_terminal,
    summarize,
    trace_url,
    write_html,
)
from crew.observability.events import Event


def recorded_run(tmp_path: Path) -> list[Event]:
    t = Tracer.create("run-42", "Add <CSV> export", tmp_path, env={}, sinks=[])

    async def main() -> None:
        with t.run(), t.task("design", "debate", ["security_analyst", "coder"],
                             title="Threat-model the export"):
            with t.round(1):
                async def say(role: str, text: str) -> None:
                    with t.agent(role, 1):
                        with t.generation("smart", [{"role": "user", "content": "go"}]) as g:
                            g.end(Completion(text, (ToolCall("1", "read_file",
                                                             '{"path": "todo.py"}'),),
                                             model="openai/gpt-4o", usage=Usage(120, 30),
                                             cost_usd=0.0125))
                        with t.tool("read_file", {"path": "todo.py"}) as tool:
                            tool.end("def export(): ...")
                await asyncio.gather(say("security_analyst", "<script>alert(1)</script>"),
                                     say("coder", "CSV injection is handled"))
            with t.tool("run_command", {"cmd": "pytest"}) as tool:
                tool.end(error="exit 1")
            t.event("budget.warning", "WARNING", {"spent_usd": 0.9})
    asyncio.run(main())
    t.close()
    return read_events(tmp_path)


def test_summary_totals(tmp_path: Path) -> None:
    s = summarize(recorded_run(tmp_path))
    assert s["llm_calls"] == 2 and s["input_tokens"] == 240 and s["output_tokens"] == 60
    assert s["cost_usd"] == 0.025 and s["tool_calls"] == 3 and s["errors"] == 1


def test_terminal_rendering_shows_who_said_what(tmp_path: Path) -> None:
    console = Console(record=True, width=120, color_system=None)
    render_terminal(recorded_run(tmp_path), console)
    out = console.export_text()
    assert "Task design — Threat-model the export" in out
    assert "Round 1" in out
    assert "security_analyst (turn 1)" in out and "coder (turn 1)" in out
    assert "<script>alert(1)</script>" in out  # shown literally, not as markup
    assert "CSV injection is handled" in out
    assert 'read_file({"path": "todo.py"})' in out
    assert "openai/gpt-4o · 120→30 tok · $0.0125" in out
    assert "exit 1" in out and "budget.warning" in out
    assert "$0.0250" in out
    assert "Langfuse" not in out


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    events = recorded_run(tmp_path / "run")
    page = tmp_path / "run.html"
    write_html(events, page)
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<style>" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<title>Add &lt;CSV&gt; export</title>" in text
    assert not re.search(r"""(src|href)=["']?https?://""", text)  # nothing external
    assert "CSV injection is handled" in text and "exit 1" in text


def test_trace_url_only_when_traced(tmp_path: Path) -> None:
    assert trace_url(recorded_run(tmp_path)) is None
    events = [{"id": "1", "parent_id": None, "type": "run.start", "name": "F", "ts": 1.0,
               "payload": {"langfuse": {"trace_id": "ab" * 16, "host": "http://h",
                                        "url": "http://h/trace/" + "ab" * 16}}}]
    assert trace_url(events) == "http://h/trace/" + "ab" * 16
    console = Console(record=True, width=200, color_system=None)
    render_terminal(events, console)
    assert "Langfuse: http://h/trace/" in console.export_text()
