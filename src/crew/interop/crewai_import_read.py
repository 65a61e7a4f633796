"""Reading a CrewAI project without CrewAI: the classic layout (config/agents.yaml and
config/tasks.yaml beside crew.py) and the JSON-first layout (crew.jsonc plus agents/*.jsonc).

Every value keeps its file and line, so bad input becomes a located UserError and the import
report can point at each field it could not map.
"""

from __future__ import annotations

import ast
import bisect
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import UserError
from crew.interop.crewai_import_py import Merger, find_crew_py, read_crew_py
from crew.spec.suggest import did_you_mean
from crew.spec.yamlio import Loc, YamlDoc, load_yaml, read_text

JSON_EXTS = (".jsonc", ".json")
_HIERARCHICAL = re.compile(r"^[^#\n]*process\s*=\s*Process\.hierarchical", re.MULTILINE)


@dataclass
class Entry:
    """One agent, task or crew definition and where it was written."""

    name: str
    data: dict[str, Any]
    doc: YamlDoc
    loc: Loc = ()

    def error(self, message: str, *keys: str | int, hint: str | None = None) -> UserError:
        return self.doc.error(message, (*self.loc, *keys), key=True, hint=hint)

    def line(self, *keys: str | int) -> int:
        return self.doc.where((*self.loc, *keys), key=True)[0]


