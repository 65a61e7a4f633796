"""Cross-reference checks: a feature with everything it names, or one library file alone.

Every problem found is collected, so the user fixes them all in one go (exit code 2)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from crew.errors import Problem, UserError
from crew.spec.catalog import known_pattern_kinds, known_tool_names
from crew.spec.library import Library
from crew.spec.litellm_config import load_models
from crew.spec.loader import Loaded, SpecProblems, load_spec
from crew.spec.models import (
    KIND_DIRS,
    CrewSpec,
    FeatureSpec,
    ModelsConfig,
    PatternSpec,
    RoleSpec,
    TaskTemplateSpec,
)
from crew.spec.pattern_check import BuiltinKinds, PatternKinds, check_task, check_template
from crew.spec.suggest import did_you_mean
from crew.spec.tooling import ToolSettings, check_tool_sections, mcp_ref_problem
from crew.spec.yamlio import Loc, YamlDoc, parse_loc
from crew.spec.yamlio import resolved as resolved_path


def role_params(kind: str, kinds: PatternKinds | None) -> tuple[str, ...]:
    """The params of `kind` whose value names a crew role (its descriptor says)."""
    desc = (kinds or BuiltinKinds()).descriptor(kind)
    return desc.role_params if desc else ()


@dataclass
class ResolvedFeature:
    """A feature and everything it references, validated together."""

    feature: Loaded[FeatureSpec]
    crew: Loaded[CrewSpec]
    models: ModelsConfig
    models_dir: Path  # relative paths inside the router config resolve from here
    roles: dict[str, Loaded[RoleSpec]] = field(default_factory=dict)
    patterns: dict[str, Loaded[PatternSpec]] = field(default_factory=dict)
    templates: dict[str, Loaded[TaskTemplateSpec]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)  # reported, not refused
    tools: ToolSettings = field(default_factory=ToolSettings)  # mcp_servers, approvals, hooks
    # where the router config was written: a models file, or `models:` inline in a crew file
    models_doc: YamlDoc | None = None
    models_prefix: Loc = ()

    @property
    def repo(self) -> Path:
        return (self.feature.path.parent / self.feature.spec.repo).resolve()

    @property
    def models_source(self) -> str:
        """The file the router config came from (for messages), else its folder."""
        return str(self.models_doc.path if self.models_doc else self.models_dir)

    def locate_models_problem(self, p: Problem) -> Problem:
        """A problem the router config raised with a field path (`model_list[0].model`) but
        no line, located at that field in the file (or included file) it was written in."""
        if self.models_doc is None or not p.field or p.line is not None:
            return p
        loc = (*self.models_prefix, *parse_loc(p.field))
        return self.models_doc.error(p.message, loc, hint=p.hint).problems[0]


class Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, p: Problem) -> None:
        self.problems.append(p)

    def warn(self, p: Problem) -> None:
        self.warnings.append(p)

    def load(self, fn: Any, *args: Any) -> Any:
        """fn(*args); its problems collected, and what of an invalid file is still usable
        returned so that the checks after it report their problems too."""
        try:
            return fn(*args)
        except UserError as e:
            self.problems.extend(e.problems)
            return e.salvaged if isinstance(e, SpecProblems) else None

    def raise_if_any(self, salvaged: Any = None) -> None:
        """One error listing every problem (`salvaged`: what later checks may still use)."""
        if self.problems:
            raise SpecProblems(self.problems, salvaged)


def _ref(c: Collector, lib: Library, kind: str, name: str, owner: Loaded[Any],
         loc: tuple[str | int, ...], allowed: Iterable[str] | None = None,
         what: str | None = None) -> Loaded[Any] | None:
    """Resolve a reference to a library entry; report it at owner's loc when unknown."""
    what = what or kind
    allowed_set = set(allowed) if allowed is not None else None
    if allowed_set is not None and name not in allowed_set:
        c.add(owner.problem(f"{what} {name!r} is not in the crew", loc,
                            hint=did_you_mean(name, allowed_set).strip(" ()") or
                            f"the crew has: {', '.join(sorted(allowed_set))}"))
        return None
    path = lib.find(kind, name)
    if path is None:
        c.add(owner.problem(f"unknown {what} {name!r}", loc,
                            hint=did_you_mean(name, lib.names(kind)).strip(" ()") or
                            f"add {KIND_DIRS[kind]}/{name}.yaml beside the feature"))
        return None
    loaded: Loaded[Any] | None = c.load(lib.load_path, path, kind)
    return loaded


