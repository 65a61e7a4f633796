"""`crew ui`'s pages and guards, in process (Starlette's TestClient): a run written by the real
tracer and checkpoint functions, with a task commit in a real git repo. The pages show the
tasks, rounds, messages, tool calls, diff, gates and degraded decisions; no page holds a
planted secret; only GET is served; loopback binds refuse other host names; a token bind asks
for the token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared_helpers import committed_repo, git

pytest.importorskip("starlette")
pytest.importorskip("jinja2")

from starlette.testclient import TestClient

from crew.observability.tracer import Tracer
from crew.patterns.decisions import Degraded
from crew.run.state import (
    GateResult,
    PlannedTask,
    RunState,
    TaskState,
    run_dir,
    save_plan,
    save_state,
)
from crew.ui.app import create_app

RUN_ID = "20261207-000000-abcd"
SECRET = "planted-" + "x7Qz" * 5  # the value of PLANTED_API_KEY once the UI runs
SHAPE = "sk-" + "Ab3" * 8  # a key shape nobody registered
TRACE = "http://localhost:3000/trace/0123456789abcdef0123456789abcdef"


def _run(repo: Path) -> Path:
    """A finished two-task run: t1 with a round, a turn, a message and a tool call, and a
    commit; t2 after t1. The secret sits in an event, a gate's output and t1's diff."""
    (repo / "other.py").write_text("BEFORE = 1\n")  # an earlier task's: not in t1's diff
    (repo / "app.py").write_text(f"TOKEN = {SECRET!r}\nVALUE = 2\n")
    for message, files in (("earlier\n\nCrew-Task: t0", ["other.py"]),
                           ("t1 subtask: value 2\n\nCrew-Task: t1-s1", ["app.py"])):
        git(repo, "add", *files)
        git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    (repo / "NOTES.md").write_text("value two\n")
    git(repo, "add", "NOTES.md")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm",
        "t1: notes\n\nCrew-Task: t1")
    commit = git(repo, "rev-parse", "HEAD")
    d = run_dir(repo, RUN_ID)
    tracer = Tracer.create(RUN_ID, "Make value two", d, enabled=False, sinks=[])
    with tracer.run():
        with tracer.task("t1", "review_loop", ["coder"], title="Value two"), tracer.round(1):
            with tracer.agent("coder", 1), \
                    tracer.generation("smart", [{"role": "user", "content": "go"}]) as gen:
                gen.end({"role": "assistant", "content": "I will edit app.py now.\r\nThen test.",
                         "tool_calls": [{"id": "c1", "type": "function", "function": {
                             "name": "edit_file", "arguments": '{"path": "app.py"}'}}]},
                        usage={"input": 100, "output": 20}, cost_usd=0.0012)
            with tracer.agent("coder", 2), tracer.tool("edit_file", {"path": "app.py"}) as tool:
                tool.end("edited app.py")
        tracer.event("gate", "DEFAULT", {"gate": "tests", "passed": True})
    tracer.close()
    with (d / "events.jsonl").open("a") as f:  # what an older crew might have left unredacted
        f.write(json.dumps({"id": "e1", "parent_id": None, "type": "event", "name": "note",
                            "ts": 1.0, "payload": {"level": "DEFAULT",
                                                   "text": f"{SECRET} and {SHAPE}"}}) + "\n")
    plan = [PlannedTask(id="t1", title="Value two", pattern="review_loop", roles=["coder"]),
            PlannedTask(id="t2", title="Docs", pattern="single", roles=["doc_writer"],
                        depends_on=["t1"])]
    save_plan(d, plan)
    state = RunState(run_id=RUN_ID, feature_path="feature.yaml", feature_title="Make value two",
                     repo=str(repo), branch="crew/x", status="failed", order=["t1", "t2"],
                     trace_url=TRACE,
                     tasks={"t1": TaskState(status="done", commit=commit,
                                            files_changed=["app.py"], degraded=[Degraded(
                                                decision="verdict", reason="read_from_text",
                                                role="reviewer", round=1)]),
                            "t2": TaskState(status="failed", error="the model gave up")},
                     gates=[GateResult(name="tests", command="pytest -q", exit_code=1,
                                       passed=False, output="1 failed")])
    save_state(d, state)
    raw = json.loads((d / "state.json").read_text())
    raw["gates"][0]["output"] = f"1 failed: {SECRET}"
    (d / "state.json").write_text(json.dumps(raw))
    return d


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("PLANTED_API_KEY", raising=False)
    r = committed_repo(tmp_path / "repo", {"app.py": "VALUE = 1\n"})
    _run(r)
    monkeypatch.setenv("PLANTED_API_KEY", SECRET)  # known to the UI's process, not the run's
    return r


def _client(repo: Path, **kw: object) -> TestClient:
    return TestClient(create_app(repo, **kw), base_url="http://127.0.0.1:8765")  # type: ignore[arg-type]


def test_the_run_page_shows_tasks_conversation_diff_gates_and_degraded(repo: Path) -> None:
    client = _client(repo)
    index = client.get("/")
    assert index.status_code == 200 and f'href="/runs/{RUN_ID}"' in index.text
    page = client.get(f"/runs/{RUN_ID}")
    assert page.status_code == 200
    html = page.text
    assert 'id="task-t1"' in html and 'id="task-t2"' in html and "after t1" in html
    assert 'data-task="t1"' in html and 'data-task="t2"' in html  # both in the DAG
    assert "I will edit app.py now." in html  # the message
    assert "→ edit_file(" in html and "⚙ edit_file" in html and "edited app.py" in html
    # t1's diff: from where its branch started (its subtask's commit and its own), no earlier
    assert "+VALUE = 2" in html and "+value two" in html and "other.py" not in html
    assert "pytest -q" in html and "1 failed" in html  # the gate with its output
    assert "degraded" in html and "reviewer" in html
    assert "the model gave up" in html
    assert "$0.0012" in html and "120 tokens" in html
    assert html.count(f'href="{TRACE}"') == 2  # the run's, and beside t1 (t2 never started)
    assert 'src="/static/live.js"' in html and 'data-stream=""' in html  # finished: no stream
    assert client.get("/static/live.js").status_code == 200
    assert client.get("/runs/nope").status_code == 404


def test_no_page_holds_a_planted_secret(repo: Path) -> None:
    client = _client(repo)
    pages = [client.get(p).text for p in ("/", f"/runs/{RUN_ID}", f"/runs/{RUN_ID}/body")]
    with client.stream("GET", f"/runs/{RUN_ID}/events") as stream:  # finished: body, then end
        pages.append("".join(stream.iter_text()))
    assert "event: body" in pages[-1] and "event: end" in pages[-1]
    assert "\r" not in pages[-1] and "data: Then test." in pages[-1]  # a CR would end a line
    for text in pages:
        assert SECRET not in text and SHAPE not in text
    assert all("[REDACTED]" in t for t in pages[1:])  # the event, the gate, the diff
    assert pages[1].count("[REDACTED]") >= 4


def test_only_get_and_loopback_host_names_are_served(repo: Path) -> None:
    client = _client(repo)
    assert client.post("/").status_code == 405
    for host in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
        assert client.get("/", headers={"host": host}).status_code == 200, host
    refused = client.get("/", headers={"host": "rebind.example:8765"})
    assert refused.status_code == 403 and RUN_ID not in refused.text


def test_a_token_bind_asks_for_the_token(repo: Path) -> None:
    client = _client(repo, token="t0ken-of-the-day", loopback=False)
    asked = client.get(f"/runs/{RUN_ID}", headers={"host": "192.0.2.7:8765"})
    assert asked.status_code == 401 and 'name="token"' in asked.text
    assert "Make value two" not in asked.text and "edit app.py" not in asked.text
    assert client.get(f"/runs/{RUN_ID}/events").status_code == 401
    wrong = client.get("/login", params={"token": "guess", "next": f"/runs/{RUN_ID}"})
    assert wrong.status_code == 401 and "not the token" in wrong.text
    ok = client.get("/login", params={"token": "t0ken-of-the-day", "next": f"/runs/{RUN_ID}"},
                    follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/runs/{RUN_ID}"
    assert "httponly" in ok.headers["set-cookie"].lower()
    page = client.get(f"/runs/{RUN_ID}")  # the cookie now
    assert page.status_code == 200 and "I will edit app.py now." in page.text
    off_site = client.get("/login", params={"token": "t0ken-of-the-day",
                                            "next": "//evil.example/"}, follow_redirects=False)
    assert off_site.headers["location"] == "/"
