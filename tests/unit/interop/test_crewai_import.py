"""`crew import crewai`: two real CrewAI layouts in, crew files out that `crew validate` and
resolve_feature accept, with everything that did not map listed in the report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from crew.errors import UserError
from crew.interop.crewai_import_read import load_jsonc
from crew.spec.library import builtin_library_dir
from crew.spec.resolve import resolve_feature
from shared_helpers import CliResult, crew_in_process

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crewai"

def crew(*args: str) -> CliResult:
    """The CLI as a user runs it, in-process (crew.cli.app.main, what the console script calls)."""
    return crew_in_process(*args, env={**os.environ, "COLUMNS": "200"})


def project(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def validate_all(out: Path) -> None:
    files = sorted(str(p) for p in out.rglob("*.yaml"))
    proc = crew("validate", "--spec-only", *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok ") == len(files)


def test_classic_project(tmp_path: Path) -> None:
    src = project(tmp_path, "classic")
    proc = crew("import", "crewai", str(src))
    assert proc.returncode == 0, proc.stderr
    out = src / "crew"
    expected = {"feature.yaml", "models.yaml", "IMPORT_REPORT.md", "crews/release_notes.yaml",
                "roles/historian.yaml", "roles/writer.yaml", "tasks/collect_changes.yaml",
                "tasks/write_notes.yaml"}
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == expected
    validate_all(out)

    resolved = resolve_feature(out / "feature.yaml")
    assert resolved.crew.path == out / "crews" / "release_notes.yaml"
    assert resolved.roles["historian"].path == out / "roles" / "historian.yaml"
    assert resolved.roles["supervisor"].path.is_relative_to(builtin_library_dir())
    assert set(resolved.templates) == {"collect_changes", "write_notes"}
    assert {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "smart", "fast"} <= \
        resolved.models.aliases()

    historian = resolved.roles["historian"].spec
    assert historian.title == "{product} Change Historian"
    assert historian.goal == "Find every user-visible change to {product} since {since}"
    assert historian.instructions.startswith("You read commit logs and diffs for a living.")
    assert historian.model == "openai/gpt-4o-mini"
    # mapped tools first, then crew's file tools every imported worker gets
    assert historian.tools == ["read_file", "list_files", "write_file", "edit_file",
                               "search_code"]
    assert historian.max_turns == 15
    assert resolved.roles["writer"].spec.tools == ["write_file", "read_file", "edit_file",
                                                   "list_files", "search_code"]

    notes = resolved.templates["write_notes"].spec
    assert notes.roles == ["writer"] and notes.pattern == "single"
    assert notes.outputs[0].startswith("Release notes in Markdown")
    assert "RELEASE_NOTES.md" in notes.outputs[1]

    tasks = resolved.feature.spec.tasks
    assert [t.id for t in tasks] == ["collect_changes", "write_notes"]
    assert tasks[1].depends_on == ["collect_changes"] and tasks[0].depends_on == []
    assert resolved.crew.spec.defaults.pattern == "single"

    report = (out / "IMPORT_REPORT.md").read_text(encoding="utf-8")
    body, next_line = report.strip().rsplit("\n", 1)
    assert body in proc.stdout and next_line == (
        "Next: `crew validate feature.yaml`, then `crew run feature.yaml --plan-only`.")
    for unmapped in ("historian.allow_delegation", "historian.verbose", "writer.memory",
                     '"SerperDevTool"', "collect_changes.async_execution",
                     "write_notes.human_input"):
        line = next((ln for ln in report.splitlines() if unmapped in ln), None)
        assert line is not None, unmapped
        assert line.startswith("- src/release_notes/config/")
    assert "agents.yaml:15: `historian.allow_delegation`" in report
    assert "`{product}`" in report and "`{since}`" in report
    assert "crew.py was read with ast, never run" in report


def test_jsonc_project(tmp_path: Path) -> None:
    src = project(tmp_path, "jsonc")
    out = tmp_path / "converted"
    proc = crew("import", "crewai", str(src), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not (src / "crew").exists()
    validate_all(out)

    resolved = resolve_feature(out / "feature.yaml")
    crew_spec = resolved.crew.spec
    assert crew_spec.name == "security_review_crew"
    assert crew_spec.supervisor == "lead" and crew_spec.members == ["auditor", "fixer"]
    assert crew_spec.defaults.pattern == "supervisor_worker"
    assert resolved.roles["lead"].path == out / "roles" / "lead.yaml"

    auditor = resolved.roles["auditor"].spec
    assert auditor.model == "ollama/llama3.3" and auditor.temperature == 0.1
    assert auditor.tools == ["read_file", "search_code", "write_file", "edit_file",
                             "list_files"] and auditor.max_turns == 20
    fixer = resolved.roles["fixer"].spec
    assert fixer.tools == ["read_file", "write_file", "run_command", "edit_file", "list_files",
                           "search_code"]
    assert fixer.max_tokens == 4000
    models = {d.model_name: d.litellm_params for d in resolved.models.model_list}
    assert models["ollama/llama3.3"].model_dump()["api_base"] == "http://localhost:11434"
    assert models["smart"].model == "openai/gpt-4o"

    audit = resolved.templates["audit"].spec
    assert audit.acceptance == ["Every finding names a file and line that exist."]
    sign_off = resolved.templates["sign_off"].spec  # no agent: the manager leads the workers
    assert sign_off.pattern == "supervisor_worker"
    assert sign_off.roles == ["lead", "auditor", "fixer"]

    tasks = {t.id: t for t in resolved.feature.spec.tasks}
    assert list(tasks) == ["audit", "fix", "sign_off"]
    assert tasks["audit"].depends_on == []  # hierarchical: only context orders tasks
    assert tasks["sign_off"].depends_on == ["audit", "fix"]
    assert "src/app/upload.py" in resolved.feature.spec.goal

    report = (out / "IMPORT_REPORT.md").read_text(encoding="utf-8")
    for unmapped in ("fix.output_pydantic", '"custom:semgrep_scan"', "crew.memory",
                     "crew.planning", "auditor.allow_delegation", "lead.allow_delegation"):
        assert unmapped in report, unmapped
    assert "agents/auditor.jsonc:11: `auditor.allow_delegation`" in report
    assert "crew.jsonc:23: `fix.output_pydantic`" in report
    assert "`{module}`" in report


def test_overwrite_is_refused_without_force(tmp_path: Path) -> None:
    src = project(tmp_path, "classic")
    assert crew("import", "crewai", str(src)).returncode == 0
    role = src / "crew" / "roles" / "writer.yaml"
    role.write_text("title: mine\ngoal: g\ninstructions: i\n", encoding="utf-8")

    proc = crew("import", "crewai", str(src))
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert role.read_text(encoding="utf-8").startswith("title: mine")

    proc = crew("import", "crewai", str(src), "--force")
    assert proc.returncode == 0, proc.stderr
    assert load(role)["title"] == "Release Notes Writer"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


CLASSIC_CFG = "src/release_notes/config"


@pytest.mark.parametrize(("name", "file", "old", "new", "expect"), [
    ("unknown agent", f"{CLASSIC_CFG}/tasks.yaml", "agent: writer", "agent: wirter",
     ["tasks.yaml:15:", "names agent 'wirter', which is not defined", "did you mean 'writer'"]),
    ("unknown context", f"{CLASSIC_CFG}/tasks.yaml", "[collect_changes]", "[collect_change]",
     ["tasks.yaml:16:", "context names task 'collect_change'", "collect_changes"]),
    ("yaml syntax", f"{CLASSIC_CFG}/agents.yaml", "  verbose: true", "  verbose: [true",
     ["agents.yaml:", "YAML syntax error"]),
    ("missing backstory", f"{CLASSIC_CFG}/agents.yaml",
     "  backstory: >\n    You write short", "  notes: >\n    You write short",
     ["agents.yaml:19:", "agent 'writer' has no 'backstory'"]),
    ("jsonc syntax", "crew.jsonc", '"agent": "fixer",', '"agent": "fixer"',
     ["crew.jsonc:22:", "JSON syntax error"]),
    ("missing agent file", "crew.jsonc", '["auditor", "fixer"]', '["auditor", "fixr"]',
     ["crew.jsonc:6:", "agent 'fixr' has no file agents/fixr.jsonc", "did you mean 'fixer'"]),
    ("jsonc unknown agent", "crew.jsonc", '"agent": "auditor"', '"agent": "audit0r"',
     ["crew.jsonc:13:", "names agent 'audit0r'"]),
    ("unterminated comment", "agents/fixer.jsonc", '"llm":', '/* "llm":',
     ["fixer.jsonc:5:", "unterminated /* comment"]),
])
def test_bad_input_exits_2_with_location(tmp_path: Path, name: str, file: str, old: str,
                                          new: str, expect: list[str]) -> None:
    src = project(tmp_path, "jsonc" if "json" in file else "classic")
    _edit(src / file, old, new)
    proc = crew("import", "crewai", str(src))
    assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    for text in expect:
        assert text in proc.stderr, (name, proc.stderr)
    assert not (src / "crew").exists()


@pytest.mark.parametrize("layout", ["missing", "empty"])
def test_not_a_crewai_project(tmp_path: Path, layout: str) -> None:
    target = tmp_path / "nothing"
    if layout == "empty":
        target.mkdir()
    proc = crew("import", "crewai", str(target))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ("no such directory" if layout == "missing" else "no CrewAI project found") \
        in proc.stderr


def test_jsonc_reader_keeps_strings_and_positions(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonc"
    f.write_text('{\n  // a comment with "quotes"\n  "url": "http://x/*y*/", /* block\n'
                 '  comment */ "esc": "a\\"//b",\n  "list": [1, 2,],\n  "nested": {"k": true,},\n}\n',
                 encoding="utf-8")
    doc = load_jsonc(f)
    assert doc.data == {"url": "http://x/*y*/", "esc": 'a"//b', "list": [1, 2],
                        "nested": {"k": True}}
    assert doc.where(("url",), key=True) == (3, 3)
    assert doc.where(("esc",), key=True)[0] == 4
    assert doc.where(("list", 1)) == (5, 15)
    assert doc.where(("nested", "k"), key=True) == (6, 14)


def test_import_never_loads_crewai(tmp_path: Path) -> None:
    src = project(tmp_path, "jsonc")
    code = ("import sys; from pathlib import Path; "
            "from crew.interop.crewai_import import plan_import; "
            f"r = plan_import(Path({str(src)!r})); "
            "assert 'crewai' not in sys.modules and 'litellm' not in sys.modules; "
            "print(len(r.files))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "9"


def test_plan_import_raises_user_error(tmp_path: Path) -> None:
    from crew.interop.crewai_import import plan_import

    src = project(tmp_path, "classic")
    _edit(src / CLASSIC_CFG / "tasks.yaml", "  agent: historian\n", "")
    with pytest.raises(UserError) as info:
        plan_import(src)
    problem = info.value.problems[0]
    assert problem.file is not None and problem.file.endswith("tasks.yaml")
    assert problem.line == 1 and "has no agent" in problem.message
