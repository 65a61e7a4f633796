"""A plain-script CrewAI crew (module-level `Agent(config=...)`, `Task(..., agent=var)`,
`Crew(...)`, no @CrewBase) imports, with what Python sets cited at the script's lines and
CrewAI tools mapped to crew's (issue 26, item 8). Fixture: tests/fixtures/crewai/
screenplay_writer, written in the shape of crewAI-examples' crews/screenplay_writer."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from crew.interop.crewai_import import import_crewai
from crew.spec.validate import validate_path

FIXTURE = Path(__file__).parents[2] / "fixtures" / "crewai" / "screenplay_writer"


def test_screenplay_writer_imports_and_validates(tmp_path: Path) -> None:
    src = tmp_path / "screenplay_writer"
    shutil.copytree(FIXTURE, src)
    result = import_crewai(src, tmp_path / "out")
    out = tmp_path / "out"
    assert validate_path(out / "feature.yaml").kind == "feature"
    feature = yaml.safe_load((out / "feature.yaml").read_text())
    roles = {t["id"]: t["roles"] for t in feature["tasks"]}
    assert roles == {"task0": ["spamfilter"], "task1": ["analyst"], "task2": ["scriptwriter"],
                     "task3": ["formatter"], "task4": ["scorer"]}  # agent=var in the script
    analyst = yaml.safe_load((out / "roles" / "analyst.yaml").read_text())
    # tools=[FileReadTool()] in Python, then crew's file tools every imported worker gets
    assert analyst["tools"] == ["read_file", "write_file", "edit_file", "list_files",
                                "search_code"]
    report = result.report.render()
    assert "task0, task4 run outside the Crew(...)" in report


def test_what_python_sets_is_cited_at_the_script_line(tmp_path: Path) -> None:
    result = import_crewai(FIXTURE, tmp_path / "out")
    report = result.report.render()
    lines = (FIXTURE / "screenplay_writer.py").read_text().splitlines()
    tools_line = next(i for i, s in enumerate(lines, 1) if "FileReadTool()]" in s)
    output_line = next(i for i, s in enumerate(lines, 1) if "output_file=" in s)
    assert f"screenplay_writer.py:{tools_line}: tool FileReadTool → read_file" in report
    assert f"screenplay_writer.py:{output_line}: output_file →" in report
    assert "agents.yaml:1" not in report and "tasks.yaml" not in report.split("## Notes")[0] \
        .split("## Mapped")[1].split("task task0 →")[0]


CREW_PY = '''\
from crewai import Agent, Crew, Task
from crewai.project import CrewBase, agent, crew, task
from crewai_tools import DirectoryReadTool, FileReadTool


@CrewBase
class Notes:
    @agent
    def writer(self) -> Agent:
        return Agent(config=self.agents_config["writer"],
                     tools=[FileReadTool(), DirectoryReadTool()])

    @task
    def notes(self) -> Task:
        return Task(config=self.tasks_config["notes"], agent=self.writer(),
                    output_file="NOTES.md")

    @crew
    def crew(self) -> Crew:
        return Crew(agents=self.agents, tasks=self.tasks)
'''


def test_a_crewbase_crew_py_is_cited_at_its_own_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "proj" / "config"
    cfg.mkdir(parents=True)
    (cfg / "agents.yaml").write_text("writer:\n  role: Writer\n  goal: Write notes.\n"
                                     "  backstory: You write.\n")
    (cfg / "tasks.yaml").write_text("notes:\n  description: Write the notes.\n"
                                    "  expected_output: NOTES.md\n")
    (tmp_path / "proj" / "crew.py").write_text(CREW_PY)
    report = import_crewai(tmp_path / "proj", tmp_path / "out").report.render()
    assert "crew.py:11: tool FileReadTool → read_file" in report
    assert "crew.py:11: tool DirectoryReadTool → list_files" in report
    assert "crew.py:16: output_file →" in report
    assert "agents.yaml:1: tool" not in report and "tasks.yaml:1: output_file" not in report
