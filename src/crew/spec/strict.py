"""The base of every YAML kind's model (`Strict`: unknown keys refused, whitespace stripped,
no inf/nan) and the names library entries take."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

NAME_RE = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class Strict(BaseModel):
    # allow_inf_nan=False: `usd: .inf` or `cpus: .nan` is a mistake, never "no limit"
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True,
                              allow_inf_nan=False)


def check_name(v: str) -> str:
    """`v` when it is a valid library name, else a ValueError saying what a name is."""
    if not re.match(NAME_RE, v):
        raise ValueError(
            f"{v!r} is not a valid name: use letters, digits, '_' or '-', starting with a letter"
        )
    return v
