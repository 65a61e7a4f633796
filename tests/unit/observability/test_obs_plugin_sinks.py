"""`crew.sinks` plugins: found through real entry-point metadata, fed every event of a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.observability import Tracer, available_sinks, read_events
from crew.plugins import entry_point_names

PLUGIN = '''
import json

class FileSink:
    def __init__(self, info):
        self.f = open(info.run_dir / "plugin-events.jsonl", "w")
        self.f.write(json.dumps({"run_id": info.run_id, "feature": info.feature}) + "\\n")

    def on_event(self, event):
        self.f.write(json.dumps(event) + "\\n")

    def flush(self):
        self.f.flush()

    def close(self):
        self.f.close()

def make_sink(info):
    return FileSink(info)

def make_broken(info):
    raise RuntimeError("plugin bug")
'''


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "crewtest_sinkplugin.py").write_text(PLUGIN)
    dist = site / "crewtest_sinkplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crewtest-sinkplugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[crew.sinks]\nfile-sink = crewtest_sinkplugin:make_sink\n"
        "broken-sink = crewtest_sinkplugin:make_broken\n")
    monkeypatch.syspath_prepend(str(site))
    entry_point_names.cache_clear()
    yield site
    entry_point_names.cache_clear()


def test_a_plugin_sink_receives_every_event(plugin_dir: Path, tmp_path: Path) -> None:
    assert {"file-sink", "broken-sink"} <= available_sinks()
    run_dir = tmp_path / "run"
    t = Tracer.create("run-9", "Plugin feature", run_dir, env={}, sinks=["file-sink"])
    with t.run(), t.agent("coder", 1):
        t.event("gate.result", payload={"passed": False})
    t.close()
    lines = (run_dir / "plugin-events.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"run_id": "run-9", "feature": "Plugin feature"}
    assert [json.loads(x) for x in lines[1:]] == read_events(run_dir)


def test_unknown_or_broken_plugins_are_user_errors(plugin_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="did you mean 'file-sink'"):
        Tracer.create("r", "F", tmp_path, env={}, sinks=["file-snk"])
    with pytest.raises(UserError, match=r"broken-sink.*plugin bug"):
        Tracer.create("r", "F", tmp_path, env={}, sinks=["broken-sink"])
