"""Issue 31, item 1: one text-safety rule (crew.textsafe) wherever a model's, a tool's or a
command's text is stored, shown or passed on — the crashes it measured as regression tests:
a NUL byte in a commit message, a lone surrogate in the journals, the event log and
state.json, and unusable paths or arguments refused to the model instead of ending a task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crew.llm.types import ToolCall
from crew.observability.events import EventLogSink
from crew.observability.sinks import RunInfo
from crew.observability.tracer import Tracer
from crew.run.journal import TURNS_FILE, JsonlLog, TurnJournal, read_jsonl
from crew.run.state import RunState, load_state, save_state
from crew.textsafe import REPLACEMENT, safe_data, safe_text, unusable_at
from crew.tools import OutcomeStatus, ToolContext, ToolError, ToolRegistry
from crew.tools.paths import PathPolicy
from crew.workspace.git import run_git
from crew.workspace.worktrees import Workspace
from shared_helpers import committed_repo, git

BAD = "a\x00b\ud800c\x1b[2Jd\x7fe\x9bf"
SAFE = f"a\\x00b{REPLACEMENT}c\\x1b[2Jd\\x7fe\\x9bf"


def test_the_rule() -> None:
    assert safe_text(BAD) == SAFE
    plain = "tabs\tnewlines\ncr\r, unicode é 💥 \u202e are kept"
    assert safe_text(plain) is plain
    assert safe_text(SAFE) == SAFE  # idempotent
    SAFE.encode("utf-8")  # always encodable
    assert safe_data({"k\x00": [BAD, 1, (BAD,)], "n": None}) == {
        "k\\x00": [SAFE, 1, (SAFE,)], "n": None}
    ok = {"a": ["b", 1]}
    assert safe_data(ok) is ok
    assert unusable_at({"a": [{"path": "x\x00"}]}) == "a[0].path"
    assert unusable_at({"p": "x\udc80"}) == "p"
    assert unusable_at({"p": "x\x1b"}) is None


def test_a_nul_or_surrogate_in_a_final_answer_becomes_a_commit_message(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    ws = Workspace.create(repo, "r1", "Greet")
    wt = ws.task_worktree("t1")
    (wt.path / "new.txt").write_text("x\n")
    # was: ValueError: embedded null byte (the run died without a checkpoint or report)
    sha = ws.commit_task("t1", "Title \x00", "coder", body="Done.\x00 really \ud800")
    assert sha is not None
    message = git(wt.path, "log", "-1", "--format=%B")
    assert "Done.\\x00 really \ufffd" in message and "Title \\x00" in message


def test_git_arguments_a_process_cannot_take_are_made_safe(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    res = run_git(repo, "log", "--grep", "x\x00y", check=False)  # was: ValueError
    assert res.ok


def test_journals_write_surrogates_and_replay_safe_text(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "x.jsonl")
    log.append({"content": BAD})  # was: UnicodeEncodeError at run/journal.py
    log.close()
    assert list(read_jsonl(tmp_path / "x.jsonl")) == [{"content": SAFE}]
    # a turn recorded before crew made texts safe: replayed safe, never into the same crash
    (tmp_path / TURNS_FILE).write_text(json.dumps({
        "kind": "turn", "key": "t/coder//1/0", "turn": 1, "at": 0, "stop": "final",
        "messages": [{"role": "assistant", "content": "Done.\x00 \ud800"}]}) + "\n")
    conv = TurnJournal(tmp_path / TURNS_FILE).conversation("t/coder//1/0")
    assert conv is not None
    assert conv[0][0]["content"] == f"Done.\\x00 {REPLACEMENT}"


def test_state_json_takes_a_surrogate(tmp_path: Path) -> None:
    state = RunState(run_id="r", feature_path="f", feature_title="F", repo=str(tmp_path))
    state.stop_reason = "model said \ud800"
    save_state(tmp_path, state)  # was: PydanticSerializationError (surrogates not allowed)
    assert load_state(tmp_path).stop_reason == f"model said {REPLACEMENT}"


def test_the_event_log_keeps_logging_after_a_surrogate(tmp_path: Path) -> None:
    tracer = Tracer(RunInfo(run_id="r", feature="F"), [EventLogSink(tmp_path)])
    tracer.event("answer", "DEFAULT", {"text": BAD})  # was: the sink failed and stopped
    tracer.event("next", "DEFAULT", {"text": "fine"})
    tracer.close()
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["payload"].get("text") for e in lines] == [SAFE, "fine"]


@pytest.mark.parametrize("path", ["a\x00b.py", "x\ud800.py", "\udfff/\x00"])
def test_unusable_paths_are_refused_to_the_model(tmp_path: Path, path: str) -> None:
    with pytest.raises(ToolError, match="NUL byte or an invalid unicode"):
        PathPolicy(tmp_path).resolve(path)  # was: ValueError / UnicodeEncodeError


@pytest.mark.parametrize(("name", "args"), [
    ("write_file", '{"path": "a\\u0000b", "content": "x"}'),
    ("read_file", '{"path": "x\\ud800"}'),
    ("write_file", '{"path": "ok.txt", "content": "half \\udc00 a pair"}'),
])
async def test_unusable_arguments_are_a_tool_error_not_a_stopped_task(
        tmp_path: Path, name: str, args: str) -> None:
    out = await ToolRegistry.builtin().invoke(ToolCall("c1", name, args), ToolContext(tmp_path))
    assert out.status is OutcomeStatus.INVALID_ARGS, out.output
    assert "NUL byte or an invalid unicode character" in out.output
    assert not (tmp_path / "ok.txt").exists()


async def test_tool_output_is_made_safe(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"head\x00\x1b[31mred\xff\xfe end\n")
    out = await ToolRegistry.builtin().invoke(
        ToolCall("c1", "read_file", '{"path": "bin.txt"}'), ToolContext(tmp_path))
    assert "\x00" not in out.output and "\x1b" not in out.output
    out.output.encode("utf-8")
