"""The tool sections a crew or a feature may set (DESIGN.md §2): `mcp_servers`, `approvals`,
`hooks`, and the checks on the names they use. The feature's entries win over the crew's.

    mcp_servers:
      issues: {command: [python, tools/issue_server.py], env: [GITHUB_TOKEN]}   # stdio
      search: {url: http://127.0.0.1:8765/mcp}                                 # streamable HTTP
    approvals: {run_command: ask, "mcp:*": ask}          # auto | ask | deny, names or globs
    hooks: [{name: protect, settings: {paths: ["migrations/**"]}}]   # crew.hooks entry points
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crew.plugins import entry_point_names

HOOKS_GROUP = "crew.hooks"
BUILTIN_HOOKS: tuple[str, ...] = ("protect",)
SERVER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
MCP_REF_RE = re.compile(r"^mcp:([^/]+)/(.+)$")  # mcp:<server>/<tool or glob>
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ApprovalName = Literal["auto", "ask", "deny"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)


class McpServerSpec(_Strict):
    """One MCP server: a stdio `command` crew starts (once per run), or a streamable-HTTP `url`
    someone else runs. Only the environment variables listed in `env` reach a stdio server
    (plus the MCP SDK's non-secret basics: HOME, LOGNAME, PATH, SHELL, TERM, USER)."""

    command: list[str] | None = Field(default=None, min_length=1,
                                      description="Argv of a stdio server, e.g. [python, s.py].")
    url: str | None = Field(default=None, description="A streamable-HTTP endpoint (http[s]://).")
    env: list[str] = Field(default_factory=list, description="Variables passed to the server.")
    cwd: str | None = Field(default=None, description="Working directory (relative to the file).")
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Per call and at start.")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command` (stdio) or `url` (streamable HTTP)")
        if self.url is not None and not re.match(r"^https?://", self.url):
            raise ValueError(f"url {self.url!r} must start with http:// or https://")
        if self.url is not None and (self.env or self.cwd):
            raise ValueError("`env` and `cwd` apply to stdio servers (`command`) only")
        return self

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not ENV_RE.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return v


class HookSpec(_Strict):
    """A hook plugin (a `crew.hooks` entry point) and its settings."""

    name: str = Field(min_length=1, description="Entry-point name, e.g. protect.")
    settings: dict[str, Any] = Field(default_factory=dict)


class ToolSection(_Strict):
    """The fields a crew and a feature share: MCP servers, approvals, hooks."""

    mcp_servers: dict[str, McpServerSpec] = Field(
        default_factory=dict, description="MCP servers whose tools roles list as mcp:<server>/<tool|*>.")
    approvals: dict[str, ApprovalName] = Field(
        default_factory=dict, description="Tool name or glob -> auto | ask | deny.")
    hooks: list[HookSpec] = Field(default_factory=list, description="crew.hooks plugins to run.")

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, v: dict[str, McpServerSpec]) -> dict[str, McpServerSpec]:
        for name in v:
            if not SERVER_RE.match(name) or "__" in name:
                raise ValueError(f"server name {name!r}: use letters, digits, '_' or '-' "
                                 "(no '__'), starting with a letter, at most 32 characters")
        return v


@dataclass
class ToolSettings:
    """The crew's tool sections with the feature's laid over them (later wins)."""

    servers: dict[str, McpServerSpec] = field(default_factory=dict)
    server_dirs: dict[str, str] = field(default_factory=dict)  # where each server was declared
    approvals: dict[str, ApprovalName] = field(default_factory=dict)
    hooks: list[HookSpec] = field(default_factory=list)

    def add(self, section: ToolSection, base_dir: str) -> None:
        for name, server in section.mcp_servers.items():
            self.servers[name] = server
            self.server_dirs[name] = base_dir
        self.approvals.update(section.approvals)
        names = {h.name for h in section.hooks}
        self.hooks = [h for h in self.hooks if h.name not in names] + list(section.hooks)


def known_hook_names() -> frozenset[str]:
    return frozenset(BUILTIN_HOOKS) | entry_point_names(HOOKS_GROUP)


def mcp_ref_problem(ref: str, servers: set[str] | None) -> tuple[str, str | None] | None:
    """What is wrong with a role's `mcp:<server>/<tool|glob>` entry: (message, hint), or None.
    `servers` None: the declared servers are unknown here (a role file checked alone)."""
    from crew.spec.suggest import did_you_mean

    m = MCP_REF_RE.match(ref)
    if m is None:
        return (f"{ref!r} is not an MCP tool reference",
                "write mcp:<server>/<tool> or mcp:<server>/*")
    server = m.group(1)
    if servers is not None and server not in servers:
        hint = did_you_mean(server, servers).strip(" ()") or (
            f"declared servers: {', '.join(sorted(servers))}" if servers else
            "declare it under `mcp_servers:` in the crew or the feature")
        return f"unknown MCP server {server!r}", hint
    return None


def check_tool_sections(owners: list[Any], add: Any) -> None:
    """Hook names must be installed; approval keys that are plain names must name a known tool
    or a declared server's tool. `owners` are Loaded crew/feature specs (later wins)."""
    from crew.spec.catalog import known_tool_names
    from crew.spec.suggest import did_you_mean

    servers = {n for o in owners for n in o.spec.mcp_servers}
    hooks, tools = known_hook_names(), known_tool_names()
    for o in owners:
        for i, h in enumerate(o.spec.hooks):
            if h.name not in hooks:
                add(o.problem(f"unknown hook {h.name!r}", ("hooks", i, "name"),
                              hint=did_you_mean(h.name, hooks).strip(" ()") or
                              f"installed hooks: {', '.join(sorted(hooks))}"))
        for key in o.spec.approvals:
            if any(ch in key for ch in "*?["):
                continue  # a glob: matches whatever it matches
            if key.startswith("mcp:"):
                bad = mcp_ref_problem(key, servers)
                if bad:
                    add(o.problem(bad[0], ("approvals", key), hint=bad[1]))
            elif key.split("__", 1)[0] not in servers and key not in tools:
                add(o.problem(f"approvals name unknown tool {key!r}", ("approvals", key),
                              hint=did_you_mean(key, tools).strip(" ()") or
                              "use a tool name, a glob such as 'mcp:*', or mcp:<server>/<tool>"))
