"""The repository's `.devcontainer/devcontainer.json`: the image its commands expect — its
`image`, or its Dockerfile (`build.dockerfile`, `build.context`, legacy `dockerFile`), which the
docker backend builds without pulling (offline: the base image must be on the daemon).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Devcontainer:
    """What a devcontainer.json asks for: an image, or a Dockerfile and its build context."""

    path: Path
    image: str | None = None
    dockerfile: Path | None = None
    context: Path | None = None


def read_devcontainer(repo: Path) -> Devcontainer | None:
    """The repository's devcontainer, or None (no file, or neither image nor Dockerfile).
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
        if not isinstance(data, dict):
            return None
        image = data.get("image")
        if isinstance(image, str) and image.strip():
            return Devcontainer(path, image=image.strip())
        raw = data.get("build")
        build: dict[str, object] = raw if isinstance(raw, dict) else {}
        name = build.get("dockerfile") or data.get("dockerFile")
        if not isinstance(name, str) or not name.strip():
            return None
        context = build.get("context") or data.get("context") or "."
        here = path.parent
        dockerfile, ctx = (here / name).resolve(), (here / str(context)).resolve()
        if not dockerfile.is_file() or not ctx.is_dir():
            raise UserError(f"{path}: Dockerfile {dockerfile} or context {ctx} is missing",
                            file=str(path), field="build.dockerfile")
        return Devcontainer(path, dockerfile=dockerfile, context=ctx)
    return None


def devcontainer_image(repo: Path) -> str | None:
    """The `image` the repository's devcontainer.json names, or None."""
    dc = read_devcontainer(repo)
    return dc.image if dc is not None else None