def check_models(models: ModelsConfig, owner: Loaded[Any], prefix: tuple[str, ...],
                 c: Collector) -> None:
    """Aliases named in fallbacks and group aliases must exist in model_list."""
    if prefix and models.include:
        c.add(owner.problem("`include:` works in a models file, not in an inline config",
                            (*prefix, "include"), hint="move the config to models.yaml"))
    if not models.model_list and not _written_model_list(owner.doc, prefix):
        c.add(owner.problem("model_list needs at least 1 deployment (roles call models by "
                            "alias); included files count", (*prefix, "model_list")))
    aliases = models.aliases() | written_aliases(owner.doc, prefix)
    rs = models.router_settings
    _check_router_numbers(rs, owner, prefix, c)
    _recommend_schema(models, owner, prefix, c)
    for key in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        entries = rs.get(key)
        if entries is None:
            continue
        loc = (*prefix, "router_settings", key)
        if not isinstance(entries, list):
            c.add(owner.problem(f"{key} must be a list such as [{{smart: [fast]}}]", loc))
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                c.add(owner.problem(f"each {key} entry maps an alias to a list of aliases",
                                    (*loc, i)))
                continue
            for src, targets in entry.items():
                names = [src, *(targets if isinstance(targets, list) else [targets])]
                for name in names:
                    if not isinstance(name, str):
                        c.add(owner.problem(f"{key} names must be model aliases (strings), "
                                            f"got {name!r}", (*loc, i)))
                    elif name not in aliases:
                        c.add(owner.problem(
                            f"{key} names model alias {name!r}, which no model_list entry has",
                            (*loc, i), hint=did_you_mean(name, aliases).strip(" ()") or None))


def _written_model_list(doc: YamlDoc, prefix: Loc) -> list[Any]:
    """model_list as the file has it: a salvaged config has dropped the whole list for one
    broken entry, whose problem is reported already (no "no deployment" after it)."""
    node: Any = doc.data
    for part in (*prefix, "model_list"):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, list) else []


def written_aliases(doc: YamlDoc, prefix: Loc) -> set[str]:
    """The `model_name`s the file's model_list entries have, valid or not (so that a broken
    entry's alias named in fallbacks or by a role is no second problem)."""
    return {e["model_name"] for e in _written_model_list(doc, prefix)
            if isinstance(e, dict) and isinstance(e.get("model_name"), str) and e["model_name"]}


def _recommend_schema(models: ModelsConfig, owner: Loaded[Any], prefix: tuple[str, ...],
                      c: Collector) -> None:
    """A warning per deployment served at an `api_base` (a local or self-hosted server) that
    does not say whether it takes `response_format`: LiteLLM cannot tell for such a model,
    so every plan and verdict would go through prompt instructions and repairs silently."""
    for i, d in enumerate(models.model_list):
        params = d.litellm_params.model_dump()
        info = getattr(d, "model_info", None) or {}
        if not (params.get("api_base") or params.get("base_url")) or str(
                params.get("model", "")).startswith("replay/"):
            continue
        if isinstance(info, dict) and "supports_response_schema" in info:
            continue
        c.warn(owner.problem(
            f"alias {d.model_name!r} is served at an api_base without "
            "model_info.supports_response_schema: plans and verdicts cannot use structured "
            "output and may degrade", (*prefix, "model_list", i),
            hint="add `model_info: {supports_response_schema: true}` if the server enforces "
            "a JSON schema (Ollama >= 0.5, vLLM, llama.cpp), or `false` to keep prompt "
            "instructions and silence this"))


# Router settings that are counts (int) or durations in seconds (number); LiteLLM reads them
# only when a call fails or retries, so a word here would stop a run midway.
ROUTER_COUNTS = ("num_retries", "allowed_fails", "max_fallbacks", "default_max_parallel_requests")
ROUTER_SECONDS = ("timeout", "stream_timeout", "cooldown_time", "retry_after", "client_ttl",
                  "polling_interval")


