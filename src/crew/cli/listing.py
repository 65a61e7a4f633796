"""`crew roles|patterns|tasks|crews [NAME]`: what the library offers, local entries first."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from crew.spec.library import Library
from crew.spec.models import CrewSpec, PatternSpec, RoleSpec, TaskTemplateSpec

_TITLES = {"role": "Roles", "pattern": "Pattern templates", "task": "Task templates",
           "crew": "Crews"}


def _summary(spec: object) -> tuple[str, str]:
    if isinstance(spec, RoleSpec):
        return f"{spec.title} [{spec.model}]", spec.goal
    if isinstance(spec, PatternSpec):
        return spec.kind, spec.description
    if isinstance(spec, TaskTemplateSpec):
        return f"{spec.pattern}: {', '.join(spec.roles)}", spec.description
    if isinstance(spec, CrewSpec):
        return f"{spec.supervisor} + {', '.join(spec.members)}", spec.description
    return "", ""


def list_entries(kind: str, directory: Path) -> None:
    lib = Library([directory])
    console = Console()
    table = Table(title=_TITLES[kind], show_lines=False)
    for col in ("name", "what", "description", "from"):
        table.add_column(col, overflow="fold")
    for name, path in lib.entries(kind).items():
        what, desc = _summary(lib.load_path(path, kind).spec)
        first = desc.strip().splitlines()[0] if desc.strip() else ""
        table.add_row(name, what, first, "built-in" if lib.is_builtin(path) else str(path))
    console.print(table)


def show_entry(kind: str, name: str, directory: Path) -> None:
    lib = Library([directory])
    loaded = lib.load(kind, name)
    text = loaded.path.read_text(encoding="utf-8")
    console = Console()
    if not console.is_terminal:  # `crew patterns debate > x.yaml`: the file as it is
        sys.stdout.write(f"# {loaded.path}\n{text}" + ("" if text.endswith("\n") else "\n"))
        return
    console.print(f"# {loaded.path}", style="dim", highlight=False)
    console.print(Syntax(text, "yaml", word_wrap=True))
