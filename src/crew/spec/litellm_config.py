"""Loading a models.yaml the way LiteLLM's proxy loads its config: `include:` files merged in.

The proxy (litellm/proxy/common_utils/config_includes.py) resolves each `include` entry next to
the file that declares it (falling back to the root config's folder), reads nested includes,
skips a file already read, extends list sections and overrides every other one. crew does the
same without importing litellm, validates every file on its own (so an error names the file
and line it is in) and keeps, for the merged result, where each section came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crew.errors import Problem, UserError
from crew.spec.loader import Loaded, SpecProblems, load_spec
from crew.spec.models import ModelsConfig
from crew.spec.yamlio import Loc, YamlDoc, read_text

MAX_INCLUDES = 64


@dataclass
class MergedDoc(YamlDoc):
    """The merged config; positions and errors point into the file each value came from."""

    main: YamlDoc | None = None
    # section -> [(doc, index of its first list item in the merged list)], in merge order
    origins: dict[str, list[tuple[YamlDoc, int]]] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[YamlDoc, Loc]:
        main = self.main or self
        segs = self.origins.get(str(loc[0])) if loc else None
        if not segs:
            return main, loc
        if len(loc) > 1 and isinstance(loc[1], int):
            for doc, start in reversed(segs):
                if loc[1] >= start:
                    return doc, (loc[0], loc[1] - start, *loc[2:])
        return segs[-1][0], loc

    def where(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        doc, sub = self.locate(loc)
        return YamlDoc.where(doc, sub, key=key)

    def error(self, message: str, loc: Loc = (), *, key: bool = False,
              hint: str | None = None) -> UserError:
        doc, sub = self.locate(loc)
        return YamlDoc.error(doc, message, sub, key=key, hint=hint)


def _resolve(entry: str, declared_in: Path, root: Path) -> Path:
    here = (declared_in.parent / entry).resolve()
    beside_root = (root.parent / entry).resolve()
    return beside_root if not here.exists() and beside_root.exists() else here


def load_models(path: Path) -> Loaded[ModelsConfig]:
    """Load, merge the includes of, and validate one LiteLLM proxy config file."""
    root = path.resolve()
    try:
        first = _load_one(path)
    except SpecProblems as e:
        if e.salvaged is not None and e.salvaged.spec.include:
            raise SpecProblems(e.problems) from None  # without its includes: not the config
        raise
    if not first.spec.include:
        return first
    warnings = list(first.warnings)
    merged: dict[str, Any] = {k: v for k, v in first.doc.data.items()
                              if k != "include" and k in ModelsConfig.model_fields}
    origins = {k: [(first.doc, 0)] for k in merged}
    seen = {root}
    pending = [(entry, i, first) for i, entry in enumerate(first.spec.include)]
    while pending:
        entry, i, owner = pending.pop(0)
        target = _resolve(entry, owner.path.resolve(), root)
        if target in seen:
            continue
        if not target.is_file():
            raise owner.error(f"included file {entry!r} not found", ("include", i),
                              hint=f"looked for {target}")
        if len(seen) > MAX_INCLUDES:
            raise owner.error(f"more than {MAX_INCLUDES} included files", ("include", i))
        seen.add(target)
        if not read_text(target).strip():
            continue  # the proxy reads an empty file as {}
        inc = _load_one(target)
        warnings += inc.warnings
        for key, value in inc.doc.data.items():
            if key == "include" or key not in ModelsConfig.model_fields:
                continue
            base = merged.get(key)
            if isinstance(base, list) and isinstance(value, list):
                origins[key].append((inc.doc, len(base)))
                merged[key] = [*base, *value]
            else:
                origins[key] = [(inc.doc, 0)]
                merged[key] = value
        pending += [(e, j, inc) for j, e in enumerate(inc.spec.include)]
    doc = MergedDoc(first.doc.path, merged, first.doc.value_pos, first.doc.key_pos,
                    main=first.doc, origins=origins)
    try:
        spec = ModelsConfig.model_validate(merged)
    except ValueError as e:  # each file validated alone; only the merge itself can fail here
        raise doc.error(f"the merged config is invalid: {str(e).splitlines()[0]}") from None
    return Loaded(spec, doc, warnings)


def _load_one(path: Path) -> Loaded[ModelsConfig]:
    """One config file; a top-level section LiteLLM's proxy does not read (a newer proxy's,
    or an example's `model_list_with_extra_headers`) is a warning, as the proxy ignores it
    too, and it is left out."""
    try:
        return load_spec(path, ModelsConfig)
    except SpecProblems as e:
        unknown = [p for p in e.problems if _unknown_section(p)]
        rest = [p for p in e.problems if not _unknown_section(p)]
        if not unknown or e.salvaged is None:
            raise
        if rest:
            raise SpecProblems(rest, e.salvaged) from None
        loaded: Loaded[ModelsConfig] = e.salvaged
        loaded.warnings += [
            Problem(f"unknown top-level section {p.field!r}: LiteLLM's proxy ignores it, and "
                    "so does crew", p.file, p.line, p.column, p.field, _section_hint(p.field))
            for p in unknown]
        return loaded


def _section_hint(key: str | None) -> str | None:
    """'did you mean ...' for a section: the nearest name, else the one it extends."""
    from crew.spec.suggest import nearest

    sections = [f for f in ModelsConfig.model_fields if f != "include"]
    best = nearest(key or "", sections) or max(
        (f for f in sections if (key or "").startswith(f)), key=len, default=None)
    return f"did you mean {best!r}?" if best else None


def _unknown_section(p: Problem) -> bool:
    return bool(p.field) and "." not in (p.field or "") and "[" not in (p.field or "") and \
        p.message.startswith("unknown field")