def _check_router_numbers(rs: dict[str, Any], owner: Loaded[Any], prefix: tuple[str, ...],
                          c: Collector) -> None:
    for key in (*ROUTER_COUNTS, *ROUTER_SECONDS):
        val = rs.get(key)
        if val is None or (isinstance(val, str) and val.startswith("os.environ/")):
            continue
        count = key in ROUTER_COUNTS
        ok = (isinstance(val, int) if count else isinstance(val, int | float)) and \
            not isinstance(val, bool) and math.isfinite(val) and val >= 0
        if not ok:
            what = "a whole number" if count else "a number of seconds"
            c.add(owner.problem(f"{key} must be {what} (0 or more), got {val!r}",
                                (*prefix, "router_settings", key),
                                hint=f"e.g. {key}: {2 if count else 120}"))


def check_role(role: Loaded[RoleSpec], aliases: set[str] | None, c: Collector,
               servers: set[str] | None = None) -> None:
    tools = known_tool_names()
    for i, t in enumerate(role.spec.tools):
        if t.startswith("mcp:"):
            bad = mcp_ref_problem(t, servers)
            if bad:
                c.add(role.problem(bad[0], ("tools", i), hint=bad[1]))
        elif t not in tools:
            c.add(role.problem(f"unknown tool {t!r}", ("tools", i),
                               hint=did_you_mean(t, tools).strip(" ()") or
                               f"built-in tools: {', '.join(sorted(tools))}"))
    if aliases is not None and role.spec.model not in aliases:
        c.add(role.problem(f"model alias {role.spec.model!r} is not in the router config",
                           ("model",), hint=did_you_mean(role.spec.model, aliases).strip(" ()")
                           or f"aliases there: {', '.join(sorted(aliases))}"))


def check_pattern(p: Loaded[PatternSpec], crew_roles: set[str] | None, c: Collector,
                  kinds: PatternKinds | None = None) -> None:
    known = known_pattern_kinds()
    if p.spec.kind not in known:
        c.add(p.problem(f"unknown pattern kind {p.spec.kind!r}", ("kind",),
                        hint=did_you_mean(p.spec.kind, known).strip(" ()") or
                        f"kinds: {', '.join(sorted(known))}"))
    else:
        check_template(p, kinds or BuiltinKinds(), c)
    if crew_roles is not None:
        for key in role_params(p.spec.kind, kinds):
            val = p.spec.params.get(key)
            if isinstance(val, str) and val not in crew_roles:
                c.add(p.problem(f"role {val!r} is not in the crew", ("params", key),
                                hint=did_you_mean(val, crew_roles).strip(" ()") or None))


def _check_fix_settings(crew: Loaded[CrewSpec], role_names: set[str], c: Collector) -> None:
    """`defaults.fix` and `defaults.implement` name the crew's own roles, patterns, templates."""
    d = crew.spec.defaults
    for i, r in enumerate(d.fix.roles or []):
        if r not in crew.spec.members:
            c.add(crew.problem(f"role {r!r} is not a crew member", ("defaults", "fix", "roles", i),
                               hint=did_you_mean(r, crew.spec.members).strip(" ()") or None))
    if d.fix.roles is not None and not d.fix.roles:
        c.add(crew.problem("no role fixes a failing gate", ("defaults", "fix", "roles"),
                           hint="name at least one member, or drop the key for the default"))
    if d.fix.pattern is not None and d.fix.pattern not in crew.spec.patterns:
        c.add(crew.problem(f"pattern {d.fix.pattern!r} is not in patterns",
                           ("defaults", "fix", "pattern"),
                           hint=did_you_mean(d.fix.pattern, crew.spec.patterns).strip(" ()")
                           or None))
    if "implement" in d.model_fields_set and d.implement not in crew.spec.templates:
        c.add(crew.problem(f"task template {d.implement!r} is not in templates",
                           ("defaults", "implement"),
                           hint=did_you_mean(d.implement, crew.spec.templates).strip(" ()")
                           or None))


