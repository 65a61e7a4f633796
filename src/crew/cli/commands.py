"""The top-level commands: one table that both the typer app (crew.cli.typer_app) is built
from and `crew`, `crew -h/--help` are rendered from without importing typer, click or rich
(crew.cli.app). The rendering is click's plain help layout, line for line
(tests/unit/cli/test_fast_help.py compares it with typer's at every width).

This module imports nothing beyond the standard library's `os` (already loaded at start-up);
`textwrap` loads only when a line has to wrap (a terminal narrower than ~80 columns).
"""

from __future__ import annotations

import os
import sys

ROOT_HELP = "A crew of LLM agents that builds a whole software feature."
USAGE_ARGS = "[OPTIONS] COMMAND [ARGS]..."
EPILOG = "Run 'crew COMMAND -h' for a command's arguments and options."
VERSION_HELP = "Print the version and exit."
HELP_HELP = "Show this message and exit."  # click's own wording for -h/--help
OPTIONS = (("--version", VERSION_HELP), ("-h, --help", HELP_HELP))


class Command:
    """A top-level command: its name, the typer command (or sub-app) as "module:attribute",
    and the one line `crew --help` shows (a single line; <= 65 characters fit 80 columns)."""

    __slots__ = ("name", "summary", "target")

    def __init__(self, name: str, target: str, summary: str) -> None:
        self.name, self.target, self.summary = name, target, summary


COMMANDS = (
    Command("validate", "crew.cli.spec_cmd:validate",
            "Check spec files; a feature also as `crew run` would."),
    Command("roles", "crew.cli.spec_cmd:roles", "List roles, or show one."),
    Command("patterns", "crew.cli.spec_cmd:patterns", "List pattern templates, or show one."),
    Command("tasks", "crew.cli.spec_cmd:tasks", "List task templates, or show one."),
    Command("crews", "crew.cli.spec_cmd:crews", "List crews, or show one."),
    Command("schema", "crew.cli.spec_cmd:schema",
            "Print the JSON Schema of a file kind (for editors)."),
    Command("init", "crew.cli.spec_cmd:init",
            "Scaffold a feature.yaml and a models.yaml for your repository."),
    Command("run", "crew.cli.run_cmd:run",
            "Build a feature: plan, tasks, gates; leave a branch and a report."),
    Command("plan", "crew.cli.run_cmd:plan", "Plan a feature and stop (= crew run --plan-only)."),
    Command("resume", "crew.cli.run_cmd:resume",
            "Continue a run after a crash, Ctrl-C or an exhausted budget."),
    Command("runs", "crew.cli.run_cmd:runs", "List runs: id, status, cost, time."),
    Command("clean", "crew.cli.clean_cmd:clean_command",
            "Remove finished runs' worktrees, task branches and run folders."),
    Command("demo", "crew.cli.demo:demo_command",
            "Run the offline demo (replay model: no key, no network)."),
    Command("show", "crew.cli.show_cmd:show_command",
            "Show a run's conversation: tasks, rounds, tool calls, cost."),
    Command("ui", "crew.cli.ui_cmd:ui_command",
            "A local read-only web view of runs, updated live."),
    Command("eval", "crew.cli.eval_cmd:eval_command",
            "Measure variants (crew, pattern, models) on a suite of features."),
    Command("knowledge", "crew.cli.knowledge_cmd:knowledge_app",
            "Show, edit or clear what crew learned about a repository."),
    Command("import", "crew.cli.import_cmd:import_app",
            "Import a project from another agent framework."),
)


def program_name() -> str:
    """What the usage line calls crew: `crew` (the console script), `python -m crew`
    (click's rule: the file name, or `python -m PACKAGE` when run as a module)."""
    main = sys.modules["__main__"]
    path = sys.argv[0]
    package = getattr(main, "__package__", None)
    if not package:
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def help_width() -> int:
    """click's help width: the terminal's (COLUMNS first, then stdout's size, else 80)
    capped at 80, minus 2, and at least 50."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def render_help(prog: str, width: int) -> str:
    """`crew --help` as click writes it with typer's plain (rich_markup_mode=None) help."""
    prefix = f"Usage: {prog} "
    if width >= len(prefix) + 20:
        out = _wrap(USAGE_ARGS, width, prefix, " " * len(prefix))
    else:
        out = [prefix, *_wrap(USAGE_ARGS, width, " " * 11, " " * 11)]
    out += ["", *_wrap(ROOT_HELP, width, "  ", "  ")]
    for heading, rows in (("Options", OPTIONS),
                          ("Commands", tuple((c.name, c.summary) for c in COMMANDS))):
        out += ["", f"{heading}:", *_definitions(rows, width)]
    out += ["", *_wrap(EPILOG, width, "  ", "  ")]
    return "\n".join(out) + "\n"


def _definitions(rows: tuple[tuple[str, str], ...], width: int) -> list[str]:
    """click's HelpFormatter.write_dl at indent 2."""
    first_col = min(max(len(term) for term, _ in rows), 30) + 2
    text_width = max(width - first_col - 2, 10)
    out = []
    for term, text in rows:
        lines = _wrap(text, text_width, "", "")
        if len(term) <= first_col - 2:
            out.append(f"  {term:<{first_col}}{lines[0]}")
        else:
            out += [f"  {term}", f"{'':>{first_col + 2}}{lines[0]}"]
        out += [f"{'':>{first_col + 2}}{line}" for line in lines[1:]]
    return out


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """click's wrap_text of a one-line text: textwrap with replace_whitespace=False and
    long words cut at the margin. A text that fits is returned as is, without textwrap."""
    plain = text == text.strip() and "\t" not in text and "\n" not in text
    if plain and len(first) + len(text) <= width:
        return [first + text]
    import textwrap

    class Wrapper(textwrap.TextWrapper):
        def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str],
                              cur_len: int, width: int) -> None:
            space_left = max(width - cur_len, 1)
            cur_line.append(reversed_chunks[-1][:space_left])
            reversed_chunks[-1] = reversed_chunks[-1][space_left:]

    wrapper = Wrapper(width, initial_indent=first, subsequent_indent=rest,
                      replace_whitespace=False)
    return wrapper.fill(text.expandtabs()).splitlines()
