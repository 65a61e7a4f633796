"""`crew import crewai` on CrewAI's own templates (copied from the crewai 1.6.1 wheel) and on
projects shaped like crewAI-examples': agents set only in crew.py, Flows with several crews,
custom tools and LLM objects. Every import validates with `crew validate`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crew.interop.crewai_import import import_crewai
from crew.patterns.base import WRITING_TOOLS
from crew.spec.resolve import resolve_feature
from crew.spec.validate import validate_path

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crewai"
PROJECTS = ["templates/crew", "templates/flow", "examples/marketing", "examples/book_flow",
            "classic", "jsonc"]


def _import(tmp_path: Path, name: str) -> tuple[Path, str]:
    src = tmp_path / "project"
    shutil.copytree(FIXTURES / name, src)
    out = tmp_path / "out"
    result = import_crewai(src, out)
    return out, result.report_text


@pytest.mark.parametrize("name", PROJECTS)
def test_project_imports_and_validates(tmp_path: Path, name: str) -> None:
    out, report = _import(tmp_path, name)
    assert validate_path(out / "feature.yaml").kind == "feature"
    assert validate_path(out / "models.yaml").kind == "models"
    assert "## Not mapped" in report


def test_agents_set_in_python_are_recovered(tmp_path: Path) -> None:
    out, report = _import(tmp_path, "examples/marketing")
    feature = (out / "feature.yaml").read_text()
    assert "roles: [lead_market_analyst]" in feature
    assert "roles: [creative_content_creator]" in feature
    assert "depends_on: [marketing_strategy_task, research_task]" in feature
    analyst = (out / "roles" / "lead_market_analyst.yaml").read_text()
    assert "model: openai/gpt-4o" in analyst and "temperature: 0.3" in analyst
    assert "tools: [read_file, write_file, edit_file, list_files, search_code]" in analyst
    creator = (out / "roles" / "creative_content_creator.yaml").read_text()
    assert "model: anthropic/claude-3-5-sonnet-20241022" in creator
    # what Python sets and crew cannot map is listed with its crew.py line, never dropped
    for text in ('crew.py:38: `chief_marketing_strategist.tools (Python)` = "BrandVoiceTool()"',
                 "crew.py:40: `chief_marketing_strategist.llm (Python)` = \"ChatOpenAI(",
                 "crew.py:79: `copy_creation_task.callback (Python)`",
                 "crew.py:70: `marketing_strategy_task.output_json (Python)`",
                 "`crew.step_callback (Python)`",
                 '`lead_market_analyst.tools (Python)` = "SerperDevTool()"'):
        assert text in report, text
    assert "creative_content_creator.llm" not in report
    assert "task 'copy_creation_task' has no expected_output" in report
    assert "outputs: []" in (out / "tasks" / "copy_creation_task.yaml").read_text()


def test_flow_with_two_crews(tmp_path: Path) -> None:
    out, report = _import(tmp_path, "examples/book_flow")
    roles = sorted(p.stem for p in (out / "roles").glob("*.yaml"))
    assert roles == ["outliner", "researcher", "write_book_chapter_crew_researcher", "writer"]
    feature = (out / "feature.yaml").read_text()
    assert "roles: [write_book_chapter_crew_researcher]" in feature
    assert "a Flow with 2 crews (outline_crew, write_book_chapter_crew)" in report
    assert "outline_crew.py:23: `researcher.llm (Python)` = \"self.llm\"" in report
    assert "`generate_outline.output_pydantic (Python)` = \"BookOutline\"" in report


def test_template_flow_crew_file_is_read(tmp_path: Path) -> None:
    out, report = _import(tmp_path, "templates/flow")
    assert "poem_crew.py was read with ast" in report
    assert (out / "roles" / "poem_writer.yaml").is_file()


def test_task_defined_only_in_python(tmp_path: Path) -> None:
    src = tmp_path / "p"
    shutil.copytree(FIXTURES / "templates" / "crew", src)
    crew_py = src / "src" / "latest_ai" / "crew.py"
    crew_py.write_text(crew_py.read_text().replace(
        "    @crew\n",
        "    @task\n    def review_task(self) -> Task:\n        return Task(description='Review "
        "the report', expected_output='A verdict', agent=self.reporting_analyst())\n\n"
        "    @crew\n"))
    result = import_crewai(src, tmp_path / "out")
    assert "crew.py:53: review_task defined in Python" in result.report_text
    tpl = (tmp_path / "out" / "tasks" / "review_task.yaml").read_text()
    assert "Review the report" in tpl and "reporting_analyst" in tpl
    assert validate_path(tmp_path / "out" / "feature.yaml").kind == "feature"


def test_roles_without_crewai_tools_can_still_change_the_repository(tmp_path: Path) -> None:
    """CrewAI's own template gives its agents no tools: their answers are the tasks' results.
    In crew a result is a commit, so the imported workers get crew's file tools and the import
    says so; without them the crew would 'pass' every task with zero commits (issue 26)."""
    out, report = _import(tmp_path, "templates/crew")
    resolved = resolve_feature(out / "feature.yaml")
    workers = {r for t in resolved.feature.spec.tasks for r in t.roles}
    assert workers == {"researcher", "reporting_analyst"}
    for name in workers:
        tools = resolved.roles[name].spec.tools
        assert tools == ["read_file", "write_file", "edit_file", "list_files", "search_code"]
        assert WRITING_TOOLS & set(tools)
        assert f"roles/{name}.yaml: tools read_file, write_file, edit_file, list_files, " \
            "search_code added" in report
    # the manager of a hierarchical crew plans: it reads, like the built-in supervisor
    out, report = _import(tmp_path / "h", "jsonc")
    lead = resolve_feature(out / "feature.yaml").roles["lead"].spec
    assert lead.tools == ["read_file", "list_files", "search_code"]
