"""What a CrewAI project sets in Python: crew.py (or a Flow crew's `<name>.py` / `*_crew.py`)
read with `ast`, never imported or run.

Most real projects set each task's agent in Python (`@task def t(self): return Task(config=
self.tasks_config['t'], agent=self.researcher())`), and tools, llms and context too. Literal
values the importer understands are merged into the YAML entries (YAML wins where both set a
field); agents and tasks defined only in Python become entries located in the .py file; what
Python sets that crew cannot map (custom tools, `ChatOpenAI(...)`, callbacks, ...) goes to the
report's "Not mapped" list with its file:line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.interop.crewai_import_map import AGENT_REASONS, CREW_REASONS, DEFAULT_REASON, TASK_REASONS
from crew.interop.crewai_import_map import TOOL_MAP as _TOOLS
from crew.spec.yamlio import YamlDoc

_AGENT_LITERALS = ("role", "goal", "backstory", "max_iter", "max_tokens", "name")
_TASK_LITERALS = ("description", "expected_output", "output_file", "name")
_IGNORED = ("config",)
_LLM_CLASSES = ("LLM",)


@dataclass
class PyDef:
    """One @agent / @task method: the config key it reads and its call's keyword arguments."""

    method: str
    key: str
    kwargs: dict[str, ast.expr]
    line: int


@dataclass
class PyCrew:
    """The decorated methods of a CrewBase class, and the Crew(...) call's keywords."""

    path: Path
    doc: YamlDoc  # positions: (method, kwarg) -> line, col
    agents: dict[str, PyDef] = field(default_factory=dict)  # by method name
    tasks: dict[str, PyDef] = field(default_factory=dict)
    crew: dict[str, ast.expr] = field(default_factory=dict)
    crew_line: int = 1
    crew_method: str = "crew"


def find_crew_py(pkg_dir: Path) -> Path | None:
    """crew.py, a Flow crew's <dir>/<dir>.py, or a *_crew.py beside the config folder."""
    for cand in (pkg_dir / "crew.py", pkg_dir / f"{pkg_dir.name}.py",
                 *sorted(pkg_dir.glob("*crew*.py"))):
        if cand.is_file():
            return cand
    return None


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _returned_call(fn: ast.FunctionDef) -> ast.Call | None:
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Call):
            return node.value
    return None


def _config_key(call: ast.Call) -> str | None:
    """The YAML key a call reads: `config=cfg["key"]`, else (a script's task)
    `description=cfg["key"]["description"]`."""
    for kw in call.keywords:
        v = kw.value
        if kw.arg == "config" and isinstance(v, ast.Subscript) and isinstance(
                v.slice, ast.Constant) and isinstance(v.slice.value, str):
            return v.slice.value
    for kw in call.keywords:
        v = kw.value
        if kw.arg in ("description", "expected_output") and isinstance(v, ast.Subscript) and \
                isinstance(v.value, ast.Subscript) and isinstance(v.value.slice, ast.Constant) \
                and isinstance(v.value.slice.value, str):
            return v.value.slice.value
    return None


def _script_defs(tree: ast.Module, out: PyCrew) -> None:
    """A plain-script crew (no @CrewBase): `name = Agent(...)`, `name = Task(...)` and
    `Crew(...)` at module level; the variable plays the method's part."""
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(
            stmt.targets) == 1 else None
        call = stmt.value if isinstance(stmt, ast.Assign | ast.Expr) else None
        if not isinstance(call, ast.Call) or _name(call.func) not in ("Agent", "Task", "Crew"):
            continue
        name = target.id if isinstance(target, ast.Name) else _name(call.func).lower()
        kwargs = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        for arg, value in kwargs.items():
            out.doc.key_pos[(name, arg)] = (value.lineno, value.col_offset + 1)
        out.doc.value_pos[(name,)] = (stmt.lineno, stmt.col_offset + 1)
        kind = _name(call.func)
        if kind == "Crew":
            out.crew, out.crew_line, out.crew_method = kwargs, stmt.lineno, name
        else:
            d = PyDef(name, _config_key(call) or name, kwargs, stmt.lineno)
            (out.agents if kind == "Agent" else out.tasks)[name] = d


