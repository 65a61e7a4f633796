"""The live views of `crew run`, fed by a real Tracer (the same redacted events as events.jsonl)
and by nothing else: the plan, the statuses and the run's notes are tracer events too."""

from __future__ import annotations

import io
import json
import re
import threading
from typing import Any

import pytest
from rich.console import Console

from crew.cli.live import JsonView, LiveView, PlainView, RunDisplay, make_view
from crew.llm.types import Completion, Usage
from crew.observability import Tracer
from crew.run import view_events
from crew.run.state import PlannedTask

SECRET = "sk-planted-0123456789abcdefghij"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER_CHARS = re.compile("[\u2800-\u28ff]")  # rich's "dots" spinners are braille cells
PLAN = [PlannedTask(id="impl", title="Implement export", pattern="review_loop",
                    roles=["coder", "reviewer"]),
        PlannedTask(id="docs", title="Document it", pattern="single", roles=["doc_writer"],
                    depends_on=["impl"])]


def tracer_for(view: Any) -> Tracer:
    return Tracer.create("r1", "Add CSV export", None, sinks=[], extra_sinks=[view],
                         env={"CREW_TEST_API_KEY": SECRET})


def traced_plan(tracer: Tracer, statuses: dict[str, str] | None = None) -> None:
    """As the run tells its views the plan: one event."""
    tracer.event(view_events.PLAN, payload=view_events.plan_payload(PLAN, statuses or {}))


def answer(cost: float, prompt: int = 100, completion: int = 20) -> Completion:
    return Completion("ok", alias="smart", model="openai/gpt-4o",
                      usage=Usage(prompt, completion), cost_usd=cost)


def text_of(view: LiveView) -> str:
    c = Console(file=io.StringIO(), width=120, record=True)
    c.print(view.render())
    return c.export_text()


def test_live_tree_shows_speaking_agent_tool_and_cost_footer() -> None:
    # the view starts at 100 s, the run at 110 s, the footer is read at 175 s: it counts from
    # the run's start, as the report's wall time does
    now = [100.0]
    view = LiveView(Console(file=io.StringIO(), force_terminal=True, width=120),
                    clock=lambda: now[0])
    view.start()
    assert "loading models…" in text_of(view)  # until the run starts
    tracer = tracer_for(view)
    now[0] = 110.0
    with tracer.run():
        with tracer.task("plan", "plan", ["supervisor"]):
            assert "planning…" in text_of(view)
        assert "plan" not in view.board.tasks  # the supervisor's call is not a task
        traced_plan(tracer)
        now[0] = 175.0
        with tracer.task("impl", "review_loop", ["coder", "reviewer"]):
            with tracer.round(1), tracer.agent("coder", 3):
                with tracer.generation("smart", [{"role": "user", "content": "go"}]) as g:
                    g.end(answer(0.0025))
                with tracer.tool("read_file", {"path": "src/todo/cli.py"}):
                    shown = text_of(view)
                    assert "coder · turn 3" in shown
                    assert "⚙ read_file(src/todo/cli.py)" in shown
                    lines = shown.splitlines()
                    task_line = next(i for i, s in enumerate(lines) if "impl Implement" in s)
                    assert "coder · turn 3" in lines[task_line + 1]  # under the running task
                    assert "○ docs Document it · single · doc_writer" in shown
                with tracer.generation("smart", []) as g:
                    g.end(answer(0.0050, 300, 80))
            after_turn = text_of(view)
            assert "turn 3" not in after_turn and "read_file" not in after_turn
    shown = text_of(view)
    assert "✔ impl Implement export · review_loop · coder, reviewer · $0.0075" in shown
    assert "tasks: 1 done, 1 pending of 2 · cost $0.0075 · 500 tokens · 2 LLM calls · 1m 05s" \
        in shown
    assert "loading" not in shown and "planning" not in shown
    view.finish(7.9, {"impl": "done", "docs": "failed"})  # the run's own numbers, at the end
    assert "tasks: 1 done, 1 failed of 2 · cost $0.0075 · 500 tokens · 2 LLM calls · 7.9s" \
        in text_of(view)
    # a resumed run: the ledger's totals over every session replace what this one saw
    view.finish(9.5, {}, {"calls": 5, "prompt_tokens": 900, "completion_tokens": 100,
                          "cost_usd": 0.02})
    assert "cost $0.0200 · 1,000 tokens · 5 LLM calls · 9.5s" in text_of(view)
    view.stop()
    tracer.close()
    screen = ANSI.sub("", view.console.file.getvalue())  # type: ignore[attr-defined]
    assert "✔ impl Implement export" in screen  # the final tree stays on screen


