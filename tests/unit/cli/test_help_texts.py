"""Every command answers -h, and every argument and option of every command says what it is."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from crew.cli.app import app


def _commands() -> list[tuple[str, Any]]:
    """(name, command) of the whole tree (typer's own click objects: duck-typed)."""
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        out.append((prefix, cmd))
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)

    walk("", typer.main.get_command(app))
    return out


COMMANDS = _commands()


def test_the_tree_holds_every_command() -> None:
    names = {n for n, _ in COMMANDS}
    assert {"run", "resume", "runs", "show", "clean", "demo", "plan", "validate",
            "import crewai", "patterns"} <= names


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n or "crew" for n, _ in COMMANDS])
def test_every_param_has_help(name: str, cmd: Any) -> None:
    missing = [p.name for p in cmd.params
               if not (getattr(p, "help", None) or "").strip() and p.name != "help"]
    assert not missing, f"`crew {name}`: no help for {missing}"
    assert (cmd.help or "").strip(), f"`crew {name}` has no description"


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS], ids=[n or "crew" for n, _ in COMMANDS])
def test_dash_h_works_everywhere(name: str) -> None:
    res = CliRunner().invoke(app, [*name.split(), "-h"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output and "-h, --help" in res.output


@pytest.mark.parametrize("flag,value", [("--budget-tokens", "0"), ("--budget-minutes", "nan"),
                                        ("--budget-usd", "inf"), ("--budget-minutes", "-1")])
def test_budget_flags_refuse_non_positive_or_non_finite_values(flag: str, value: str) -> None:
    from crew.errors import UserError

    res = CliRunner().invoke(app, ["resume", "nope", flag, value])
    assert isinstance(res.exception, UserError), res.output
    assert res.exception.problems[0].field == flag  # refused before the run is looked up
