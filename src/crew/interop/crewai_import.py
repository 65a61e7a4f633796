"""`crew import crewai PATH`: turn a CrewAI project into crew roles, task templates, a crew, a
router config and a feature.yaml skeleton, plus a report of everything that did not map.

Reads plain YAML/JSONC; CrewAI itself is never imported. See crewai_import_read for the layouts.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import UserError
from crew.interop.crewai_import_map import (
    AGENT_REASONS,
    CREW_REASONS,
    DEFAULT_REASON,
    MANAGER_TOOLS,
    TASK_REASONS,
    TOOL_MAP,
    WORKER_TOOLS,
    Report,
    dump_yaml,
    one_line,
    safe_name,
    template_vars,
    title_from,
)
from crew.interop.crewai_import_read import CrewAIProject, Entry, read_project
from crew.spec.suggest import did_you_mean

REPORT_FILE = "IMPORT_REPORT.md"
PATTERNS = ["single", "review_loop", "supervisor_worker"]
DEFAULT_SMART = {"model": "anthropic/claude-sonnet-4-5", "api_key": "os.environ/ANTHROPIC_API_KEY"}
DEFAULT_FAST = {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"}

_AGENT_DONE = {"role", "goal", "backstory", "llm", "tools", "max_iter", "max_tokens", "settings",
               "name"}
_TASK_DONE = {"name", "description", "expected_output", "agent", "context", "output_file",
              "guardrail", "guardrails"}
_CREW_DONE = {"name", "agents", "tasks", "process", "manager_agent", "manager_llm", "inputs"}


@dataclass
class ImportResult:
    """The files an import produces (path → text, in writing order) and its report."""

    out_dir: Path
    files: dict[Path, str]
    report: Report
    written: list[Path] = field(default_factory=list)

    @property
    def report_text(self) -> str:
        return self.report.render()


def import_crewai(path: Path, out: Path | None = None, *, force: bool = False) -> ImportResult:
    """Read the CrewAI project at path and write crew files to out (default: path/crew).
    Existing files are refused unless force (UserError, exit code 2)."""
    result = plan_import(path, out)
    existing = [p for p in [*result.files, result.out_dir / REPORT_FILE] if p.exists()]
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UserError(f"already exists{more}; nothing was written", file=str(existing[0]),
                        hint="pass --force to overwrite, or --out to write elsewhere")
    if result.out_dir.exists() and not result.out_dir.is_dir():
        raise UserError("not a directory", file=str(result.out_dir), hint="choose another --out")
    result.report.written = [str(p.relative_to(result.out_dir)) for p in result.files]
    result.files[result.out_dir / REPORT_FILE] = result.report.render()
    try:
        for p, text in result.files.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            result.written.append(p)
    except OSError as e:
        raise UserError(f"cannot write: {e.strerror or e}", file=str(e.filename or out),
                        hint="choose a directory you can write to (--out)") from None
    return result


def plan_import(path: Path, out: Path | None = None) -> ImportResult:
    """Read and convert without writing: the files an import would write, and its report."""
    project = read_project(path)
    out_dir = out if out is not None else path / "crew"
    return _Converter(project, out_dir).run()


class _Converter:
    def __init__(self, project: CrewAIProject, out_dir: Path) -> None:
        self.p = project
        self.out = out_dir
        self.report = Report(str(project.root), project.layout, notes=list(project.notes))
        self.report.mapped += project.py_mapped
        for skip in project.py_skips:
            self.report.skip(*skip)
        self.models: dict[str, dict[str, Any]] = {}  # alias -> litellm_params
        self.llm_uses: Counter[str] = Counter()
        self.roles: dict[str, str] = {}  # CrewAI agent name -> crew role name
        self.files: dict[Path, str] = {}
        self.templates: dict[str, dict[str, Any]] = {}

    def where(self, e: Entry, *keys: str | int) -> str:
        """file:line of a field: crew.py's line where Python set it, else the entry's file."""
        set_in_py = self.p.py_where.get((e.name, str(keys[0]))) if keys else None
        return set_in_py or f"{self.p.rel(e.doc)}:{e.line(*keys)}"

    # ---------------------------------------------------------------- agents → roles

    def run(self) -> ImportResult:
        agents = list(self.p.agents)
        if self.p.manager is not None and self.p.manager not in agents:
            agents.append(self.p.manager)
        if not agents:
            raise UserError("no agents defined", file=str(self.p.root),
                            hint="add agents to config/agents.yaml or crew.jsonc")
        taken: set[str] = set()
        for a in agents:
            self.roles[a.name] = self._unique(safe_name(a.name, "agent"), taken, a, "agent")
        for a in agents:
            self._role(a)
        task_names = self._task_names()
        for t, name in zip(self.p.tasks, task_names, strict=True):
            self._template(t, name)
        self._crew(task_names)
        self._models_file()
        self._feature(task_names)
        self._crew_level()
        return ImportResult(self.out, self.files, self.report)

    def _unique(self, name: str, taken: set[str], e: Entry, what: str) -> str:
        base, n = name, 2
        while name in taken:
            name = f"{base[:60]}_{n}"
            n += 1
        taken.add(name)
        if name != e.name:
            self.report.mapped.append(f"{what} {e.name!r} renamed {name!r} (crew names use "
                                      "letters, digits, _ and -)")
        return name

    def _text(self, e: Entry, key: str, what: str) -> str:
        value = e.data.get(key)
        if not isinstance(value, str) or not value.strip():
            if key not in e.data:
                raise e.error(f"{what} {e.name!r} has no {key!r}",
                              hint=f"CrewAI {what}s need {key}; add it")
            raise e.error(f"{key!r} must be non-empty text", key)
        for v in template_vars(value):
            self.report.var(v, f"{self.p.rel(e.doc)} ({e.name}.{key})")
        return value.strip()

    def _role(self, a: Entry) -> None:
        name = self.roles[a.name]
        settings = a.data.get("settings", {})
        if not isinstance(settings, dict):
            raise a.error("'settings' must be an object", "settings")
        fields: dict[str, tuple[Any, tuple[str, ...]]] = {
            k: (v, (k,)) for k, v in a.data.items() if k != "settings"}
        fields.update({k: (v, ("settings", k)) for k, v in settings.items()})
        role: dict[str, Any] = {
            "title": one_line(self._text(a, "role", "agent")),
            "goal": self._text(a, "goal", "agent"),
            "instructions": self._text(a, "backstory", "agent"),
        }
        role["model"], temperature = self._llm(a, fields.get("llm", (None, ()))[0])
        if temperature is not None:
            role["temperature"] = temperature
        role["tools"] = self._tools(a, name, fields.get("tools", ([], ()))[0])
        for key, target, hi in (("max_tokens", "max_tokens", 10**7), ("max_iter", "max_turns", 200)):
            value, loc = fields.get(key, (None, ()))
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= hi:
                role[target] = value
                self.report.mapped.append(f"{self.where(a, *loc)}: {key} {value} → "
                                          f"roles/{name}.yaml {target}")
            elif value is not None:
                self.report.skip(self.where(a, *loc), f"{a.name}.{key}", value,
                                 f"{target} must be a whole number from 1 to {hi}")
        for key, (value, loc) in fields.items():
            if key not in _AGENT_DONE:
                self.report.skip(self.where(a, *loc), f"{a.name}.{key}", value,
                                 AGENT_REASONS.get(key, DEFAULT_REASON))
        self.report.mapped.append(f"agent {a.name} → roles/{name}.yaml (role → title, "
                                  f"goal → goal, backstory → instructions, model {role['model']})")
        self._write(f"roles/{name}.yaml", role, f"Role imported from CrewAI agent {a.name!r} "
                    f"({self.p.rel(a.doc)}).")

    def _llm(self, a: Entry, llm: Any) -> tuple[str, float | None]:
        if llm is None:
            return "smart", None
        temperature = None
        if isinstance(llm, str) and llm.strip():
            params: dict[str, Any] = {"model": llm.strip()}
        elif isinstance(llm, dict) and isinstance(llm.get("model"), str):
            model, provider = llm["model"], llm.get("provider")
            full = f"{provider}/{model}" if isinstance(provider, str) and "/" not in model \
                else model
            params = {"model": full}
            for key, value in llm.items():
                if key in ("model", "provider"):
                    continue
                if key in ("base_url", "api_base") and isinstance(value, str):
                    params["api_base"] = value
                elif key == "api_version" and isinstance(value, str):
                    params["api_version"] = value
                elif key == "temperature" and isinstance(value, int | float) \
                        and 0 <= value <= 2:
                    temperature = float(value)
                else:
                    self.report.skip(self.where(a, "llm"), f"{a.name}.llm.{key}", value,
                                     "set it on the model's entry in models.yaml by hand")
        else:
            self.report.skip(self.where(a, "llm"), f"{a.name}.llm", llm,
                             "not a model name; the role uses the alias smart")
            return "smart", None
        alias = params["model"]
        n = 2
        while alias in self.models and self.models[alias] != params:
            alias = f"{params['model']}-{n}"
            n += 1
        self.models[alias] = params
        self.llm_uses[alias] += 1
        return alias, temperature

    def _tools(self, a: Entry, role: str, tools: Any) -> list[str]:
        if not isinstance(tools, list):
            raise a.error("'tools' must be a list of tool names", "tools")
        out: list[str] = []
        for i, t in enumerate(tools):
            where = self.where(a, "tools", i)
            cls = t.split("(")[0].strip() if isinstance(t, str) else None
            if cls in TOOL_MAP:
                if TOOL_MAP[cls] not in out:
                    out.append(TOOL_MAP[cls])
                self.report.mapped.append(f"{where}: tool {cls} → {TOOL_MAP[cls]} "
                                          f"(roles/{role}.yaml)")
            else:
                self.report.skip(where, f"{a.name}.tools[{i}]", t,
                                 "no crew tool does this; register one under the crew.tools "
                                 "entry point or drop it")
        manager = self.p.manager is not None and a.name == self.p.manager.name
        added = [t for t in (MANAGER_TOOLS if manager else WORKER_TOOLS) if t not in out]
        if added:
            out += added
            why = ("the manager plans: it reads the repository like crew's supervisor" if manager
                   else "a CrewAI agent's answer was its task's result; in crew the result is "
                   "a commit, so the role needs file tools to make one")
            self.report.mapped.append(f"roles/{role}.yaml: tools {', '.join(added)} added "
                                      f"({why})")
        return out

    # ---------------------------------------------------------------- tasks → templates

    def _task_names(self) -> list[str]:
        if not self.p.tasks:
            raise UserError("no tasks defined", file=str(self.p.root),
                            hint="add tasks to config/tasks.yaml or crew.jsonc")
        taken: set[str] = set()
        names = []
        for i, t in enumerate(self.p.tasks):
            if not t.name:
                t.name = f"task_{i + 1}"
                self.report.mapped.append(f"{self.where(t)}: a task without a name is "
                                          f"called {t.name!r}")
            names.append(self._unique(safe_name(t.name, "task"), taken, t, "task"))
        return names

    def _agent_of(self, t: Entry) -> str | None:
        agent = t.data.get("agent")
        if agent is None:
            return None
        if not isinstance(agent, str) or agent not in self.roles:
            known = sorted(self.roles)
            raise t.error(f"task {t.name!r} names agent {agent!r}, which is not defined",
                          "agent", hint=did_you_mean(str(agent), known).strip(" ()") or
                          f"agents: {', '.join(known)}")
        return self.roles[agent]

    def _template(self, t: Entry, name: str) -> None:
        tpl: dict[str, Any] = {"description": self._text(t, "description", "task")}
        role = self._agent_of(t)
        if role is None and self.p.process == "sequential":
            raise t.error(f"task {t.name!r} has no agent", hint="a sequential CrewAI crew "
                          "needs an agent on every task; add `agent:`")
        if role is None:
            lead = self._supervisor()
            tpl["roles"] = [lead, *[r for r in self._members() if r != lead]]
            tpl["pattern"] = "supervisor_worker"
        else:
            tpl["roles"], tpl["pattern"] = [role], "single"
        outputs = [self._text(t, "expected_output", "task")] if str(
            t.data.get("expected_output") or "").strip() else []
        if not outputs:
            self.report.notes.append(f"{self.where(t)}: task {t.name!r} has no expected_output; "
                                     f"tasks/{name}.yaml lists no outputs (add one)")
        out_file = t.data.get("output_file")
        if isinstance(out_file, str) and out_file.strip():
            outputs.append(f"the result written to {out_file.strip()}")
            self.report.mapped.append(f"{self.where(t, 'output_file')}: output_file → an "
                                      f"output of tasks/{name}.yaml")
        elif out_file is not None:
            self.report.skip(self.where(t, "output_file"), f"{t.name}.output_file", out_file,
                             "not a file name")
        tpl["outputs"] = outputs
        acceptance = self._guardrails(t)
        if acceptance:
            tpl["acceptance"] = acceptance
        for key, value in t.data.items():
            if key not in _TASK_DONE:
                self.report.skip(self.where(t, key), f"{t.name}.{key}", value,
                                 TASK_REASONS.get(key, DEFAULT_REASON))
        self.templates[name] = tpl
        self.report.mapped.append(f"task {t.name} → tasks/{name}.yaml (description, "
                                  f"expected_output → outputs, agent → roles)")
        self._write(f"tasks/{name}.yaml", tpl, f"Task template imported from CrewAI task "
                    f"{t.name!r} ({self.p.rel(t.doc)}).")

    def _guardrails(self, t: Entry) -> list[str]:
        out: list[str] = []
        for key in ("guardrail", "guardrails"):
            value = t.data.get(key)
            items = value if isinstance(value, list) else [] if value is None else [value]
            for item in items:
                if isinstance(item, str) and item.strip():
                    out.append(one_line(item))
                else:
                    self.report.skip(self.where(t, key), f"{t.name}.{key}", item,
                                     "only text guardrails map (to acceptance hints)")
        if out:
            self.report.mapped.append(f"{self.where(t)}: guardrail text → acceptance hints")
        return out

    def _context(self, t: Entry, names: dict[str, str]) -> list[str]:
        ctx = t.data.get("context")
        if ctx is None:
            return []
        if not isinstance(ctx, list):
            raise t.error("'context' must be a list of task names", "context")
        deps = []
        for i, ref in enumerate(ctx):
            if not isinstance(ref, str) or ref not in names:
                raise t.doc.error(f"context names task {ref!r}, which is not defined",
                                  (*t.loc, "context", i),
                                  hint=did_you_mean(str(ref), names).strip(" ()") or
                                  f"tasks: {', '.join(names)}")
            deps.append(names[ref])
        return deps

    # ---------------------------------------------------------------- crew, models, feature

    def _supervisor(self) -> str:
        return self.roles[self.p.manager.name] if self.p.manager is not None else "supervisor"

    def _members(self) -> list[str]:
        return [self.roles[a.name] for a in self.p.agents
                if self.p.manager is None or a.name != self.p.manager.name]

    def crew_name(self) -> str:
        return safe_name(self.p.name, "crew").lower()

    def _crew(self, templates: list[str]) -> None:
        sup = self._supervisor()
        members = self._members() or [sup]
        hierarchical = self.p.process == "hierarchical"
        crew: dict[str, Any] = {"name": self.crew_name(), "description": one_line(self.p.description)
                or f"Imported from the CrewAI crew {self.p.name!r}.",
                "supervisor": sup, "members": members, "models": "../models.yaml",
                "patterns": PATTERNS, "templates": templates,
                "defaults": {"pattern": "supervisor_worker" if hierarchical else "single"}}
        self.report.mapped.append(
            f"crew → crews/{crew['name']}.yaml (supervisor {sup}"
            f"{' = CrewAI manager_agent' if self.p.manager else ', built-in'}; "
            f"process {self.p.process} → default pattern {crew['defaults']['pattern']})")
        if self.p.manager is None and "supervisor" in members:
            self.report.notes.append("the agent 'supervisor' shadows crew's built-in supervisor "
                                     "role, so it plans the feature; rename it to keep both")
        self.report.notes.append("patterns committee and debate are left out: their chair and "
                                 "judge default to the built-in reviewer; add `reviewer` to "
                                 "members to use them")
        self._write(f"crews/{crew['name']}.yaml", crew, "Crew imported from CrewAI.")

    def _models_file(self) -> None:
        smart = dict(DEFAULT_SMART)
        manager_llm = self.p.crew.data.get("manager_llm") if self.p.crew else None
        if isinstance(manager_llm, str) and manager_llm.strip() and self.p.crew is not None:
            smart = {"model": manager_llm.strip()}
            self.report.mapped.append(f"{self.where(self.p.crew, 'manager_llm')}: manager_llm → "
                                      "alias smart, the supervisor's model")
        elif manager_llm is not None and self.p.crew is not None:
            self.report.skip(self.where(self.p.crew, "manager_llm"), "crew.manager_llm",
                             manager_llm, "not a model name; set smart in models.yaml by hand")
        elif self.llm_uses:
            smart = dict(self.models[self.llm_uses.most_common(1)[0][0]])
        model_list = [{"model_name": "smart", "litellm_params": smart},
                      {"model_name": "fast", "litellm_params": dict(DEFAULT_FAST)}]
        model_list += [{"model_name": a, "litellm_params": p} for a, p in self.models.items()]
        self.report.mapped.append(f"models.yaml: alias smart → {smart['model']}; one alias per "
                                  "CrewAI llm, named after it. Keys come from the provider's "
                                  "usual environment variable")
        self._write("models.yaml", {"model_list": model_list,
                                    "router_settings": {"num_retries": 2, "timeout": 120}},
                    "LiteLLM router config (the proxy's format) made by crew import crewai.")

    def _feature(self, names: list[str]) -> None:
        by_crewai = {t.name: n for t, n in zip(self.p.tasks, names, strict=True)}
        pinned = []
        for i, (t, name) in enumerate(zip(self.p.tasks, names, strict=True)):
            deps = self._context(t, by_crewai)
            if self.p.process == "sequential" and i > 0 and names[i - 1] not in deps:
                deps.append(names[i - 1])
            tpl = self.templates[name]
            task: dict[str, Any] = {"id": name, "title": title_from(str(t.data["description"])),
                                    "template": name, "roles": tpl["roles"],
                                    "pattern": tpl["pattern"]}
            if deps:
                task["depends_on"] = deps
            pinned.append(task)
        self.report.mapped.append("task order and context → depends_on of the pinned tasks in "
                                  "feature.yaml" + (" (sequential: each task also waits for "
                                                    "the one before)"
                                                    if self.p.process == "sequential" else ""))
        goal = one_line(self.p.description) or f"Do what the CrewAI crew {self.p.name!r} did."
        if self.report.variables:
            goal += ("\nCrewAI filled these template variables from kickoff inputs; replace them "
                     "in the roles and tasks: " +
                     ", ".join(f"{{{v}}}" + self._default(v) for v in self.report.variables))
        feature = {"title": _title(self.p.name), "goal": goal, "repo": self._repo(),
                   "crew": self.crew_name(), "tasks": pinned}
        self._write("feature.yaml", feature, "Feature skeleton imported from CrewAI: check "
                    "title, goal and repo, then `crew validate feature.yaml`.")

    def _repo(self) -> str:
        """`repo:` from the output folder: the git repository holding the CrewAI project,
        else the project's folder (`crew validate` then asks for `git init` there)."""
        from crew.workspace.git import enclosing_repo

        repo = enclosing_repo(self.p.root) or self.p.root.resolve()
        return Path(os.path.relpath(repo, self.out.resolve())).as_posix()

    def _default(self, var: str) -> str:
        value = self.p.inputs.get(var)
        if isinstance(value, dict):
            value = value.get("default")
        return f" (CrewAI default: {value})" if value is not None else ""

    def _crew_level(self) -> None:
        c = self.p.crew
        if c is None:
            return
        for key, value in c.data.items():
            if key not in _CREW_DONE:
                self.report.skip(self.where(c, key), f"crew.{key}", value,
                                 CREW_REASONS.get(key, DEFAULT_REASON))
        if self.p.inputs:
            self.report.mapped.append(f"{self.where(c, 'inputs')}: inputs defaults → noted "
                                      "in feature.yaml's goal")

    def _write(self, rel: str, data: dict[str, Any], header: str) -> None:
        self.files[self.out / rel] = dump_yaml(data, header)



def _title(name: str) -> str:
    """A project name as a title: release_notes → Release notes."""
    text = one_line(name)
    if " " not in text:
        text = text.replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:] if text else "Imported CrewAI crew"