@dataclass
class CrewAIProject:
    """What the importer needs from a CrewAI project, in CrewAI's own terms."""

    layout: str  # "classic" or "jsonc"
    root: Path
    name: str
    description: str
    agents: list[Entry]
    tasks: list[Entry]
    process: str = "sequential"
    crew: Entry | None = None  # crew-level settings (crew.jsonc), None for classic
    manager: Entry | None = None  # a manager agent (hierarchical)
    inputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    py_mapped: list[str] = field(default_factory=list)  # report lines from crew.py
    py_skips: list[tuple[str, str, Any, str]] = field(default_factory=list)
    py_where: dict[tuple[str, str], str] = field(default_factory=dict)  # set in Python: there

    def rel(self, doc: YamlDoc) -> str:
        try:
            return str(doc.path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(doc.path)


def read_project(path: Path) -> CrewAIProject:
    """Detect the layout under path and read it."""
    if not path.exists():
        raise UserError("no such directory", file=str(path), hint="name a CrewAI project folder")
    if not path.is_dir():
        raise UserError("not a directory", file=str(path),
                        hint="name the CrewAI project folder, not a file in it")
    for ext in JSON_EXTS:
        if (path / f"crew{ext}").is_file():
            return _read_jsonc(path, path / f"crew{ext}")
    configs = _find_config_dirs(path)
    project = _read_classic(path, configs[0])
    for config in configs[1:]:
        _add_crew(project, _read_classic(path, config), config.parent.name)
    if len(configs) > 1:
        project.notes.append(f"a Flow with {len(configs)} crews ("
                             + ", ".join(c.parent.name for c in configs) + "): their tasks run "
                             "one crew after the other in folder order; the Flow's own Python "
                             "(state, routing, @listen order) was not read")
    return project


# ---------------------------------------------------------------- classic layout


def _find_config_dirs(root: Path) -> list[Path]:
    """The config folder of the crew at root, or of every crew of a Flow (crews/<name>/)."""
    for c in (root / "config", root):
        if (c / "agents.yaml").is_file() or (c / "tasks.yaml").is_file():
            return [c]
    candidates = [*sorted(root.glob("src/*/config")), *sorted(root.glob("crews/*/config")),
                  *sorted(root.glob("src/*/crews/*/config"))]
    found = [c for c in candidates if (c / "agents.yaml").is_file() or (c / "tasks.yaml").is_file()]
    if not found:
        raise UserError("no CrewAI project found here", file=str(root),
                        hint="expected crew.jsonc, config/agents.yaml, "
                             "src/<package>/config/agents.yaml or a Flow's "
                             "src/<package>/crews/<crew>/config/")
    return found


def _add_crew(project: CrewAIProject, other: CrewAIProject, prefix: str) -> None:
    """Append a Flow's next crew; names another crew already uses get the crew's name first."""
    renames: dict[str, dict[str, str]] = {"agent": {}, "task": {}}
    for kind, mine, theirs in (("agent", project.agents, other.agents),
                               ("task", project.tasks, other.tasks)):
        taken = {e.name for e in mine}
        for e in theirs:
            if e.name in taken:
                renames[kind][e.name] = e.name = f"{prefix}_{e.name}"
            mine.append(e)
    for t in other.tasks:
        agent = t.data.get("agent")
        if isinstance(agent, str) and agent in renames["agent"]:
            t.data["agent"] = renames["agent"][agent]
        ctx = t.data.get("context")
        if isinstance(ctx, list):
            t.data["context"] = [renames["task"].get(c, c) if isinstance(c, str) else c
                                 for c in ctx]
    if other.process == "hierarchical":
        project.process = "hierarchical"
    project.notes += other.notes
    project.py_mapped += other.py_mapped
    project.py_skips += other.py_skips
    project.py_where.update(other.py_where)


def _read_classic(root: Path, config: Path) -> CrewAIProject:
    agents_doc = _yaml_mapping(config / "agents.yaml")
    tasks_doc = _yaml_mapping(config / "tasks.yaml")
    pkg_dir = config.parent
    name, description = _pyproject(root)
    if not name:
        name = pkg_dir.name if pkg_dir != root else root.resolve().name
    agents = [_entry(agents_doc, k, "agent") for k in agents_doc.data]
    tasks = [_entry(tasks_doc, k, "task") for k in tasks_doc.data]
    project = CrewAIProject("classic", root, name, description, agents, tasks)
    crew_py = find_crew_py(pkg_dir)
    if crew_py is not None:
        _merge_python(project, crew_py)
    return project


def _merge_python(project: CrewAIProject, path: Path) -> None:
    """Fold what crew.py sets (read with ast, never run) into the YAML entries."""
    rel = project.rel(YamlDoc(path, {}))
    py = read_crew_py(path)
    if py is None:
        text = path.read_text(encoding="utf-8", errors="replace")
        if _HIERARCHICAL.search(text):
            project.process = "hierarchical"
        project.notes.append(f"{rel} is not valid Python and was not read: agents, tools and "
                             "llms set there must be moved by hand")
        return
    m = Merger(py, rel)
    for table, entries, required in ((py.agents, project.agents, "role"),
                                     (py.tasks, project.tasks, "description")):
        by_name = {e.name: e for e in entries}
        for d in table.values():
            entry = by_name.get(d.key)
            if entry is None:
                if required not in d.kwargs:
                    m.skip(d, f"{d.key} (Python)", ast.Name(d.method), "its config key is in "
                           "no YAML file and Python does not set it either")
                    continue
                entry = by_name[d.key] = Entry(d.key, {}, py.doc, (d.method,))
                entries.append(entry)
                project.py_mapped.append(f"{m.where(d)}: {d.key} defined in Python")
            (m.agent if table is py.agents else m.task)(d, entry.data)
    order = {d.key: i for i, d in enumerate(py.tasks.values())}
    project.tasks.sort(key=lambda e: order.get(e.name, len(order)))
    m.crew()
    if m.out.process:
        project.process = m.out.process
    if m.out.manager_method:
        key = py.agents[m.out.manager_method].key
        project.manager = next((a for a in project.agents if a.name == key), None)
    if m.out.crew_data:
        project.crew = Entry("crew", m.out.crew_data, py.doc, (py.crew_method,))
    project.py_mapped += m.out.mapped
    project.py_skips += m.out.skips
    project.py_where.update(m.out.where)
    _note_outside_crew(project, py, rel)
    project.notes.append(f"{rel} was read with ast, never run: agents, tasks, tools and llms "
                         f"set there are merged (process {project.process!r})")


def _note_outside_crew(project: CrewAIProject, py: Any, rel: str) -> None:
    """A script's tasks run alone (`task.execute()`), outside its Crew(tasks=[...])."""
    listed = py.crew.get("tasks")
    if not isinstance(listed, ast.List):
        return
    inside = {e.id for e in listed.elts if isinstance(e, ast.Name)}
    alone = [d.key for var, d in py.tasks.items() if var not in inside]
    if alone and inside:
        project.notes.append(f"{rel}: {', '.join(alone)} run outside the Crew(...) in the "
                             "script; imported as pinned tasks in file order with the others")


def _yaml_mapping(path: Path) -> YamlDoc:
    if not path.is_file():
        raise UserError("no such file", file=str(path),
                        hint="a classic CrewAI project has config/agents.yaml and "
                             "config/tasks.yaml")
    return load_yaml(path)


def _entry(doc: YamlDoc, key: str, what: str) -> Entry:
    value = doc.data[key]
    if not isinstance(value, dict):
        raise doc.error(f"each {what} must be a mapping of fields (role, goal, ...)"
                        if what == "agent" else
                        f"each {what} must be a mapping of fields (description, ...)", (key,))
    return Entry(key, value, doc, (key,))


def _pyproject(root: Path) -> tuple[str, str]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return "", ""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return "", ""
    proj = data.get("project")
    if not isinstance(proj, dict):
        return "", ""
    name, desc = proj.get("name", ""), proj.get("description", "")
    return (name if isinstance(name, str) else "", desc if isinstance(desc, str) else "")


# ---------------------------------------------------------------- crew.jsonc layout


def _read_jsonc(root: Path, crew_path: Path) -> CrewAIProject:
    doc = load_jsonc(crew_path)
    data = doc.data
    crew = Entry("crew", data, doc)
    agents_dir = root / "agents"
    names = data.get("agents")
    if not isinstance(names, list) or not names:
        raise crew.error("'agents' must be a non-empty list of agent file names", "agents",
                         hint="each name is an agents/<name>.jsonc file")
    agents: list[Entry] = []
    for i, n in enumerate(names):
        if not isinstance(n, str) or not n:
            raise doc.error("each agent reference must be a non-empty string", ("agents", i))
        if n not in [a.name for a in agents]:
            agents.append(_agent_file(agents_dir, n, doc, ("agents", i)))
    tasks_raw = data.get("tasks")
    if not isinstance(tasks_raw, list) or not tasks_raw:
        raise crew.error("'tasks' must be a non-empty list of task objects", "tasks")
    tasks: list[Entry] = []
    for i, t in enumerate(tasks_raw):
        if not isinstance(t, dict):
            raise doc.error("each task must be an object", ("tasks", i))
        name = t.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise doc.error("a task's name must be a non-empty string", ("tasks", i, "name"))
        tasks.append(Entry(name.strip() if name else "", t, doc, ("tasks", i)))
    title = data.get("name") if isinstance(data.get("name"), str) else ""
    pname, description = _pyproject(root)
    project = CrewAIProject("jsonc", root, title or pname or root.resolve().name, description,
                            agents, tasks, crew=crew)
    process = data.get("process", "sequential")
    if process not in ("sequential", "hierarchical"):
        raise crew.error(f"unknown process {process!r}", "process",
                         hint="CrewAI processes are 'sequential' and 'hierarchical'")
    project.process = process
    manager = data.get("manager_agent")
    if isinstance(manager, str) and manager:
        found = next((a for a in agents if a.name == manager), None)
        project.manager = found or _agent_file(agents_dir, manager, doc, ("manager_agent",))
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        project.inputs = inputs
    return project


def _agent_file(agents_dir: Path, name: str, owner: YamlDoc, loc: Loc) -> Entry:
    for ext in JSON_EXTS:
        path = agents_dir / f"{name}{ext}"
        if path.is_file():
            doc = load_jsonc(path)
            return Entry(name, doc.data, doc)
    known = sorted(p.stem for p in agents_dir.glob("*.json*")) if agents_dir.is_dir() else []
    raise owner.error(f"agent {name!r} has no file agents/{name}.jsonc or agents/{name}.json",
                      loc, hint=did_you_mean(name, known).strip(" ()") or
                      (f"agents there: {', '.join(known)}" if known else
                       f"create {agents_dir}/{name}.jsonc"))


def load_jsonc(path: Path) -> YamlDoc:
    """Parse a JSON-with-comments object, keeping the line and column of every key and value."""
    text = read_text(path)
    clean = strip_jsonc(text, path)
    lines = _line_starts(clean)
    try:
        data = json.loads(clean)
    except json.JSONDecodeError as e:
        raise UserError(f"JSON syntax error: {e.msg}", file=str(path), line=e.lineno,
                        column=e.colno) from None
    except RecursionError:
        raise UserError("nested too deeply", file=str(path), line=1) from None
    if not isinstance(data, dict):
        raise UserError("expected an object ({...}) at the top level", file=str(path), line=1)
    doc = YamlDoc(path=path, data=data)
    _index(clean, _skip_ws(clean, 0), (), doc, lines)
    return doc


def strip_jsonc(text: str, path: Path) -> str:
    """Blank out // and /* */ comments and trailing commas; offsets and lines stay the same."""
    out = list(text)
    for kind, start, end in _lexemes(text, path):
        if kind == "comment":
            for j in range(start, end):
                if out[j] != "\n":
                    out[j] = " "
    cleaned = "".join(out)
    out = list(cleaned)
    pending = -1  # offset of a comma not yet followed by a value
    for kind, start, _ in _lexemes(cleaned, path):
        if kind == "punct" and cleaned[start] == ",":
            pending = start
        elif kind == "punct" and cleaned[start] in "}]" and pending >= 0:
            out[pending] = " "
            pending = -1
        else:
            pending = -1
    return "".join(out)


def _lexemes(text: str, path: Path) -> list[tuple[str, int, int]]:
    """Strings, comments, punctuation and other non-blank runs, each with [start, end)."""
    found: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            found.append(("string", i, min(j + 1, n)))
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            found.append(("comment", i, j))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise UserError("unterminated /* comment", file=str(path),
                                line=text.count("\n", 0, i) + 1, hint="close it with */")
            found.append(("comment", i, j + 2))
            i = j + 2
        elif c in "{}[],:":
            found.append(("punct", i, i + 1))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{}[],:"/':
                j += 1
            found.append(("word", i, max(j, i + 1)))
            i = max(j, i + 1)
    return found


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _pos(lines: list[int], offset: int) -> tuple[int, int]:
    row = bisect.bisect_right(lines, offset) - 1
    return row + 1, offset - lines[row] + 1


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


_SCALAR = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null")


def _string_end(text: str, i: int) -> int:
    """Offset just past the JSON string starting at i (a double quote)."""
    j = i + 1
    while text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _index(text: str, i: int, loc: Loc, doc: YamlDoc, lines: list[int]) -> int:
    """Record positions for the (already validated) JSON value at i; return the end offset."""
    doc.value_pos.setdefault(loc, _pos(lines, i))
    c = text[i]
    if c == "{":
        i = _skip_ws(text, i + 1)
        while text[i] != "}":
            end = _string_end(text, i)
            key = str(json.loads(text[i:end]))
            doc.key_pos[(*loc, key)] = _pos(lines, i)
            i = _skip_ws(text, _skip_ws(text, end) + 1)  # past ':'
            i = _skip_ws(text, _index(text, i, (*loc, key), doc, lines))
            if text[i] == ",":
                i = _skip_ws(text, i + 1)
        return i + 1
    if c == "[":
        i, k = _skip_ws(text, i + 1), 0
        while text[i] != "]":
            i = _skip_ws(text, _index(text, i, (*loc, k), doc, lines))
            k += 1
            if text[i] == ",":
                i = _skip_ws(text, i + 1)
        return i + 1
    if c == '"':
        return _string_end(text, i)
    m = _SCALAR.match(text, i)
    return m.end() if m else i + 1
