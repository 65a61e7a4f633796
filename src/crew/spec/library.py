"""Finding roles, patterns, task templates and crews: beside the feature first, then built-in."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from crew.errors import UserError
from crew.spec.loader import Loaded, load_spec
from crew.spec.models import KIND_DIRS, KINDS
from crew.spec.suggest import did_you_mean


@cache
def builtin_library_dir() -> Path:
    """The built-in library: inside the wheel (crew/library/), or the source checkout's top."""
    pkg = Path(__file__).resolve().parents[1]  # .../crew
    packaged = pkg / "library"
    if (packaged / "roles").is_dir():
        return packaged
    checkout = pkg.parents[1]  # src/crew -> repository root (editable install)
    if (checkout / "roles").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    raise UserError("crew's built-in library is missing from this installation",
                    hint="reinstall crew (pip install --force-reinstall crew)")


class Library:
    """Name → file for each library kind. Earlier roots shadow later ones."""

    def __init__(self, roots: list[Path], *, builtin: bool = True) -> None:
        self.roots = [r.resolve() for r in roots]
        if builtin:
            self.roots.append(builtin_library_dir())
        self._cache: dict[Path, Loaded[Any]] = {}

    @classmethod
    def beside(cls, path: Path) -> Library:
        """The library seen from a file: its folder (or, for a file inside a kind folder,
        that folder's parent), then the built-in one."""
        folder = path.resolve().parent
        if folder.name in KIND_DIRS.values():
            folder = folder.parent
        return cls([folder])

    def entries(self, kind: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for root in self.roots:
            d = root / KIND_DIRS[kind]
            if d.is_dir():
                for f in sorted(d.glob("*.y*ml")):
                    if f.suffix in (".yaml", ".yml"):
                        found.setdefault(f.stem, f)
        return found

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries(kind))

    def is_builtin(self, path: Path) -> bool:
        return path.resolve().is_relative_to(builtin_library_dir())

    def find(self, kind: str, name: str) -> Path | None:
        return self.entries(kind).get(name)

    def load(self, kind: str, name: str) -> Loaded[Any]:
        """Load an entry by name; an unknown name is a UserError with the nearest name."""
        path = self.find(kind, name)
        if path is None:
            raise UserError(f"no {kind} named {name!r}",
                            hint=did_you_mean(name, self.names(kind)).strip(" ()") or
                            f"known: {', '.join(self.names(kind)) or 'none'}")
        return self.load_path(path, kind)

    def load_path(self, path: Path, kind: str) -> Loaded[Any]:
        key = path.resolve()
        if key not in self._cache:
            self._cache[key] = load_spec(path, KINDS[kind])
        return self._cache[key]