def read_crew_py(path: Path) -> PyCrew | None:
    """Parse path; None when it is not valid Python (the caller notes it)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
    except (SyntaxError, ValueError, OSError):
        return None
    out = PyCrew(path, YamlDoc(path, {}))
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            kinds = {_name(d) for d in fn.decorator_list}
            call = _returned_call(fn)
            if call is None or not kinds & {"agent", "task", "crew"}:
                continue
            kwargs = {kw.arg: kw.value for kw in call.keywords if kw.arg}
            for arg, value in kwargs.items():
                out.doc.key_pos[(fn.name, arg)] = (value.lineno, value.col_offset + 1)
            out.doc.value_pos[(fn.name,)] = (fn.lineno, fn.col_offset + 1)
            if "crew" in kinds:
                out.crew, out.crew_line, out.crew_method = kwargs, fn.lineno, fn.name
                continue
            d = PyDef(fn.name, _config_key(call) or fn.name, kwargs, fn.lineno)
            (out.agents if "agent" in kinds else out.tasks)[fn.name] = d
    if not (out.agents or out.tasks or out.crew):
        _script_defs(tree, out)
    return out


def literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


_MISSING = object()


@dataclass
class PyMerge:
    """What reading the Python added: entries' data, report lines, the process."""

    mapped: list[str] = field(default_factory=list)
    skips: list[tuple[str, str, Any, str]] = field(default_factory=list)  # where, what, value, why
    where: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, field) -> file:line
    process: str | None = None
    manager_method: str | None = None
    crew_data: dict[str, Any] = field(default_factory=dict)