def check_crew(crew: Loaded[CrewSpec], lib: Library, aliases: set[str] | None,
               c: Collector, out: ResolvedFeature | None = None,
               kinds: PatternKinds | None = None, servers: set[str] | None = None) -> None:
    spec = crew.spec
    role_names = set(spec.all_roles())
    if servers is None:
        servers = set(spec.mcp_servers)
    for loc, name in [(("supervisor",), spec.supervisor),
                      *((("members", i), m) for i, m in enumerate(spec.members))]:
        role = _ref(c, lib, "role", name, crew, loc)
        if role is not None:
            check_role(role, aliases, c, servers)
            if out is not None:
                out.roles[name] = role
    for i, name in enumerate(spec.patterns):
        pat = _ref(c, lib, "pattern", name, crew, ("patterns", i), what="pattern")
        if pat is not None:
            check_pattern(pat, role_names, c, kinds)
            if out is not None:
                out.patterns[name] = pat
    if spec.defaults.pattern not in spec.patterns:
        c.add(crew.problem(f"default pattern {spec.defaults.pattern!r} is not in patterns",
                           ("defaults", "pattern"),
                           hint=did_you_mean(spec.defaults.pattern, spec.patterns).strip(" ()")
                           or None))
    _check_fix_settings(crew, role_names, c)
    for i, name in enumerate(spec.templates):
        tpl = _ref(c, lib, "task", name, crew, ("templates", i), what="task template")
        if tpl is None:
            continue
        for j, r in enumerate(tpl.spec.roles):
            _ref(c, lib, "role", r, tpl, ("roles", j), allowed=role_names)
        _ref(c, lib, "pattern", tpl.spec.pattern, tpl, ("pattern",), allowed=spec.patterns,
             what="pattern")
        if out is not None:
            out.templates[name] = tpl


class Models(NamedTuple):
    config: ModelsConfig
    dir: Path  # relative paths inside it resolve from here
    doc: YamlDoc
    prefix: Loc  # where the config sits in doc: () for a models file, ("models",) inline

    def aliases(self) -> set[str]:
        """The aliases its model_list entries have, as written (crew.spec.resolve)."""
        return self.config.aliases() | written_aliases(self.doc, self.prefix)


def crew_models(crew: Loaded[CrewSpec], c: Collector) -> Models | None:
    m = crew.spec.models
    if isinstance(m, ModelsConfig):
        check_models(m, crew, ("models",), c)
        return Models(m, crew.path.parent, crew.doc, ("models",))
    if isinstance(m, str):
        return _models_file(crew, ("models",), m, c)
    return None


def _models_file(owner: Loaded[Any], loc: tuple[str, ...], rel: str,
                 c: Collector) -> Models | None:
    path = _ref_path(owner, loc, rel, c)
    if path is None:
        return None
    if not path.is_file():
        c.add(owner.problem(f"router config {rel!r} not found", loc,
                            hint=f"looked for {path}"))
        return None
    loaded: Loaded[ModelsConfig] | None = c.load(load_models, path)
    if loaded is None:
        return None
    c.warnings += loaded.warnings
    check_models(loaded.spec, loaded, (), c)
    return Models(loaded.spec, path.parent, loaded.doc, ())


def _ref_path(owner: Loaded[Any], loc: tuple[str | int, ...], rel: str,
              c: Collector) -> Path | None:
    """The file `rel` names, relative to owner's folder (None and a problem: a symlink loop)."""
    try:
        return resolved_path(owner.path.parent / rel)
    except UserError as e:
        c.add(owner.problem(f"{rel!r}: {e.problems[0].message}", loc, hint=e.problems[0].hint))
        return None


def resolve_feature(path: Path, *, models_override: Path | None = None,
                    kinds: PatternKinds | None = None, text: str | None = None
                    ) -> ResolvedFeature:
    """Load a feature and everything it names; raise one UserError listing every problem.
    `kinds` checks plugin kinds' params and engines too (crew.patterns.checks). `text`: the
    feature's content when it comes from elsewhere (a run's frozen copy); relative paths
    still resolve beside `path`."""
    c = Collector()
    feature: Loaded[FeatureSpec] | None = c.load(lambda: load_spec(path, FeatureSpec, text=text))
    if feature is None:
        c.raise_if_any()
        raise AssertionError("unreachable")
    lib = Library.beside(path)
    spec = feature.spec
    crew_ref = spec.crew
    if crew_ref.endswith((".yaml", ".yml")):
        crew_path = _ref_path(feature, ("crew",), crew_ref, c)
        crew = (c.load(lib.load_path, crew_path, "crew")
                if crew_path is not None and crew_path.is_file() else None)
        if crew is None and crew_path is not None and not crew_path.is_file():
            c.add(feature.problem(f"crew file {crew_ref!r} not found", ("crew",)))
    else:
        crew = _ref(c, lib, "crew", crew_ref, feature, ("crew",))
    if crew is None:
        c.raise_if_any()
        raise AssertionError("unreachable")
    if models_override is not None:
        models = c.load(lambda: _load_models_path(resolved_path(models_override), c))
    elif spec.models:
        models = _models_file(feature, ("models",), spec.models, c)
    else:
        models = crew_models(crew, c)
        if models is None:
            c.add(feature.problem("no router config: set `models:` to a LiteLLM config file "
                                  "here or in the crew", ("models",)))
    aliases = models.aliases() if models else None
    resolved = ResolvedFeature(feature, crew, models[0] if models else ModelsConfig.model_construct(),
                               models[1] if models else path.parent,
                               models_doc=models.doc if models else None,
                               models_prefix=models.prefix if models else ())
    resolved.tools.add(crew.spec, str(crew.path.parent))
    resolved.tools.add(spec, str(path.parent.resolve()))
    check_crew(crew, lib, aliases, c, resolved, kinds, set(resolved.tools.servers))
    check_tool_sections([crew, feature], c.add)
    _check_pinned_tasks(feature, crew.spec, lib, c)
    _check_task_patterns(resolved, kinds or BuiltinKinds(), c)
    resolved.warnings = c.warnings
    c.raise_if_any(resolved if models else None)
    return resolved