def test_live_view_in_a_real_live_display_shows_the_runs_outcomes() -> None:
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=100))
    view.start()
    tracer = tracer_for(view)
    with tracer.run():
        traced_plan(tracer)
        with tracer.task("impl", "review_loop", ["coder", "reviewer"]) as task:
            with tracer.agent("reviewer", 2):
                view.refresh()
                assert "reviewer · turn 2" in ANSI.sub("", out.getvalue())
            task.end({"outcome": "no_consensus", "summary": "no verdict"})  # as the run ends it
        tracer.event(view_events.TASK_SKIPPED, "WARNING", {
            "task_id": "docs", "message": "docs skipped: dependency impl did not finish"})
        tracer.event("gate", payload={"command": "pytest -q", "passed": False, "exit_code": 1})
    view.message("cleanup: worktrees removed")  # the launcher's notice after the run
    tracer.close()  # closes the view too
    screen = ANSI.sub("", out.getvalue())
    assert "≠ impl" in screen and "– docs" in screen
    assert "⚠ docs skipped: dependency impl did not finish" in screen
    assert "✘ gate `pytest -q` failed (exit 1)" in screen
    assert "cleanup: worktrees removed" in screen
    assert "plan: 2 tasks" not in screen  # the tree shows the plan
    assert view._live is None


def test_a_resumed_runs_plan_shows_what_is_done_and_a_stopped_task_interrupted() -> None:
    view = LiveView(Console(file=io.StringIO(), width=100))
    tracer = tracer_for(view)
    with tracer.run():
        traced_plan(tracer, {"impl": "done"})
        with pytest.raises(RuntimeError), tracer.task("docs", "single", ["doc_writer"]):
            raise RuntimeError("a bug")
    assert view.board.tasks["impl"].status == "done"
    assert view.board.tasks["docs"].status == "error"
    with tracer.task("docs", "single", ["doc_writer"]) as task:  # a sibling failed
        task.end({"outcome": "stopped", "summary": "stopped before it finished"},
                 level="WARNING")
    assert view.board.tasks["docs"].status == "interrupted"


def test_costs_from_many_threads_add_up_exactly() -> None:
    view = LiveView(Console(file=io.StringIO(), width=100))
    view.board.set_plan(PLAN)
    view.board.apply({"id": "t", "parent_id": None, "type": "task.start", "name": "impl",
                      "payload": {"task_id": "impl"}})

    def worker(n: int) -> None:
        for i in range(200):
            oid = f"g{n}-{i}"
            view.on_event({"id": oid, "parent_id": "t", "type": "generation.start",
                           "name": "smart", "payload": {}})
            view.on_event({"id": oid, "parent_id": "t", "type": "generation.end",
                           "name": "smart", "payload": {"cost_usd": 0.125,
                                                        "usage": {"input": 3, "output": 2}}})
            if i % 50 == 0:
                text_of(view)  # rendering while other threads write

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert view.board.calls == 1600 and view.board.cost_usd == 200.0
    assert view.board.tokens == 8000 and view.board.tasks["impl"].tokens == 8000