class Merger:
    """Merge a PyCrew into the YAML-read entries (dicts by config key), in place."""

    def __init__(self, py: PyCrew, rel: str) -> None:
        self.py, self.rel, self.out = py, rel, PyMerge()

    def where(self, d: PyDef | None, arg: str | None = None) -> str:
        line = self.py.crew_line if d is None else (
            self.py.doc.key_pos.get((d.method, arg), (d.line, 1))[0] if arg else d.line)
        return f"{self.rel}:{line}"

    def skip(self, d: PyDef | None, what: str, node: ast.expr, reason: str,
             arg: str | None = None) -> None:
        self.out.skips.append((self.where(d, arg), what, ast.unparse(node), reason))

    def _self_call(self, node: ast.expr, table: dict[str, PyDef]) -> str | None:
        """The config key of `self.method()` when method is one of table's (a script's
        variable: `agent=analyst`)."""
        if isinstance(node, ast.Name) and node.id in table:
            return table[node.id].key
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
                node.func.value, ast.Name) and node.func.value.id == "self":
            d = table.get(node.func.attr)
            return d.key if d else None
        return None

    def _origin(self, d: PyDef, data: dict[str, Any], before: set[str]) -> None:
        """Remember the Python line of every field Python set (cited there, not in YAML)."""
        for arg in set(data) - before:
            self.out.where[(d.key, arg)] = self.where(d, arg)

    def agent(self, d: PyDef, data: dict[str, Any]) -> None:
        before = set(data)
        self._agent(d, data)
        self._origin(d, data, before)

    def task(self, d: PyDef, data: dict[str, Any]) -> None:
        before = set(data)
        self._task(d, data)
        self._origin(d, data, before)

    def _agent(self, d: PyDef, data: dict[str, Any]) -> None:
        for arg, node in d.kwargs.items():
            value = literal(node)
            what = f"{d.key}.{arg} (Python)"
            if arg in _IGNORED:
                continue
            if arg in _AGENT_LITERALS and value is not _MISSING:
                data.setdefault(arg, value)
            elif arg == "llm":
                self._llm(d, node, value, data)
            elif arg == "tools":
                self._tools(d, node, data)
            elif arg in data:
                continue  # YAML set it too: reported there
            else:
                self.skip(d, what, node, AGENT_REASONS.get(arg, DEFAULT_REASON), arg)

    def _llm(self, d: PyDef, node: ast.expr, value: Any, data: dict[str, Any]) -> None:
        if "llm" in data:
            return
        if isinstance(value, str):
            data["llm"] = value
            return
        if isinstance(node, ast.Call) and _name(node) in _LLM_CLASSES:
            params = {kw.arg: literal(kw.value) for kw in node.keywords if kw.arg}
            if node.args and "model" not in params:
                params["model"] = literal(node.args[0])
            if isinstance(params.get("model"), str) and _MISSING not in params.values():
                data["llm"] = params
                self.out.mapped.append(f"{self.where(d, 'llm')}: {ast.unparse(node)} → a "
                                       "models.yaml alias")
                return
        self.skip(d, f"{d.key}.llm (Python)", node, "an LLM object crew cannot read: add its "
                  "model to models.yaml and set the role's model alias", "llm")

    def _tools(self, d: PyDef, node: ast.expr, data: dict[str, Any]) -> None:
        items = node.elts if isinstance(node, ast.List | ast.Tuple) else [node]
        mapped = []
        for item in items:
            cls = _name(item)
            if cls in _TOOLS:
                mapped.append(f"{cls}()")
            else:
                self.skip(d, f"{d.key}.tools (Python)", item, "a custom or unknown tool: "
                          "register one under the crew.tools entry point or drop it", "tools")
        if mapped and "tools" not in data:
            data["tools"] = mapped

    def _task(self, d: PyDef, data: dict[str, Any]) -> None:
        for arg, node in d.kwargs.items():
            value = literal(node)
            if arg in _IGNORED:
                continue
            if arg in _TASK_LITERALS and value is not _MISSING:
                data.setdefault(arg, value)
            elif arg == "agent" and "agent" not in data:
                key = self._self_call(node, self.py.agents)
                if key is None:
                    self.skip(d, f"{d.key}.agent (Python)", node, "not one of the crew's "
                              "@agent methods", arg)
                else:
                    data["agent"] = key
                    self.out.mapped.append(f"{self.where(d, arg)}: task {d.key} → agent {key} "
                                           "(set in Python)")
            elif arg == "context" and "context" not in data and isinstance(node, ast.List):
                keys = [self._self_call(e, self.py.tasks) for e in node.elts]
                if all(keys):
                    data["context"] = keys
                else:
                    self.skip(d, f"{d.key}.context (Python)", node, "not the crew's @task "
                              "methods", arg)
            elif arg in data:
                continue
            else:
                self.skip(d, f"{d.key}.{arg} (Python)", node,
                          TASK_REASONS.get(arg, DEFAULT_REASON), arg)

    def crew(self) -> None:
        for arg, node in self.py.crew.items():
            value = literal(node)
            if arg in ("agents", "tasks"):
                continue
            if arg == "process":
                self.out.process = "hierarchical" if _name(node) == "hierarchical" or (
                    value == "hierarchical") else "sequential"
            elif arg == "manager_agent":
                method = node.func.attr if isinstance(node, ast.Call) and isinstance(
                    node.func, ast.Attribute) else None
                if method in self.py.agents:
                    self.out.manager_method = method
                else:
                    self.skip(None, "crew.manager_agent (Python)", node, "not an @agent method")
            elif arg == "manager_llm" and isinstance(value, str):
                self.out.crew_data["manager_llm"] = value
            elif arg == "manager_llm":
                self.skip(None, "crew.manager_llm (Python)", node, "an LLM object crew cannot "
                          "read: set alias smart in models.yaml by hand")
            else:
                self.skip(None, f"crew.{arg} (Python)", node, CREW_REASONS.get(arg,
                                                                               DEFAULT_REASON))
