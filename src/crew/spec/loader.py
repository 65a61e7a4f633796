"""YAML → validated pydantic model, with errors that name file, line, column and field."""

from __future__ import annotations

import copy
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from crew.errors import Problem, UserError
from crew.spec.models import KIND_DIRS, KINDS
from crew.spec.suggest import did_you_mean
from crew.spec.yamlio import Loc, YamlDoc, format_loc, load_yaml

M = TypeVar("M", bound=BaseModel)


@dataclass
class Loaded(Generic[M]):
    """A validated spec and the YAML it came from (for located cross-reference errors)."""

    spec: M
    doc: YamlDoc
    warnings: list[Problem] = field(default_factory=list)  # reported, not refused

    @property
    def path(self) -> Path:
        return self.doc.path

    def error(self, message: str, loc: Loc = (), *, hint: str | None = None) -> UserError:
        return self.doc.error(message, loc, hint=hint)

    def problem(self, message: str, loc: Loc = (), *, hint: str | None = None) -> Problem:
        return self.error(message, loc, hint=hint).problems[0]


class SpecProblems(UserError):
    """Every problem of one file's own schema, and what of the file is still usable
    (`salvaged`: the file with the offending fields dropped, or None) so that the later
    checks (references, tools, the repository...) still run and report theirs too. Nothing
    runs on a salvaged spec: it only feeds checks whose problems join these."""

    def __init__(self, problems: list[Problem], salvaged: Any = None) -> None:
        self.salvaged = salvaged
        super().__init__("invalid", problems=problems)


def load_spec(path: Path, model: type[M], *, text: str | None = None) -> Loaded[M]:
    """Load and validate one file as `model` (`text`: its content, read before; reported as
    `path`). Library kinds get `name` from the file stem. Invalid: a SpecProblems with the
    file's every schema problem and its salvaged remainder."""
    doc = load_yaml(path, text=text)
    data = dict(doc.data)
    found: list[Problem] = []  # every problem of the file, reported together
    if "name" in model.model_fields:
        name = data.get("name")
        if isinstance(name, str):
            name = data["name"] = name.strip()
        if name in (None, ""):
            data["name"] = path.stem
        elif isinstance(name, str) and name != path.stem and _is_library_kind(model):
            found += doc.error(f"name {name!r} differs from the file name {path.stem!r}",
                               ("name",), hint=f"rename the file to {name}.yaml or the name "
                               f"to {path.stem!r}").problems
    spec: M | None = None
    try:
        spec = model.model_validate(data)
    except ValidationError as e:
        found += problems_of(e, doc, model)
        spec = _salvage(model, data, e)
    if found:
        raise SpecProblems(found, Loaded(spec, doc) if spec is not None else None)
    assert spec is not None
    return Loaded(spec, doc)


def _salvage(model: type[M], data: dict[str, Any], err: ValidationError,
             rounds: int = 4) -> M | None:
    """`data` valid as `model` once every field pydantic refused (or the part missing a
    required field) is dropped, defaults taking their place, and a required field of the
    file itself missing or refused given a stand-in (`_STAND_INS`: the file's other fields
    are still checked); None when that is not enough."""
    data = copy.deepcopy(data)
    for _ in range(rounds):
        for e in err.errors(include_url=False):
            loc = _split_loc(model, e["loc"])[0]
            if e["type"] == "missing" and len(loc) == 1:
                if not _stand_in(model, data, str(loc[0])):
                    return None
            elif not _drop(data, loc[:-1] if e["type"] == "missing" else loc):
                return None
        try:
            return model.model_validate(data)
        except ValidationError as again:
            err = again
    return None


# What a salvage puts in place of a file's own required field (`instructions:` missing): a
# value no check reads, so the role's tools and model are checked too. Never run.
_STAND_INS: tuple[Any, ...] = ("missing", 1, [], {})


def _stand_in(model: type[BaseModel], data: dict[str, Any], name: str) -> bool:
    """Set data[name] to the first stand-in the model takes there; False: none does."""
    for value in _STAND_INS:
        try:
            model.model_validate({**data, name: value})
        except ValidationError as e:
            if any(_split_loc(model, x["loc"])[0][:1] == (name,) for x in e.errors()):
                continue
        data[name] = value
        return True
    return False


