"""A model that repeats planted keys — in its plan (a task id, title and description), in what
it says and in a file it writes — never gets them onto any surface a person reads: the
terminal (`crew run` in a pseudo-terminal, live view and plan view included, `crew show`,
`crew runs`), the HTML transcript, branch and worktree names, the run id, any file under
.crew or the index, or any commit. Lowercased copies included (ids and slugs lowercase)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from e2e_helpers import crew_env, git, only_run, roles_on_stub

from crew.testing import StubReply, StubServer

SHAPED = "sk-live-AbCdEf0123456789XyZw"  # an OpenAI-like shape
PLAIN = "Zq7LeakValue9X2mPqT"  # no known shape: secret because an env var holds it
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _in_pty(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run `python -m crew ARGS` on a pseudo-terminal: its exit code and every byte shown."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "crew", *args], stdin=follower,
                            stdout=follower, stderr=follower, env=env, cwd=cwd, close_fds=True)
    os.close(follower)
    seen = b""
    end = time.monotonic() + 300  # stops a hung test only
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return code, seen.decode(errors="replace")


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [k for k in (SHAPED, PLAIN) if k.lower() in low]


def test_a_repeated_key_reaches_no_surface(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("def main():\n    return 0\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(project), *args], check=True)
    feature = tmp_path / "feature.yaml"
    feature.write_text("title: Greet\ngoal: Add a greet() function to app.py.\n"
                       "repo: project\ncrew: software-team\nmodels: models.yaml\n")
    plan = {"tasks": [{"id": f"leak-{SHAPED}", "title": f"Use {SHAPED} and {PLAIN}",
                       "description": f"Call the API with {SHAPED} / {PLAIN}.",
                       "pattern": "single", "roles": ["coder"]},
                      {"id": PLAIN, "title": "Second", "description": "x",
                       "pattern": "single", "roles": ["coder"], "depends_on": [f"leak-{SHAPED}"]}]}
    said = f"I called it with {SHAPED} and {PLAIN}. Done."
    env = {**crew_env(), "LEAK_SERVICE_TOKEN": PLAIN, "COLUMNS": "140", "LINES": "50",
           "TERM": "xterm"}
    with StubServer() as stub:
        roles_on_stub(feature, stub.url, {"num_retries": 0})
        stub.enqueue(StubReply.text(json.dumps(plan)), model="supervisor")
        stub.always(StubReply.text(said), model="supervisor")
        for _ in range(2):
            stub.enqueue(StubReply.tool_call(("write_file", {"path": "notes.txt",
                                                              "content": said})),
                         StubReply.text(said), model="coder")
        stub.always(StubReply.text(said))
        code, screen = _in_pty(["run", str(feature), "--no-trace", "--sandbox", "local"],
                               env, tmp_path)
    assert code in (0, 1), screen[-3000:]
    screen = ANSI.sub("", screen)
    assert "leak-redacted" in screen and "Use [REDACTED] and [REDACTED]" in screen  # live view
    assert _leaks(screen) == [], "\n".join(x for x in screen.splitlines() if _leaks(x))

    run_dir = only_run(project)
    assert _leaks(run_dir.name) == []
    html = tmp_path / "t.html"
    for args in (["show", run_dir.name], ["show", run_dir.name, "--html", str(html)],
                 ["runs", "--repo", str(project)]):
        code, out = _in_pty(args, env, tmp_path)
        assert code == 0, out[-2000:]
        assert _leaks(ANSI.sub("", out)) == [], (args, out[-3000:])
    assert _leaks(html.read_text()) == []

    names = git(project, "for-each-ref", "--format=%(refname)") + git(project, "worktree", "list")
    assert _leaks(names) == [], names
    history = git(project, "log", "--all", "-p", "--format=%H %an %s%n%b")
    assert _leaks(history) == [], history[-3000:]
    for f in (project / ".crew").rglob("*"):
        assert _leaks(str(f.relative_to(project))) == [], f
        if f.is_file():
            assert _leaks(f.read_text(errors="replace")) == [], f
    index = Path(os.environ["XDG_STATE_HOME"]) / "crew" / "runs.jsonl"
    assert _leaks(index.read_text()) == []
