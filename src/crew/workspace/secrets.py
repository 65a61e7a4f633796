"""No secret reaches a commit crew makes: the staged diff is scanned before each commit."""

from __future__ import annotations

from pathlib import Path

from crew.observability.redact import find_secrets
from crew.workspace.git import WorkspaceError, run_git


class SecretInDiff(WorkspaceError):
    """The staged changes of a task hold a secret: the commit was refused, nothing staged."""


def staged_secrets(wt: Path) -> list[str]:
    """'path: what' for every line the staged diff adds that holds a known secret value (the
    process's secret-looking environment, registered models.yaml keys) or a key shape."""
    diff = run_git(wt, "diff", "--cached", "-U0", "--no-color", "--no-textconv").out
    hits: list[str] = []
    path = "?"
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+"):
            hits += [f"{path}: {what}" for what in find_secrets(line[1:])]
    return list(dict.fromkeys(hits))


def refuse_secrets(wt: Path, task_id: str) -> None:
    """SecretInDiff, after unstaging (the files stay as they are), when the staged changes
    hold a secret; the message names the files and the kind, never the value."""
    hits = staged_secrets(wt)
    if hits:
        run_git(wt, "reset", "-q")
        raise SecretInDiff(
            f"task {task_id!r}: refused to commit: the changes hold a secret "
            f"({'; '.join(hits)}). Remove it from the files (read keys from the environment "
            "at run time)."
        )
