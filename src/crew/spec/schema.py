"""JSON Schema of every file kind (`crew schema KIND`)."""

from __future__ import annotations

import json
from typing import Any

from crew.errors import UserError
from crew.spec.kinds import declared_kinds
from crew.spec.models import KINDS
from crew.spec.suggest import did_you_mean


def schema_of(kind: str) -> dict[str, Any]:
    model = KINDS.get(kind)
    if model is None:
        raise UserError(f"unknown kind {kind!r}",
                        hint=did_you_mean(kind, KINDS).strip(" ()") or
                        f"kinds: {', '.join(KINDS)}")
    schema = model.model_json_schema()
    if kind == "pattern":
        _add_params(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.setdefault("title", f"crew {kind}")
    return schema


def _add_params(schema: dict[str, Any]) -> None:
    """A declared kind's template gets that kind's params schema (entry-point kinds stay
    open)."""
    defs = schema.setdefault("$defs", {})
    rules = []
    for kind, desc in declared_kinds().items():
        model = desc.params
        params = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(params.pop("$defs", {}))
        defs[model.__name__] = params
        rules.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                      "then": {"properties": {"params": {"$ref": f"#/$defs/{model.__name__}"}}}})
    schema["allOf"] = rules


def schema_json(kind: str) -> str:
    return json.dumps(schema_of(kind), indent=2)
