"""`crew validate`, `crew schema`, `crew init` and the library listings `crew roles|patterns|
tasks|crews [NAME]`: the commands about spec files (registered from crew.cli.commands)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from crew.errors import UserError


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Files of any kind (feature, role, "
                                                     "pattern, task, crew, models).")],
    kind: Annotated[str | None, typer.Option(help="Force the kind instead of detecting it.")]
    = None,
    mcp: Annotated[bool, typer.Option(
        "--mcp", help="Also start a feature's MCP servers and load its hooks: check the roles' "
        "mcp: tools against the servers' listings and the hooks' settings.")] = False,
    spec_only: Annotated[bool, typer.Option(
        "--spec-only", help="Check the files only, not what a feature needs on this machine "
        "(its repository, os.environ/ variables, sandbox, installed engines).")] = False,
    sandbox: Annotated[str | None, typer.Option(
        "--sandbox", help="Check programs in this backend, as `crew run --sandbox` would: "
        "auto, docker, bwrap or local.")] = None,
) -> None:
    """Validate spec files; a feature is checked with everything it references, pattern
    params and engines included, and (unless --spec-only) with everything `crew run` checks
    before it starts: repository, router config and its variables, sandbox."""
    from crew.errors import Problem
    from crew.patterns.checks import pattern_kinds

    problems: list[Problem] = []
    kinds = pattern_kinds(require_installed=not spec_only)
    for p in paths:
        found = _validate_one(p, kind, kinds, mcp=mcp, spec_only=spec_only, sandbox=sandbox)
        problems += [q for q in found if q not in problems]  # a file named twice: once
    if problems:
        raise UserError("invalid", problems=problems)


def _validate_one(p: Path, kind: str | None, kinds: Any, *, mcp: bool,
                  spec_only: bool, sandbox: str | None = None) -> list[Any]:
    """Validate one file: every problem any stage finds (its schema, what it references,
    what `crew run` checks here), each stage going on with what the previous one salvaged."""
    from crew.spec.loader import SpecProblems
    from crew.spec.resolve import ResolvedFeature
    from crew.spec.validate import detect_kind, validate_path

    reason = "--kind"
    try:
        if kind is None:
            detected = detect_kind(p)
            kind, reason = detected.kind, detected.reason
        done = validate_path(p, kind, kinds=kinds, models_check=None if spec_only else
                             _misspelt_providers)
    except UserError as e:
        found = list(dict.fromkeys(e.problems))  # a file referenced twice: reported once
        salvaged = e.salvaged if isinstance(e, SpecProblems) else None
        if isinstance(salvaged, ResolvedFeature) and not spec_only:
            found += [q for q in _problems_of(_preflight, salvaged, sandbox)
                      if q not in found]
        if kind is not None:
            sys.stderr.write(f"{p}: checked as a {kind} ({reason}; --kind KIND checks it as "
                             f"another kind): {len(found)} problem(s)\n")
        return found
    found = []
    if done.resolved is not None and not spec_only:
        found += _problems_of(_preflight, done.resolved, sandbox)
    if mcp and done.kind == "feature" and not found:
        found += _problems_of(_check_live_tools, p)
    if found:
        return found
    for w in done.warnings:
        sys.stderr.write(f"warning: {w.render()}\n")
    typer.echo(f"ok  {p} ({done.kind})")
    for note in done.notes:
        typer.echo(f"    {note}")
    return []


def _misspelt_providers(config: Any) -> list[Any]:
    """A models file's misspelt providers, from litellm's installed files (no import)."""
    from crew.llm.offline_check import misspelt_providers

    return misspelt_providers(config)


def _problems_of(check: Callable[..., object], *args: Any) -> list[Any]:
    try:
        check(*args)
    except UserError as e:
        return list(e.problems)
    return []


def _preflight(resolved: Any, sandbox: str | None = None) -> None:
    """The checks `crew run [--sandbox NAME]` makes before it creates anything
    (crew.run.preflight)."""
    from crew.run.launch import RunOptions
    from crew.run.preflight import preflight

    preflight(resolved, RunOptions(trace=False, sandbox=sandbox),
              check_only=True)  # sends nothing


def _check_live_tools(feature: Path) -> None:
    from crew.run.tooling import run_tools
    from crew.spec.resolve import resolve_feature

    with run_tools(resolve_feature(feature)) as tools:
        if tools.hub is not None:
            typer.echo(f"    MCP tools: {', '.join(t.ref for t in tools.hub.tools) or 'none'}")


def _list_or_show(kind: str, name: str | None, directory: Path) -> None:
    from crew.cli.listing import list_entries, show_entry

    if name is None:
        list_entries(kind, directory)
    else:
        show_entry(kind, name, directory)


_DIR_OPT = typer.Option("--dir", help="Look for local library folders here first.")


def _library_command(kind: str, what: str) -> Callable[..., None]:
    def command(name: str | None = typer.Argument(
                    None, help=f"One of the {what} to show as YAML (default: list them all)."),
                directory: Annotated[Path, _DIR_OPT] = Path(".")) -> None:
        _list_or_show(kind, name, directory)

    command.__doc__ = f"List {what}, or show one."
    return command


roles = _library_command("role", "roles")
patterns = _library_command("pattern", "pattern templates")
tasks = _library_command("task", "task templates")
crews = _library_command("crew", "crews")


def schema(
    kind: Annotated[str, typer.Argument(help="feature, role, pattern, task, crew, models or suite")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")]
    = None,
) -> None:
    """Print the JSON Schema of a file kind (for editor completion and checks)."""
    from crew.spec.schema import schema_json

    text = schema_json(kind)
    if output is None:
        typer.echo(text)
    else:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write: {e.strerror or e}", file=str(output)) from None
        typer.echo(f"wrote {output}")


def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold a feature.yaml and a models.yaml for your repository."""
    from crew.cli.scaffold import from_cwd, scaffold

    for path in scaffold(directory, force=force):
        typer.echo(f"wrote {from_cwd(path)}")
    feature = from_cwd(directory / "feature.yaml")
    typer.echo(f"next: edit {feature}, then `crew validate {feature}`")
    typer.echo("models.yaml reads ANTHROPIC_API_KEY and OPENAI_API_KEY (or point it at a "
               "local server); to see a whole run offline first: `crew demo`")
