"""The repository's `.devcontainer/devcontainer.json`: the image its commands expect.

Only `image` is used: building a devcontainer's Dockerfile needs its base image, which a
daemon without a registry (CI's, an offline machine's) usually lacks; such a repo names its
image with `sandbox: {image: ...}` after building it (see the README).
"""

from __future__ import annotations

import json
from pathlib import Path

from crew.errors import UserError

FILES = (".devcontainer/devcontainer.json", ".devcontainer.json")


def strip_jsonc(text: str) -> str:
    """`text` without // and /* */ comments and trailing commas (devcontainer.json is JSONC);
    string contents are kept as they are."""
    out: list[str] = []
    i, n, in_str = 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif c in "}]":
            while out and out[-1].isspace():
                out.pop()
            if out and out[-1] == ",":
                out.pop()
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def devcontainer_image(repo: Path) -> str | None:
    """The `image` the repository's devcontainer.json names, or None (no file, no image key).
    A file that is not valid JSON(C) is a UserError naming it."""
    for rel in FILES:
        path = repo / rel
        if not path.is_file():
            continue
        try:
            data = json.loads(strip_jsonc(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(f"cannot read {path}: {e}", file=str(path),
                            hint="fix the file, or name the image with `sandbox: {image: ...}`"
                            ) from None
        image = data.get("image") if isinstance(data, dict) else None
        return image if isinstance(image, str) and image.strip() else None
    return None
