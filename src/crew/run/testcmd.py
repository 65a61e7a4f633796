"""The project's test command: what `run_tests` runs, what the roles are told and what
`crew init` writes. Chosen in this order: the feature's `test_command`, the crew's, a
`Test command: `…`` line in the repository's AGENTS.md (CLAUDE.md, CONTRIBUTING.md), then
detected from the repository's files (`detect_test_command`), else `python3 -m pytest -q`."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crew.spec.resolve import ResolvedFeature

DEFAULT_TEST_COMMAND = "python3 -m pytest -q"
# `Test command: `npm run check`` (any case, optionally a list item or bold) in AGENTS.md
_NAMED = re.compile(r"(?im)^\s*(?:[-*]\s*)?(?:\*\*)?test[ _-]?command(?:\*\*)?\s*:\s*(?:\*\*)?"
                    r"\s*`([^`\n]+)`")
_MAKE_TEST = re.compile(r"(?m)^test\s*:(?!=)")
_CONVENTION_FILES = ("AGENTS.md", "CLAUDE.md", "CONTRIBUTING.md")


@dataclass(frozen=True)
class ChosenTestCommand:
    """A test command and where it came from (`feature`, `crew`, a file name, `default`)."""

    command: str
    source: str

    @property
    def detected(self) -> bool:
        return self.source not in ("feature", "crew", "default")


def _read(path: Path, limit: int = 200_000) -> str | None:
    try:
        if not path.is_file() or path.is_symlink():
            return None
        with path.open("rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def named_in_conventions(root: Path) -> tuple[str, str] | None:
    """(command, file) from a `Test command: `…`` line of AGENTS.md, CLAUDE.md or
    CONTRIBUTING.md, the first file holding one."""
    for name in _CONVENTION_FILES:
        text = _read(root / name)
        m = _NAMED.search(text or "")
        if m and m.group(1).strip():
            return m.group(1).strip(), name
    return None


def _pytest_config(root: Path) -> str | None:
    """The file that says the project uses pytest, or None."""
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    text = _read(root / "pyproject.toml")
    if text and re.search(r"(?m)^\[tool\.pytest", text):
        return "pyproject.toml"
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        raw = _read(root / name)
        if raw is None:
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(raw)
        except configparser.Error:
            continue
        if parser.has_section(section):
            return name
    if (root / "conftest.py").is_file():
        return "conftest.py"
    tests = root / "tests"
    if tests.is_dir() and not tests.is_symlink():
        try:
            if any(p.name.startswith("test_") or p.name.endswith("_test.py")
                   for p in tests.rglob("*.py")):
                return "tests/"
        except OSError:
            return None
    return None


def _python(root: Path, env: Mapping[str, str]) -> str:
    """The interpreter that has the project's packages: the active virtualenv's, the
    repository's `.venv`, else python3."""
    venv = env.get("VIRTUAL_ENV")
    if venv and (Path(venv) / "bin" / "python").exists():
        return shlex.quote(str(Path(venv) / "bin" / "python"))
    if (root / ".venv" / "bin" / "python").exists():
        return ".venv/bin/python"
    return "python3"


def detect_test_command(root: Path, env: Mapping[str, str] | None = None
                        ) -> tuple[str, str] | None:
    """(command, the file that told) from the repository's own files, or None: pytest config
    → pytest through the active interpreter, package.json `scripts.test` → `npm test`, go.mod
    → `go test ./...`, Cargo.toml → `cargo test`, a Makefile `test` target → `make test`."""
    env = os.environ if env is None else env
    found = _pytest_config(root)
    if found:
        return f"{_python(root, env)} -m pytest -q", found
    pkg = _read(root / "package.json")
    if pkg:
        try:
            scripts = json.loads(pkg).get("scripts") or {}
        except (ValueError, AttributeError):
            scripts = {}
        if isinstance(scripts, dict) and isinstance(scripts.get("test"), str):
            return "npm test", "package.json"
    if (root / "go.mod").is_file():
        return "go test ./...", "go.mod"
    if (root / "Cargo.toml").is_file():
        return "cargo test", "Cargo.toml"
    for name in ("Makefile", "makefile", "GNUmakefile"):
        if _MAKE_TEST.search(_read(root / name) or ""):
            return "make test", name
    return None


def choose_test_command(resolved: ResolvedFeature, root: Path,
                        env: Mapping[str, str] | None = None) -> ChosenTestCommand:
    """The run's test command: the feature's, the crew's, AGENTS.md's, detected, default."""
    if resolved.feature.spec.test_command:
        return ChosenTestCommand(resolved.feature.spec.test_command.strip(), "feature")
    if resolved.crew.spec.test_command:
        return ChosenTestCommand(resolved.crew.spec.test_command.strip(), "crew")
    named = named_in_conventions(root)
    if named:
        return ChosenTestCommand(*named)
    found = detect_test_command(root, env)
    if found:
        return ChosenTestCommand(*found)
    return ChosenTestCommand(DEFAULT_TEST_COMMAND, "default")


def with_test_command(conventions: str | None, command: str) -> str:
    """The repository section every role's system message starts with, plus one line naming
    the test command (stable for the run, so it stays in the cached prefix)."""
    line = f"## Tests\n`{command}` runs the project's tests (the run_tests tool runs it)."
    return f"{conventions.strip()}\n\n{line}" if conventions else line
