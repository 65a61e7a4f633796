"""`mcp_servers:`, `approvals:` and `hooks:` in a crew or a feature: schema errors and name
checks with file:line and "did you mean", and the feature laid over the crew."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from crew.errors import UserError
from crew.spec.resolve import resolve_feature
from crew.spec.validate import validate_path

CODER = {"title": "Coder", "goal": "Code.", "instructions": "Write code.",
         "tools": ["read_file", "mcp:issues/*"]}


def _feature(tmp: Path, extra: str, crew_extra: str = "") -> Path:
    (tmp / "roles").mkdir()
    (tmp / "roles" / "coder.yaml").write_text(yaml.safe_dump(CODER))
    (tmp / "crews").mkdir()
    (tmp / "crews" / "team.yaml").write_text(textwrap.dedent("""\
        supervisor: supervisor
        members: [coder]
        patterns: [single]
        defaults: {pattern: single}
        models: {model_list: [{model_name: smart, litellm_params: {model: openai/x}}]}
        """) + crew_extra)
    path = tmp / "feature.yaml"
    path.write_text("title: T\ngoal: G\ncrew: team\n" + extra)
    return path


def test_the_feature_is_laid_over_the_crew(tmp_path: Path) -> None:
    path = _feature(tmp_path, textwrap.dedent("""\
        mcp_servers:
          issues: {command: [python, srv.py], env: [GITHUB_TOKEN]}
        approvals: {"mcp:*": ask, run_command: deny}
        hooks: [{name: protect, settings: {paths: [a/**]}}]
        """), crew_extra=textwrap.dedent("""\
        mcp_servers:
          issues: {command: [python, old.py]}
          search: {url: "http://127.0.0.1:8765/mcp"}
        approvals: {run_command: ask, git_diff: auto}
        hooks: [{name: protect, settings: {paths: [b/**]}}]
        """))
    tools = resolve_feature(path).tools
    assert tools.servers["issues"].command == ["python", "srv.py"]
    assert tools.servers["search"].url == "http://127.0.0.1:8765/mcp"
    assert tools.server_dirs["issues"] == str(tmp_path)
    assert tools.approvals == {"run_command": "deny", "git_diff": "auto", "mcp:*": "ask"}
    assert [h.settings for h in tools.hooks] == [{"paths": ["a/**"]}]


@pytest.mark.parametrize("extra, phrases", [
    ("mcp_servers: {issues: {command: [python]}}\napprovals: {run_comand: ask}\n",
     ["feature.yaml:5:", "approvals.run_comand", "did you mean 'run_command'"]),
    ("mcp_servers: {issus: {command: [python]}}\n",
     ["coder.yaml:", "tools[1]", "unknown MCP server 'issues'", "did you mean 'issus'"]),
    ("mcp_servers: {issues: {command: [python], url: 'http://x'}}\n",
     ["feature.yaml:4:", "mcp_servers.issues", "exactly one of `command`"]),
    ("mcp_servers: {issues: {comand: [python]}}\n",
     ["mcp_servers.issues", "unknown field 'comand'", "did you mean 'command'"]),
    ("mcp_servers: {issues: {command: [python]}}\napprovals: {run_command: sometimes}\n",
     ["approvals.run_command", "'auto', 'ask' or 'deny'"]),
    ("mcp_servers: {issues: {command: [python]}}\nhooks: [{name: protekt}]\n",
     ["feature.yaml:5:", "hooks[0].name", "unknown hook 'protekt'", "did you mean 'protect'"]),
    ("mcp_servers: {issues: {command: [python]}}\napprovals: {'mcp:isues/x': ask}\n",
     ["approvals", "unknown MCP server 'isues'"]),
])
def test_bad_tool_sections(tmp_path: Path, extra: str, phrases: list[str]) -> None:
    path = _feature(tmp_path, extra)
    with pytest.raises(UserError) as err:
        validate_path(path)
    text = str(err.value)
    for phrase in phrases:
        assert phrase in text, text


def test_globs_and_declared_server_tools_are_accepted(tmp_path: Path) -> None:
    path = _feature(tmp_path, textwrap.dedent("""\
        mcp_servers: {issues: {url: "https://example.invalid/mcp"}}
        approvals: {"mcp:*": ask, "run_*": deny, issues__get_issue: auto, "mcp:issues/x": auto}
        """))
    assert validate_path(path).kind == "feature"
