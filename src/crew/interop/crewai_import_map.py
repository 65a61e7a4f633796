"""What maps from CrewAI to crew, why the rest does not, and how the import report reads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

# CrewAI tool classes with an obvious crew equivalent (crew tools are confined to the workspace).
TOOL_MAP: dict[str, str] = {
    "FileReadTool": "read_file",
    "DirectoryReadTool": "list_files",
    "FileWriterTool": "write_file",
    "DirectorySearchTool": "search_code",
    "CodeInterpreterTool": "run_command",
}
# What every imported role gets besides its mapped tools. A CrewAI agent's answer is its task's
# result; in crew the result is a commit, so a worker without file tools passes with zero commits.
# The manager of a hierarchical crew plans, so it reads like crew's built-in supervisor.
WORKER_TOOLS = ["read_file", "write_file", "edit_file", "list_files", "search_code"]
MANAGER_TOOLS = ["read_file", "list_files", "search_code"]

# Agent, task and crew fields crew has no equivalent for, with the reason shown in the report.
AGENT_REASONS: dict[str, str] = {
    "allow_delegation": "crew agents do not delegate; the supervisor plans and assigns tasks",
    "verbose": "every step is always recorded in .crew/runs/<id>/events.jsonl (and Langfuse)",
    "memory": "no cross-task memory: tasks hand results on through the repository",
    "cache": "tool results are not cached",
    "max_rpm": "set rpm on the model's entry in models.yaml (a LiteLLM setting)",
    "max_execution_time": "use the feature's budget.minutes",
    "max_retry_limit": "LiteLLM retries come from router_settings.num_retries in models.yaml",
    "function_calling_llm": "a role has one model alias for everything",
    "respect_context_window": "crew elides long tool outputs itself",
    "knowledge_sources": "no knowledge sources; put reference files in the repository",
    "allow_code_execution": "give the role the run_command tool (sandboxed) instead",
    "step_callback": "no Python hooks; read the run's events.jsonl instead",
    "guardrail": "an agent-level guardrail has no equivalent; task guardrails become acceptance",
}
TASK_REASONS: dict[str, str] = {
    "async_execution": "independent tasks run concurrently anyway (crew defaults.max_parallel)",
    "human_input": "runs are unattended; review the run's branch afterwards",
    "output_json": "no structured task output; describe the format in the task's outputs",
    "output_pydantic": "no structured task output; describe the format in the task's outputs",
    "response_model": "no structured task output; describe the format in the task's outputs",
    "callback": "no Python hooks; read the run's events.jsonl instead",
    "tools": "tools belong to roles in crew; give the role the tool instead",
    "markdown": "ask for Markdown in the task's outputs instead",
    "converter_cls": "no Python hooks",
    "condition": "no conditional tasks; the supervisor decides what to plan",
    "type": "no task subclasses",
    "input_files": "put input files in the repository and name them in the description",
}
CREW_REASONS: dict[str, str] = {
    "verbose": AGENT_REASONS["verbose"],
    "memory": AGENT_REASONS["memory"],
    "cache": AGENT_REASONS["cache"],
    "max_rpm": AGENT_REASONS["max_rpm"],
    "planning": "crew always plans: the supervisor turns the goal into a task graph",
    "planning_llm": "the supervisor role's model alias (smart) plans",
    "function_calling_llm": AGENT_REASONS["function_calling_llm"],
    "embedder": "no embeddings or memory store",
    "knowledge_sources": AGENT_REASONS["knowledge_sources"],
    "output_log_file": "the run log is .crew/runs/<id>/events.jsonl",
    "step_callback": AGENT_REASONS["step_callback"],
    "task_callback": AGENT_REASONS["step_callback"],
    "before_kickoff_callbacks": AGENT_REASONS["step_callback"],
    "after_kickoff_callbacks": AGENT_REASONS["step_callback"],
    "stream": "crew show streams a run's conversation",
    "tracing": "crew traces to Langfuse when it is configured",
    "share_crew": "crew shares nothing with anyone",
}
DEFAULT_REASON = "no crew equivalent"

_VAR = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def template_vars(text: str) -> list[str]:
    """CrewAI kickoff placeholders such as {topic} in a text, in order, without repeats."""
    return list(dict.fromkeys(_VAR.findall(text)))


def short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def one_line(text: str) -> str:
    return " ".join(text.split())


def title_from(text: str, limit: int = 72) -> str:
    """A one-line title: the first sentence of text, cut at a word boundary."""
    flat = one_line(text)
    first = re.split(r"(?<=[.!?])\s", flat, maxsplit=1)[0].rstrip(".")
    if len(first) <= limit:
        return first
    return first[: limit - 1].rsplit(" ", 1)[0] + "…"


def safe_name(raw: str, prefix: str) -> str:
    """A crew library name (letters, digits, _ and -, starting with a letter) from raw."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "_", raw.strip()).strip("_-")
    if not s or not s[0].isalpha():
        s = f"{prefix}_{s}".rstrip("_")
    return s[:64]


@dataclass
class Report:
    """The import report: what was mapped, what was not (and why), what to do next."""

    source: str
    layout: str
    mapped: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    variables: dict[str, list[str]] = field(default_factory=dict)  # var -> where
    written: list[str] = field(default_factory=list)

    def skip(self, where: str, what: str, value: Any, reason: str) -> None:
        self.unmapped.append(f"{where}: `{what}` = {short(value)} — {reason}")

    def var(self, name: str, where: str) -> None:
        places = self.variables.setdefault(name, [])
        if where not in places:
            places.append(where)

    def render(self, feature: str = "feature.yaml") -> str:
        """The report; `feature`: the feature.yaml as the reader reaches it (the file in the
        output folder names it beside itself, the terminal from the cwd)."""
        layout = {"classic": "classic (config/agents.yaml, config/tasks.yaml)",
                  "jsonc": "JSON-first (crew.jsonc, agents/*.jsonc)"}[self.layout]
        out = ["# CrewAI import report", "", f"Source: `{self.source}` — {layout}", ""]
        if self.written:
            out += ["## Files written", "", *(f"- {w}" for w in self.written), ""]
        out += ["## Mapped", "", *(f"- {m}" for m in self.mapped), ""]
        out += ["## Not mapped (review these by hand)", ""]
        out += [f"- {u}" for u in self.unmapped] or ["- nothing: every field was mapped"]
        out.append("")
        if self.variables:
            out += ["## Template variables (kept as text)", "",
                    "CrewAI fills these from kickoff inputs; crew does not. Replace them with "
                    "real values (or say what they mean in feature.yaml's goal) before running.",
                    ""]
            out += [f"- `{{{v}}}` in {', '.join(w)}" for v, w in self.variables.items()]
            out.append("")
        if self.notes:
            out += ["## Notes", "", *(f"- {n}" for n in self.notes), ""]
        out += [f"Next: `crew validate {feature}`, then `crew run {feature} --plan-only`.", ""]
        return "\n".join(out)


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, mappings in insertion order."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: dict[str, Any], header: str) -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=None)
    lines = "".join(f"# {h}\n" for h in header.splitlines())
    return lines + body