def _drop(data: Any, loc: Loc) -> bool:
    """Remove the value at `loc` (a refused list item: its whole list, so that the positions
    later checks report stay those of the file). False: nothing left to drop."""
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    if not loc:
        return False
    node = data
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return True  # an earlier drop removed it already
    if isinstance(node, dict) and loc[-1] in node:
        del node[loc[-1]]
    return True


def _is_library_kind(model: type[BaseModel]) -> bool:
    return any(KINDS[k] is model for k in KIND_DIRS)


def problems_of(err: ValidationError, doc: YamlDoc, model: type[BaseModel],
                prefix: Loc = ()) -> list[Problem]:
    """`err` (from validating the data at `prefix` in doc as `model`) as located problems."""
    found = (error_problem(e, doc, model, prefix) for e in err.errors(include_url=False))
    return [p for p in found if p is not None]


def error_problem(e: Any, doc: YamlDoc, model: type[BaseModel], prefix: Loc = ()
                  ) -> Problem | None:
    """One pydantic error as a located problem, with "did you mean" for an unknown key (None:
    a union branch's noise)."""
    inner, branches = _split_loc(model, e["loc"])
    loc = (*prefix, *inner)
    if branches and branches[-1] in _SCALAR_TAGS and isinstance(e["input"], dict | list):
        return None  # a union's scalar branch complaining about a mapping: noise
    etype = e["type"]
    hint = None
    if etype == "extra_forbidden":
        key = str(loc[-1])
        allowed = _fields_at(model, inner[:-1])
        msg = f"unknown field {key!r}"
        hint_text = did_you_mean(key, allowed).strip(" ()")
        hint = hint_text or (f"valid fields: {', '.join(sorted(allowed))}" if allowed else None)
        line, col = doc.where(loc, key=True)
    elif etype == "missing":
        msg = f"missing required field {loc[-1]!r}"
        line, col = doc.where(loc[:-1])
    else:
        msg = _message(e)
        line, col = doc.where(loc)
    return Problem(msg, str(doc.path), line, col, format_loc(loc) or None, hint)


def _message(e: Any) -> str:
    msg = str(e["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if e["type"] in {"literal_error", "enum"}:
        return f"{msg} (got {e['input']!r})"
    return msg[:300]


_SCALAR_TAGS = {"str", "int", "float", "bool", "constrained-str", "constrained-int"}


def _split_loc(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Loc, list[str]]:
    """Split pydantic's error loc into the user's field path and the union-branch markers
    pydantic inserts after a union-typed field ('ModelsConfig', 'str', ...). Markers are
    recognised by the type being walked, never by their spelling, so a user's key such as
    'Title' or 'on' stays in the path."""
    path: list[str | int] = []
    branches: list[str] = []
    tp: Any = model
    for part in loc:
        options = [c for c in _unwrap(tp) if c is not type(None)] if tp is not None else []
        if isinstance(part, str) and len(options) > 1 and _is_union_marker(part, options):
            branches.append(part)
            tp = next((c for c in options if getattr(c, "__name__", None) == part), None)
            continue
        path.append(part)
        tp = _step(tp, part) if tp is not None else None
    return tuple(path), branches


def _is_union_marker(part: str, options: list[Any]) -> bool:
    names = {getattr(c, "__name__", "") for c in options}
    return part in names or part in _SCALAR_TAGS or part.startswith(("function-", "literal["))


def _fields_at(model: type[BaseModel], loc: Loc) -> set[str]:
    """The field names allowed at loc inside model (for 'did you mean')."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return set()
    models = [m for m in _unwrap(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    return set(models[0].model_fields) if models else set()


def _step(tp: Any, part: str | int) -> Any:
    for cand in _unwrap(tp):
        if isinstance(part, str) and isinstance(cand, type) and issubclass(cand, BaseModel):
            f = cand.model_fields.get(part)
            if f is not None:
                return f.annotation
        origin = typing.get_origin(cand)
        args = typing.get_args(cand)
        if isinstance(part, int) and origin in (list, tuple) and args:
            return args[0]
        if isinstance(part, str) and origin is dict and len(args) == 2:
            return args[1]
    return None


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return [a for arg in typing.get_args(tp) for a in _unwrap(arg)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    return [tp]
