"""Issue 18, hooks from YAML: a `crew.hooks` plugin in tests/plugins (registered by a hand-made
dist-info on PYTHONPATH) vetoes a write_file and the model sees its reason; it is told about
the task, each agent turn and each tool call. The built-in `protect` hook refuses writes to
its globs. A hook's bad settings or unknown name is exit 2 before the run starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from e2e_helpers import crew_env
from tool_project import (
    events,
    make_project,
    run_crew,
    run_crew_process,
    tool_messages,
    with_plugins,
)

from crew.testing import StubReply, StubServer


def _site(tmp: Path) -> Path:
    site = tmp / "site"
    dist = site / "crew_veto_hook-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crew-veto-hook\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[crew.hooks]\nveto = crew_veto_hook:VetoWrites\n")
    return site


def _writes(stub: StubServer) -> None:
    stub.enqueue(StubReply.tool_call(("write_file", {"path": "docs/release.md", "content": "x"}),
                                     ("write_file", {"path": "notes.txt", "content": "ok"})),
                 StubReply.text("done"), model="worker")


def test_a_hook_plugin_vetoes_a_write_and_the_model_sees_why(tmp_path: Path) -> None:
    log = tmp_path / "hook.log"
    hooks = [{"name": "veto", "settings": {"deny_under": "docs/", "log": str(log)}}]
    env = with_plugins(crew_env(), _site(tmp_path))
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["write_file"], extra={"hooks": hooks})
        _writes(stub)
        res = run_crew_process("run", str(feature), "--no-trace", env=env)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        vetoed, written = tool_messages(stub, "worker")
    assert vetoed == "Vetoed: files under docs/ are frozen by the release manager"
    assert written.startswith("created notes.txt")
    # the planning step is a task too (id `plan`), whose supervisor takes a turn (it may read
    # the repo with tools before it plans); then the pinned task, its turns and calls
    notes = log.read_text().splitlines()
    assert notes[:6] == ["before_task plan", "before_turn lead", "after_turn lead",
                         "after_task plan", "before_task triage", "before_turn worker"]
    assert sorted(notes[6:10]) == ["after_tool write_file ok", "after_tool write_file vetoed",
                                   "before_tool write_file", "before_tool write_file"]
    assert notes[10:] == ["after_turn worker", "before_turn worker", "after_turn worker",
                          "after_task triage"]
    ends = [e for e in events(tmp_path / "repo")
            if e["type"] == "tool.end" and e["name"] == "write_file"]
    assert sorted(e["payload"]["status"] for e in ends) == ["ok", "vetoed"]


def test_the_builtin_protect_hook_refuses_writes_to_its_globs(tmp_path: Path) -> None:
    hooks = [{"name": "protect", "settings": {"paths": ["docs/**"]}}]
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["write_file"], extra={"hooks": hooks})
        _writes(stub)
        res = run_crew("run", str(feature), "--no-trace")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        vetoed, written = tool_messages(stub, "worker")
    assert vetoed.startswith("Vetoed: docs/release.md is protected (hook 'protect'")
    assert written.startswith("created notes.txt")


def test_bad_hook_settings_and_names_are_exit_2(tmp_path: Path) -> None:
    env = with_plugins(crew_env(), _site(tmp_path))
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["write_file"], extra={"hooks": [
            {"name": "veto", "settings": {}}]})
        res = run_crew_process("run", str(feature), "--no-trace", env=env)
        assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
        assert "hooks[0].settings" in res.stderr + res.stdout
        assert "set deny_under" in res.stderr + res.stdout
        feature.write_text(feature.read_text().replace("name: veto", "name: vetoo"))
        res = run_crew_process("validate", str(feature), env=env)
        assert res.returncode == 2
        assert "unknown hook 'vetoo'" in res.stdout + res.stderr
        assert "did you mean 'veto'" in res.stdout + res.stderr
        assert stub.requests == []
    assert not (tmp_path / "repo" / ".crew" / "runs").exists()


@pytest.mark.parametrize("backend", ["local", pytest.param("bwrap", marks=pytest.mark.bwrap)])
def test_a_command_writing_a_protected_path_is_refused_at_commit_and_undone(
        tmp_path: Path, backend: str) -> None:
    """Regression (issue 24): the protect hook vetoed write_file, but `run_command` wrote its
    globs and the file was committed. Now the commit refuses it, the agent is told why,
    removes it, and the run goes on."""
    hooks = [{"name": "protect", "settings": {"paths": ["docs/**"]}}]
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"], extra={"hooks": hooks})
        stub.enqueue(StubReply.tool_call(("run_command", {"command": (
                         "echo changed >> docs/notes.md && echo new > docs/extra.md && "
                         "echo ok > notes.txt")})),
                     StubReply.text("done"),
                     StubReply.tool_call(("run_command", {"command": (
                         "git show HEAD:docs/notes.md > docs/notes.md && rm docs/extra.md")})),
                     StubReply.text("restored the docs"), model="worker")
        from crew.tools.sandbox import backend_status

        if not backend_status(backend)[0]:
            pytest.skip(f"{backend} is unavailable")
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", backend)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        told = [m["content"] for m in stub.requests_for("worker")[2].body["messages"]
                if m.get("role") == "user"][-1]
    assert told.startswith("Your change cannot be committed:")
    assert "docs/extra.md is protected ('protect: docs/**')" in told
    assert "docs/notes.md is protected ('protect: docs/**')" in told
    repo = tmp_path / "repo"
    branch = subprocess.run(["git", "-C", str(repo), "branch", "--list", "crew/*",
                             "--format=%(refname:short)"], capture_output=True, text=True,
                            check=True).stdout.split()[0]
    changed = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", "main", branch],
                             capture_output=True, text=True, check=True).stdout.split()
    assert changed == ["notes.txt"]
