"""One pydantic model per YAML kind (DESIGN.md §2). Unknown keys are rejected everywhere except
inside LiteLLM's own `litellm_params` / `model_info`, which belong to LiteLLM."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from crew.spec.router_config import (
    GENERAL_ONLY_ROUTER_KEYS,
    IGNORED_LITELLM_SETTINGS,
    PROXY_ONLY_SECTIONS,
    ROUTER_SETTINGS_KEYS,
    Deployment,
    EnvValue,
    LiteLLMParams,
    ModelsConfig,
)
from crew.spec.strict import NAME_RE, Strict, check_name
from crew.spec.tooling import ToolSection

Name = str  # validated with NAME_RE where it names a library entry
# An engine's name: native, or one registered under the `crew.engines` entry points (autogen
# and crewai ship with crew); unknown names and kinds an engine does not run are checked above
# spec, by crew.patterns.checks.
Engine = Annotated[str, Field(pattern=NAME_RE)]
SandboxName = Literal["auto", "docker", "bwrap", "local"]
# Repository notes across runs: off, kept in .crew/knowledge.md (on), or committed as CREW.md.
KnowledgeMode = Literal["off", "on", "commit"]


def knowledge_of(v: Any) -> Any:
    """YAML 1.1 reads a bare `on`/`off` as a boolean: take it as the word the user wrote."""
    return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v


_KNOWLEDGE_HELP = ("Notes crew keeps about the repository across runs: off, on "
                   "(.crew/knowledge.md, outside git; the default) or commit (CREW.md).")

# The termination condition names a pattern template may combine with | and & (issue 5 builds them).
# Not `budget`: a budget stop always ends a pattern (outcome budget), whatever the expression.
TERMINATION_NAMES = ("max_rounds", "consensus", "approved", "tests_pass", "guard")
NOT_A_CONDITION = {"budget": "a budget stop always ends the pattern (outcome budget): remove it"}
_TERM_TOKEN = re.compile(r"\s*(\(|\)|\||&|[a-z_]+)\s*")


# ---------------------------------------------------------------- roles/<name>.yaml


class RoleBudgetSpec(Strict):
    """A role's `budget:` (usd, tokens) over all its calls in a run; minutes belong to tasks
    (a role works on several at once)."""

    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)



class RoleSpec(Strict):
    """One specialist agent."""

    name: str = Field(default="", description="Defaults to the file name.")
    title: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    instructions: str = Field(min_length=1, description="The role's system prompt body.")
    model: str = Field(default="smart", description="A model alias from the router config.")
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    tools: list[str] = Field(default_factory=list, description="Names from the tool registry.")
    max_turns: int = Field(default=12, ge=1, le=200)
    budget: RoleBudgetSpec | None = Field(
        default=None, description="Limits over all of this role's calls in a run.")

    _n = field_validator("name")(lambda v: v and check_name(v))


# ---------------------------------------------------------------- patterns/<name>.yaml


def parse_termination(expr: str) -> list[str]:
    """Tokenise a termination expression such as `max_rounds | (approved & tests_pass)`.
    Returns the condition names; raises ValueError on a malformed expression."""
    pos, tokens = 0, []
    while pos < len(expr):
        m = _TERM_TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected text at {expr[pos:]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    depth, expect_operand, names = 0, True, []
    for t in tokens:
        if t == "(":
            if not expect_operand:
                raise ValueError("'(' where an operator was expected")
            depth += 1
        elif t == ")":
            depth -= 1
            if depth < 0 or expect_operand:
                raise ValueError("unbalanced ')'")
        elif t in "|&":
            if expect_operand:
                raise ValueError(f"'{t}' needs a condition before it")
            expect_operand = True
        else:
            if not expect_operand:
                raise ValueError(f"missing '|' or '&' before {t!r}")
            if t in NOT_A_CONDITION:
                raise ValueError(f"{t!r} is not a termination condition: {NOT_A_CONDITION[t]}")
            if t not in TERMINATION_NAMES:
                from crew.spec.suggest import did_you_mean

                raise ValueError(
                    f"unknown termination condition {t!r}{did_you_mean(t, TERMINATION_NAMES)}"
                )
            names.append(t)
            expect_operand = False
    if depth or expect_operand:
        raise ValueError("incomplete expression")
    return names


class PatternSpec(Strict):
    """A pattern template: a registered kind plus default params and termination."""

    name: str = Field(default="", description="Defaults to the file name.")
    kind: str = Field(min_length=1, description="The registered implementation, e.g. debate.")
    description: str = Field(min_length=1, description="Read by the supervisor when choosing.")
    params: dict[str, Any] = Field(default_factory=dict)
    termination: str | None = Field(
        default=None, description="Conditions combined with | and &, e.g. 'max_rounds | approved'."
    )
    engine: Engine = "native"

    _n = field_validator("name")(lambda v: v and check_name(v))

    @field_validator("termination")
    @classmethod
    def _term(cls, v: str | None) -> str | None:
        if v is not None:
            parse_termination(v)
        return v


# ---------------------------------------------------------------- tasks/<name>.yaml


class TaskTemplateSpec(Strict):
    """A task the supervisor can instantiate."""

    name: str = Field(default="", description="Defaults to the file name.")
    description: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1, description="Default participants, pattern order.")
    pattern: str = Field(min_length=1, description="Default pattern template.")
    outputs: list[str] = Field(default_factory=list, description="Expected outputs.")
    acceptance: list[str] = Field(default_factory=list, description="Acceptance hints.")
    budget: BudgetSpec | None = Field(
        default=None, description="Limits of each task made from this template.")

    _n = field_validator("name")(lambda v: v and check_name(v))


# ---------------------------------------------------------------- crews/<name>.yaml


class SandboxSpec(Strict):
    """A crew's or a feature's `sandbox:` section: where commands run and their limits.
    The feature's keys win over the crew's, flags over both (`merge_sandbox`)."""

    backend: SandboxName = "auto"
    memory_mb: int = Field(default=2048, ge=128, le=1_048_576, description="MiB, all processes.")
    cpus: float = Field(default=2.0, gt=0, le=1024)
    pids: int = Field(default=256, ge=16, le=1_000_000, description="Processes and threads.")
    timeout_s: int = Field(default=600, ge=1, le=86_400, description="Seconds per command.")
    network: bool = False
    protected: list[str] | None = Field(
        default=None,
        description="Secret files masked in the sandbox and refused by the file tools, at any "
        "depth (default: .env, .env.*, .envrc, .netrc, ...); .git and .crew always are.",
    )

    share: list[str] | None = Field(
        default=None, description="Untracked repository directories (.venv, node_modules) "
        "bound read-only into every worktree (default: those of .venv, venv, node_modules "
        "present).")
    mounts: list[str] = Field(default_factory=list, description="More host paths (absolute "
                              "or ~/...) visible read-only; credentials under home stay hidden.")
    image: str | None = Field(default=None, description="Docker image (default: the repo's "
                              ".devcontainer image, else CREW_SANDBOX_IMAGE or crew-sandbox).")
    setup_network: bool = Field(default=False, description="Network for the `setup:` commands.")

    @field_validator("protected", "share")
    @classmethod
    def _patterns(cls, v: list[str] | None) -> list[str] | None:
        for pat in v or []:
            if not pat.strip() or pat.startswith(("/", "~")) or ".." in pat.split("/"):
                raise ValueError(f"{pat!r} is not a workspace-relative path such as '.env' "
                                 "or 'config/secrets.yaml'")
        return v

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, v: list[str]) -> list[str]:
        for m in v:
            if not (m.startswith("/") or m == "~" or m.startswith("~/")):
                raise ValueError(f"{m!r} is not an absolute or ~/ path")
        return v


def merge_sandbox(base: str, *sections: SandboxSpec | dict[str, Any] | None) -> SandboxSpec:
    """`base` (the crew's defaults.sandbox backend) overlaid by each section's explicitly set
    keys in order (crew, feature, flags): later wins."""
    data: dict[str, Any] = {"backend": base}
    for sec in sections:
        if isinstance(sec, SandboxSpec):
            data.update({k: getattr(sec, k) for k in sec.model_fields_set})
        elif sec:
            data.update({k: v for k, v in sec.items() if v is not None})
    return SandboxSpec.model_validate(data)


class GateFixSettings(Strict):
    """Who fixes failing acceptance gates, under which pattern, how many times."""

    roles: list[str] | None = Field(
        default=None, description="The fix task's roles in the pattern's order (default: the "
        "crew's coder and tester, else reviewer, else its first member).")
    pattern: str | None = Field(
        default=None, description="The fix task's pattern template (default: the crew's first "
        "review_loop, else its default pattern).")
    max_rounds: int = Field(default=2, ge=0, le=10, description="Fix tasks before the run "
                            "fails (0: none).")


TEST_COMMAND_DOC = ("The project's test command (run_tests runs it; the roles are told it). "
                    "Default: detected (pytest config, package.json, go.mod, Cargo.toml, "
                    "Makefile) or AGENTS.md's `Test command:` line; a feature's wins over a "
                    "crew's.")


class CrewDefaults(Strict):
    pattern: str = "single"
    max_parallel: int = Field(default=3, ge=1, le=64)
    sandbox: SandboxName = "auto"
    fix: GateFixSettings = Field(default_factory=GateFixSettings)
    implement: str = Field(default="implement", description="The task template a plan falls "
                           "back to (the goal as one task) when the supervisor's is unreadable.")


class CrewSpec(Strict, ToolSection):
    """A team: a supervisor, members, router config, allowed patterns, defaults."""

    name: str = Field(default="", description="Defaults to the file name.")
    description: str = ""
    supervisor: str = Field(min_length=1, description="The role that plans.")
    members: list[str] = Field(min_length=1, description="Roles tasks may use.")
    models: ModelsConfig | str | None = Field(
        default=None, description="Inline LiteLLM router config, or a path to one."
    )
    patterns: list[str] = Field(min_length=1, description="Pattern templates tasks may use.")
    templates: list[str] = Field(default_factory=list, description="Task templates on offer.")
    defaults: CrewDefaults = Field(default_factory=CrewDefaults)
    knowledge: KnowledgeMode | None = Field(default=None, description=_KNOWLEDGE_HELP)
    _k = field_validator("knowledge", mode="before")(lambda v: knowledge_of(v))
    sandbox: SandboxSpec | None = Field(default=None, description="Sandbox backend and limits.")
    setup: list[str] = Field(default_factory=list, description="Commands run once per worktree "
                             "in the sandbox before its first command (`uv sync`, `npm ci`).")
    test_command: str | None = Field(default=None, min_length=1, description=TEST_COMMAND_DOC)

    _n = field_validator("name")(lambda v: v and check_name(v))

    @field_validator("members")
    @classmethod
    def _unique_members(cls, v: list[str]) -> list[str]:
        dupes = sorted({m for m in v if v.count(m) > 1})
        if dupes:
            raise ValueError(f"role {dupes[0]!r} is listed more than once")
        return v

    def all_roles(self) -> list[str]:
        return [self.supervisor, *[m for m in self.members if m != self.supervisor]]


# ---------------------------------------------------------------- feature.yaml


class AcceptanceCommand(Strict):
    run: str = Field(min_length=1, description="A shell command run in the sandbox.")
    name: str = ""
    timeout: int = Field(default=600, ge=1, description="Seconds.")


def commands_of(v: Any) -> Any:
    """A command list as YAML may write it: a bare string is `{run: <string>}`."""
    if isinstance(v, list):
        return [{"run": x} if isinstance(x, str) else x for x in v]
    return v


class BudgetSpec(Strict):
    """A feature's `budget:` (the run's limits; crew.llm.Budget enforces them)."""

    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)
    minutes: float | None = Field(default=None, gt=0)


class PinnedTask(Strict):
    """A task written by the user; the supervisor plans the rest around it."""

    id: str
    title: str = Field(min_length=1)
    description: str = ""
    template: str | None = None
    pattern: str | None = None
    roles: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    engine: Engine | None = None
    acceptance: list[str] = Field(default_factory=list)
    budget: BudgetSpec | None = Field(default=None, description="This task's own limits.")

    _i = field_validator("id")(check_name)


class FeatureSpec(Strict, ToolSection):
    """One feature: what to build, where, with which crew, under which gates and budget."""

    title: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    repo: str = Field(default=".", description="Git repo, relative to this file.")
    base: str | None = Field(default=None, description="Starting point (default: HEAD).")
    crew: str = "software-team"
    models: str | None = Field(default=None, description="Path to a LiteLLM router config.")
    acceptance: list[AcceptanceCommand] = Field(default_factory=list)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    tasks: list[PinnedTask] = Field(default_factory=list)
    knowledge: KnowledgeMode | None = Field(default=None, description=_KNOWLEDGE_HELP
                                            + " Overrides the crew's.")
    _k = field_validator("knowledge", mode="before")(lambda v: knowledge_of(v))
    sandbox: SandboxSpec | None = Field(default=None, description="Overrides the crew's.")
    setup: list[str] | None = Field(default=None, description="Replaces the crew's `setup:`.")
    test_command: str | None = Field(default=None, min_length=1, description=TEST_COMMAND_DOC)

    @field_validator("acceptance", mode="before")
    @classmethod
    def _str_commands(cls, v: Any) -> Any:
        return commands_of(v)


# ---------------------------------------------------------------- suite.yaml (crew eval)


class SuiteCase(Strict):
    """One feature to build on one repo, judged by checks the crew never sees."""

    id: str = Field(pattern=NAME_RE)
    repo: str = Field(min_length=1, description="A directory (copied into a fresh git repo) or "
                      "a git bundle, relative to the suite file.")
    feature: str = Field(min_length=1, description="The feature.yaml, relative to the suite.")
    hidden: str | None = Field(default=None, description="A directory copied into the result "
                               "as hidden/ only for the checks (never seen by the crew).")
    checks: list[AcceptanceCommand] = Field(min_length=1, description="Commands run in the "
                                            "sandbox on the resulting branch; all must pass.")

    @field_validator("checks", mode="before")
    @classmethod
    def _str_checks(cls, v: Any) -> Any:
        return commands_of(v)


class SuiteVariant(Strict):
    """What to compare: each may set the crew, the default pattern and the models file."""

    id: str = Field(pattern=NAME_RE)
    crew: str | None = Field(default=None, description="A crew name or a crew file (relative "
                             "to the suite) instead of each feature's.")
    pattern: str | None = Field(default=None, description="The crew's default pattern.")
    models: str | None = Field(default=None, description="A LiteLLM router config, relative "
                               "to the suite, instead of each feature's; `{case}` in the path "
                               "is the case id (one file per case).")


class SuiteBudget(Strict):
    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)


class SuiteSpec(Strict):
    """suite.yaml for `crew eval`: cases x variants x repeat, under one budget."""

    name: str = Field(default="", description="Defaults to the file name.")
    cases: list[SuiteCase] = Field(min_length=1)
    variants: list[SuiteVariant] = Field(min_length=1)
    repeat: int = Field(default=1, ge=1, le=100)
    budget: SuiteBudget = Field(default_factory=SuiteBudget)
    max_parallel: int = Field(default=2, ge=1, le=64, description="Runs at once (local).")


KINDS: dict[str, type[BaseModel]] = {
    "feature": FeatureSpec,
    "role": RoleSpec,
    "pattern": PatternSpec,
    "task": TaskTemplateSpec,
    "crew": CrewSpec,
    "models": ModelsConfig,
    "suite": SuiteSpec,
}
# Library folder of each kind (the feature and models kinds are not library entries).
KIND_DIRS = {"role": "roles", "pattern": "patterns", "task": "tasks", "crew": "crews"}

# the models of every kind (the `models` kind's from crew.spec.router_config, the base from
# crew.spec.strict: importable from here as before)
__all__ = [
    'GENERAL_ONLY_ROUTER_KEYS',
    'IGNORED_LITELLM_SETTINGS',
    'KINDS',
    'KIND_DIRS',
    'NAME_RE',
    'NOT_A_CONDITION',
    'PROXY_ONLY_SECTIONS',
    'ROUTER_SETTINGS_KEYS',
    'TERMINATION_NAMES',
    'TEST_COMMAND_DOC',
    'AcceptanceCommand',
    'BudgetSpec',
    'CrewDefaults',
    'CrewSpec',
    'Deployment',
    'Engine',
    'EnvValue',
    'FeatureSpec',
    'GateFixSettings',
    'KnowledgeMode',
    'LiteLLMParams',
    'ModelsConfig',
    'Name',
    'PatternSpec',
    'PinnedTask',
    'RoleBudgetSpec',
    'RoleSpec',
    'SandboxName',
    'SandboxSpec',
    'Strict',
    'SuiteBudget',
    'SuiteCase',
    'SuiteSpec',
    'SuiteVariant',
    'TaskTemplateSpec',
    'check_name',
    'commands_of',
    'knowledge_of',
    'merge_sandbox',
    'parse_termination',
]