def test_plain_view_prints_lines_without_ansi_or_spinners() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    view = make_view(console, json_mode=False)
    assert isinstance(view, PlainView)
    view.start()
    tracer = tracer_for(view)
    traced_plan(tracer)
    with tracer.run(), tracer.task("impl", "review_loop", ["coder", "reviewer"]) as task:
        with tracer.agent("coder", 1), tracer.generation("smart", []) as g:
            g.end(answer(0.01))
        tracer.event("budget.warning", "WARNING", {"scope": "run", "kind": "usd"})
        task.end({"outcome": "done"})
    with tracer.task("docs", "single", ["doc_writer"]) as task:
        task.end({"outcome": "failed", "summary": "tests fail"})
    view.stop()
    tracer.close()
    text = out.getvalue()
    assert "\x1b" not in text and not SPINNER_CHARS.search(text)
    lines = text.splitlines()
    assert lines[:3] == ["plan: 2 tasks",
                         "  impl  Implement export · review_loop · coder, reviewer",
                         "  docs  Document it · single · doc_writer (after impl)"]
    assert "▶ impl Implement export · review_loop · coder, reviewer" in lines
    assert "⚠ budget.warning: scope=run kind=usd" in lines
    assert lines.count("✔ impl done · $0.0100 · 120 tokens") == 1
    assert lines.count("✘ docs failed") == 1 and "✔ docs done" not in lines
    assert lines[-1].startswith("tasks: 1 done, 1 failed of 2 · cost $0.0100 · 120 tokens · "
                                "1 LLM call")


def test_json_view_writes_only_json_lines_with_redacted_events() -> None:
    out = io.StringIO()
    view = make_view(Console(file=io.StringIO(), force_terminal=True), json_mode=True,
                     stream=out)
    assert isinstance(view, JsonView) and isinstance(view, RunDisplay)
    view.start()
    tracer = tracer_for(view)
    with tracer.run():
        traced_plan(tracer)
        with tracer.task("impl", "review_loop", ["coder", "reviewer"]) as task:
            with tracer.agent("coder", 1), tracer.generation(
                    "smart", [{"role": "user", "content": f"key {SECRET}"}]) as g:
                g.end(answer(0.01))
            task.end({"outcome": "done"})
    view.message("done: 1 task")
    view.stop()
    tracer.close()
    text = out.getvalue()
    assert SECRET not in text
    objs = [json.loads(line) for line in text.splitlines()]  # every line parses
    types = [o["type"] for o in objs]
    plan = next(o for o in objs if o["type"] == "event" and o["name"] == "plan")
    assert [t["id"] for t in plan["payload"]["tasks"]] == ["impl", "docs"]
    assert {"run.start", "task.start", "agent.start", "generation.start", "generation.end",
            "agent.end", "task.end", "run.end"} <= set(types)
    gen_end = next(o for o in objs if o["type"] == "generation.end")
    assert gen_end["payload"]["cost_usd"] == 0.01
    assert next(o for o in objs if o["type"] == "task.end")["payload"]["output"] == {
        "outcome": "done"}
    assert objs[-1]["type"] == "crew.message" and objs[-1]["text"] == "done: 1 task"


def test_make_view_picks_live_on_a_terminal() -> None:
    view = make_view(Console(file=io.StringIO(), force_terminal=True), json_mode=False,
                     title="Add CSV export")
    assert isinstance(view, LiveView) and isinstance(view, RunDisplay)
    assert "Add CSV export" in text_of(view)


def test_a_model_text_reaches_the_terminal_and_json_lines_made_safe() -> None:
    """Issue 31: a NUL, an escape sequence or a lone surrogate in a message (a stop reason
    quoting a model) is printed escaped, never acted on or crashing the encoder."""
    out = io.StringIO()
    PlainView(Console(file=out, force_terminal=False, width=200)).message(
        "run stopped: \x00\x1b[2J \ud800")
    assert out.getvalue().strip() == "run stopped: \\x00\\x1b[2J \ufffd"
    stream = io.StringIO()
    JsonView(stream).message("a\ud800\x00")
    assert json.loads(stream.getvalue())["text"] == "a\ufffd\\x00"
    stream.getvalue().encode("utf-8")
