"""suite.yaml loaded and checked: every path, id, variant and feature, before anything exists.

Errors name the suite's (or the feature's) file, line and field, with "did you mean"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crew.errors import Problem, UserError
from crew.spec.library import Library
from crew.spec.loader import Loaded, load_spec
from crew.spec.models import SuiteCase, SuiteSpec, SuiteVariant
from crew.spec.suggest import did_you_mean


@dataclass(frozen=True)
class Case:
    id: str
    repo: Path  # a directory or a git bundle (absolute)
    feature: Path
    hidden: Path | None
    checks: tuple[dict[str, object], ...]  # AcceptanceCommand dumps


@dataclass(frozen=True)
class Variant:
    id: str
    crew: str | None  # a name, or an absolute crew file
    pattern: str | None
    models: Path | None  # may hold `{case}`: one models file per case (see models_for)

    def models_for(self, case: str) -> Path | None:
        """The models file this variant runs `case` with (`{case}` filled in)."""
        return Path(str(self.models).replace("{case}", case)) if self.models else None


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    cases: tuple[Case, ...]
    variants: tuple[Variant, ...]
    repeat: int
    usd: float | None
    tokens: int | None
    max_parallel: int

    @property
    def dir(self) -> Path:
        return self.path.parent


def load_suite(path: Path, only: list[str] | None = None, *, check_features: bool = True
               ) -> Suite:
    """The suite with absolute paths, restricted to the `only` variants (in suite order).
    Raises one UserError listing every problem (exit 2)."""
    if not path.is_file():
        raise UserError("suite file not found", file=str(path),
                        hint="pass the suite.yaml of `crew eval SUITE`")
    loaded = load_spec(path.resolve(), SuiteSpec)
    spec, base = loaded.spec, loaded.path.parent
    problems: list[Problem] = []
    _unique(loaded, "cases", [c.id for c in spec.cases], problems)
    _unique(loaded, "variants", [v.id for v in spec.variants], problems)
    cases = [_case(loaded, i, c, base, problems) for i, c in enumerate(spec.cases)]
    variants = [_variant(loaded, i, v, base, problems) for i, v in enumerate(spec.variants)]
    for i, v in enumerate(variants):
        for case in cases if v.models and "{case}" in str(v.models) else []:
            per_case = v.models_for(case.id)
            if per_case is not None and not per_case.is_file():
                shown = per_case.relative_to(base) if per_case.is_relative_to(base) else per_case
                problems.append(loaded.problem(
                    f"models file {shown} (for case {case.id!r}) not found",
                    ("variants", i, "models")))
    if only:
        known = [v.id for v in variants]
        for name in only:
            if name not in known:
                problems.append(Problem(f"unknown variant {name!r}{did_you_mean(name, known)}",
                                        field="--variants", hint="variants: " + ", ".join(known)))
        variants = [v for v in variants if v.id in only]
    if problems:
        raise UserError("invalid suite", problems=problems)
    if check_features:
        for case in cases:
            for variant in variants:
                problems += _feature_problems(case, variant)
        if problems:
            raise UserError("invalid suite", problems=_dedup(problems))
    return Suite(loaded.path, spec.name or path.stem, tuple(cases), tuple(variants),
                 spec.repeat, spec.budget.usd, spec.budget.tokens, spec.max_parallel)


def _unique(loaded: Loaded[SuiteSpec], key: str, ids: list[str], out: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x in seen:
            out.append(loaded.problem(f"duplicate id {x!r} (also {key}[{seen[x]}])",
                                      (key, i, "id")))
        seen.setdefault(x, i)


def _case(loaded: Loaded[SuiteSpec], i: int, c: SuiteCase, base: Path,
          out: list[Problem]) -> Case:
    repo, feature = (base / c.repo).resolve(), (base / c.feature).resolve()
    hidden = (base / c.hidden).resolve() if c.hidden else None
    if not repo.exists():
        out.append(loaded.problem(f"repo {c.repo!r} not found", ("cases", i, "repo"),
                                  hint="a directory or a git bundle, relative to the suite"))
    if not feature.is_file():
        out.append(loaded.problem(f"feature {c.feature!r} not found", ("cases", i, "feature")))
    if hidden is not None and not hidden.is_dir():
        out.append(loaded.problem(f"hidden {c.hidden!r} is not a directory",
                                  ("cases", i, "hidden")))
    return Case(c.id, repo, feature, hidden, tuple(x.model_dump() for x in c.checks))


def _variant(loaded: Loaded[SuiteSpec], i: int, v: SuiteVariant, base: Path,
             out: list[Problem]) -> Variant:
    models = (base / v.models).resolve() if v.models else None
    if models is not None and "{case}" not in (v.models or "") and not models.is_file():
        out.append(loaded.problem(f"models file {v.models!r} not found",
                                  ("variants", i, "models")))
    crew = v.crew
    if crew and crew.endswith((".yaml", ".yml")):
        crew_path = (base / crew).resolve()
        if not crew_path.is_file():
            out.append(loaded.problem(f"crew file {crew!r} not found", ("variants", i, "crew")))
        crew = str(crew_path)
    return Variant(v.id, crew, v.pattern, models)


def _feature_problems(case: Case, variant: Variant) -> list[Problem]:
    """The case's feature resolved as the variant will run it (its own files, lines)."""
    from crew.eval.workdir import crew_file_for
    from crew.patterns.checks import pattern_kinds
    from crew.spec.resolve import resolve_feature

    try:
        resolved = resolve_feature(case.feature, models_override=variant.models_for(case.id),
                                   kinds=pattern_kinds(require_installed=True))
    except UserError as e:
        return list(e.problems)
    problems: list[Problem] = []
    if variant.crew:
        try:
            crew_file_for(case.feature, variant.crew)
        except UserError as e:
            problems += [Problem(f"variant {variant.id!r}: {p.message}", p.file, p.line, p.column,
                                 p.field, p.hint) for p in e.problems]
    if variant.pattern and not variant.crew:
        names = Library.beside(case.feature).names("pattern")
        if variant.pattern not in names:
            problems.append(Problem(
                f"variant {variant.id!r}: unknown pattern {variant.pattern!r}"
                f"{did_you_mean(variant.pattern, names)}", field="pattern",
                hint=f"crew {resolved.crew.spec.name!r} offers "
                     + ", ".join(resolved.crew.spec.patterns)))
    return problems


def _dedup(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if p.render() not in seen:
            seen.add(p.render())
            out.append(p)
    return out
