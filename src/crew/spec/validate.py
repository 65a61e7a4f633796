"""`crew validate`: any kind of file, detected from its content (`--kind` overrides it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import Problem, UserError
from crew.spec.library import Library
from crew.spec.litellm_config import load_models
from crew.spec.loader import Loaded, load_spec
from crew.spec.models import KIND_DIRS, KINDS, CrewSpec, ModelsConfig, PatternSpec, RoleSpec
from crew.spec.pattern_check import PatternKinds
from crew.spec.resolve import (
    Collector,
    ResolvedFeature,
    check_crew,
    check_models,
    check_pattern,
    check_role,
    crew_models,
    resolve_feature,
)
from crew.spec.suggest import nearest
from crew.spec.tooling import check_tool_sections
from crew.spec.yamlio import load_yaml, parse_loc, resolved

_DIR_KINDS = {d: k for k, d in KIND_DIRS.items()}


@dataclass(frozen=True)
class Detected:
    """A file's kind and why crew thinks so (named in messages: `--kind` overrides it)."""

    kind: str
    reason: str


def detect_kind(path: Path) -> Detected:
    """The kind of a spec file from its content: the kind whose fields its top-level keys
    match best (a near miss counts half, all required ones present and its folder, roles/...,
    count extra); a tie goes to its name. The name alone never decides: `add-models-endpoint.yaml` may well be a feature."""
    doc = load_yaml(path)
    keys = set(doc.data)
    parent = resolved(path).parent.name
    stem = path.stem.lower()

    def score(kind: str) -> tuple[float, int, int]:
        fields = KINDS[kind].model_fields
        known = keys & set(fields)
        typos = {k for k in keys - known if nearest(k, set(fields) - known)}
        required = [n for n, f in fields.items() if f.is_required()]
        complete = all(r in keys for r in required) and bool(known)
        folder = int(_DIR_KINDS.get(parent) == kind)
        return (len(known) + 0.5 * len(typos) - len(keys - known - typos) + folder
                + (1.5 if complete else 0), folder + int(kind in stem), -list(KINDS).index(kind))

    best = max(KINDS, key=score)
    if not keys & set(KINDS[best].model_fields):
        raise UserError("cannot tell what kind of file this is", file=str(path), line=1,
                        hint=f"pass --kind ({', '.join(KINDS)})")
    matched = sorted(keys & set(KINDS[best].model_fields))
    shown = ", ".join(matched[:4]) + (", ..." if len(matched) > 4 else "")
    return Detected(best, f"from its keys {shown}")


@dataclass
class Validated:
    kind: str
    warnings: list[Problem] = field(default_factory=list)  # reported, not refused
    notes: list[str] = field(default_factory=list)  # e.g. "ignored by crew: guardrails"
    resolved: ResolvedFeature | None = None  # a feature with everything it names


def validate_path(path: Path, kind: str | None = None, *,
                  kinds: PatternKinds | None = None,
                  models_check: Callable[[ModelsConfig], list[Problem]] | None = None
                  ) -> Validated:
    """Validate one file (a feature with everything it references). `kinds` also checks
    plugin kinds' params and engines (crew.patterns.checks), `models_check` a models file's
    deployments (crew.llm.offline_check.misspelt_providers: problems with a field path);
    raises one UserError. What a router config holds that crew keeps but does not use is
    listed in `notes`."""
    notes: list[str] = []
    kind = kind or detect_kind(path).kind
    if kind not in KINDS:
        raise UserError(f"unknown kind {kind!r}", hint=f"kinds: {', '.join(KINDS)}")
    if kind == "feature":
        resolved = resolve_feature(path, kinds=kinds)
        _note_ignored(resolved.models, notes)
        return Validated(kind, [*resolved.warnings, *_placeholders(resolved)], notes, resolved)
    c = Collector()
    loaded: Loaded[Any] | None = c.load(load_models if kind == "models" else
                                        lambda p: load_spec(p, KINDS[kind]), path)
    if loaded is None:
        c.raise_if_any()
        raise AssertionError("unreachable")
    spec = loaded.spec
    c.warnings += loaded.warnings
    if isinstance(spec, RoleSpec):
        check_role(loaded, None, c)
    elif isinstance(spec, PatternSpec):
        check_pattern(loaded, None, c, kinds)
    elif isinstance(spec, ModelsConfig):
        check_models(spec, loaded, (), c)
        for p in models_check(spec) if models_check else []:
            c.add(loaded.problem(p.message, parse_loc(p.field or ""), hint=p.hint))
        _note_ignored(spec, notes)
    elif isinstance(spec, CrewSpec):
        models = crew_models(loaded, c)
        check_crew(loaded, Library.beside(path), models.aliases() if models else None, c,
                   kinds=kinds)
        check_tool_sections([loaded], c.add)
    c.raise_if_any()
    return Validated(kind, c.warnings, notes)


def _note_ignored(models: ModelsConfig, notes: list[str]) -> None:
    ignored = models.ignored()
    if ignored:
        notes.append("ignored by crew: " + ", ".join(ignored))


# `crew init`'s text for title and goal (crew.cli.scaffold writes it): still there, the
# feature is not described yet
INIT_PLACEHOLDERS = {"title": "Describe the feature in one line",
                     "goal": "What the feature must do, for whom, and how you will know it works"}


def _placeholders(resolved: Any) -> list[Problem]:
    """A warning for each field that still holds `crew init`'s placeholder text."""
    spec, doc = resolved.feature.spec, resolved.feature
    return [doc.problem(f"still `crew init`'s placeholder: {text!r}", (key,),
                        hint="describe the feature: the planner works from title and goal")
            for key, text in INIT_PLACEHOLDERS.items()
            if str(getattr(spec, key, "")).strip().startswith(text)]
