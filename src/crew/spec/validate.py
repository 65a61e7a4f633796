"""`crew validate`: any kind of file, detected from its folder, name or keys."""

from __future__ import annotations

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
from crew.spec.tooling import check_tool_sections
from crew.spec.yamlio import load_yaml, resolved

_DIR_KINDS = {d: k for k, d in KIND_DIRS.items()}
# Distinctive keys, most specific first.
_KEY_HINTS: list[tuple[str, str]] = [
    ("model_list", "models"),
    ("variants", "suite"),
    ("instructions", "role"),
    ("supervisor", "crew"),
    ("kind", "pattern"),
    ("goal", "feature"),
    ("roles", "task"),
    ("title", "feature"),
]


def detect_kind(path: Path) -> str:
    """The kind of a spec file: from its folder (roles/...), its name, or its keys."""
    parent = resolved(path).parent.name
    if parent in _DIR_KINDS:
        return _DIR_KINDS[parent]
    stem = path.stem.lower()
    if "feature" in stem:
        return "feature"
    if "suite" in stem:
        return "suite"
    if stem in ("litellm", "config", "router") or "models" in stem or "litellm" in stem:
        return "models"
    doc = load_yaml(path)
    for key, kind in _KEY_HINTS:
        if key in doc.data:
            return kind
    raise UserError("cannot tell what kind of file this is", file=str(path), line=1,
                    hint=f"pass --kind ({', '.join(KINDS)})")


@dataclass
class Validated:
    kind: str
    warnings: list[Problem] = field(default_factory=list)  # reported, not refused
    notes: list[str] = field(default_factory=list)  # e.g. "ignored by crew: guardrails"
    resolved: ResolvedFeature | None = None  # a feature with everything it names


def validate_path(path: Path, kind: str | None = None, *,
                  kinds: PatternKinds | None = None) -> Validated:
    """Validate one file (a feature with everything it references). `kinds` also checks
    plugin kinds' params and engines (crew.patterns.checks); raises one UserError. What a
    router config holds that crew keeps but does not use is listed in `notes`."""
    notes: list[str] = []
    kind = kind or detect_kind(path)
    if kind not in KINDS:
        raise UserError(f"unknown kind {kind!r}", hint=f"kinds: {', '.join(KINDS)}")
    if kind == "feature":
        resolved = resolve_feature(path, kinds=kinds)
        _note_ignored(resolved.models, notes)
        return Validated(kind, resolved.warnings, notes, resolved)
    c = Collector()
    loaded: Loaded[Any] = (load_models(path) if kind == "models" else
                           load_spec(path, KINDS[kind]))
    spec = loaded.spec
    if isinstance(spec, RoleSpec):
        check_role(loaded, None, c)
    elif isinstance(spec, PatternSpec):
        check_pattern(loaded, None, c, kinds)
    elif isinstance(spec, ModelsConfig):
        check_models(spec, loaded, (), c)
        _note_ignored(spec, notes)
    elif isinstance(spec, CrewSpec):
        models = crew_models(loaded, c)
        check_crew(loaded, Library.beside(path), models[0].aliases() if models else None, c,
                   kinds=kinds)
        check_tool_sections([loaded], c.add)
    c.raise_if_any()
    return Validated(kind, c.warnings, notes)


def _note_ignored(models: ModelsConfig, notes: list[str]) -> None:
    ignored = models.ignored()
    if ignored:
        notes.append("ignored by crew: " + ", ".join(ignored))