def _load_models_path(path: Path, c: Collector) -> Models | None:
    if not path.is_file():
        raise UserError("router config not found", file=str(path), hint="check --models")
    loaded = load_models(path)
    c.warnings += loaded.warnings
    check_models(loaded.spec, loaded, (), c)
    return Models(loaded.spec, path.parent, loaded.doc, ())


def _check_pinned_tasks(feature: Loaded[FeatureSpec], crew: CrewSpec, lib: Library,
                        c: Collector) -> None:
    tasks = feature.spec.tasks
    ids: dict[str, int] = {}
    roles = set(crew.all_roles())
    for i, t in enumerate(tasks):
        if t.id in ids:
            c.add(feature.problem(f"duplicate task id {t.id!r} (also tasks[{ids[t.id]}])",
                                  ("tasks", i, "id")))
        ids.setdefault(t.id, i)
        if t.template is not None:
            _ref(c, lib, "task", t.template, feature, ("tasks", i, "template"),
                 allowed=crew.templates or None, what="task template")
        if t.pattern is not None:
            _ref(c, lib, "pattern", t.pattern, feature, ("tasks", i, "pattern"),
                 allowed=crew.patterns, what="pattern")
        if t.template is None and t.pattern is None and not t.roles:
            c.add(feature.problem("a pinned task needs a template, or roles (and a pattern)",
                                  ("tasks", i)))
        for j, r in enumerate(t.roles):
            _ref(c, lib, "role", r, feature, ("tasks", i, "roles", j), allowed=roles,
                 what="role")
    for i, t in enumerate(tasks):
        for j, dep in enumerate(t.depends_on):
            if dep not in ids:
                c.add(feature.problem(f"depends on unknown task {dep!r}",
                                      ("tasks", i, "depends_on", j),
                                      hint=did_you_mean(dep, ids).strip(" ()") or None))
    cycle = find_cycle({t.id: [d for d in t.depends_on if d in ids] for t in tasks})
    if cycle:
        first = ids[cycle[0]]
        c.add(feature.problem("depends_on forms a cycle: " + " -> ".join([*cycle, cycle[0]]),
                              ("tasks", first, "depends_on"),
                              hint="remove one of these dependencies"))


def _check_task_patterns(r: ResolvedFeature, kinds: PatternKinds, c: Collector) -> None:
    """Each pinned task's params and engine against its pattern's kind; role params name
    crew members."""
    roles = set(r.crew.spec.all_roles())
    for i, t in enumerate(r.feature.spec.tasks):
        tpl = r.templates.get(t.template) if t.template else None
        name = t.pattern or (tpl.spec.pattern if tpl else None) or r.crew.spec.defaults.pattern
        pattern = r.patterns.get(name)
        for key in role_params(pattern.spec.kind, kinds) if pattern is not None else ():
            val = t.params.get(key)
            if isinstance(val, str) and val not in roles:
                c.add(r.feature.problem(f"role {val!r} is not in the crew",
                                        ("tasks", i, "params", key),
                                        hint=did_you_mean(val, roles).strip(" ()") or None))
        if pattern is not None and pattern.spec.kind in known_pattern_kinds():
            check_task(r.feature, i, pattern, kinds, c)


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle in a dependency graph (as a list of nodes), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return stack[stack.index(m):]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None
