"""No secret and no protected path reaches a commit crew makes: the staged change is checked
before each commit, and a refused commit names why (never a secret's value)."""

from __future__ import annotations

from pathlib import Path

from crew.workspace.changes import ProtectedMatch, added_secrets
from crew.workspace.git import WorkspaceError, run_git


class CommitRefused(WorkspaceError):
    """A task's staged change may not be committed (nothing was staged, the files stay as they
    are): the task fails with the reason; the run goes on."""


class SecretInDiff(CommitRefused):
    """The staged changes of a task hold a secret."""


class ProtectedChange(CommitRefused):
    """The staged changes of a task touch a protected path."""


def staged_secrets(wt: Path) -> list[str]:
    """'path: what' for every line the staged diff adds that holds a known secret value (the
    process's secret-looking environment, registered models.yaml keys) or a key shape."""
    return added_secrets(run_git(wt, "diff", "--cached", "-U0", "--no-color",
                                 "--no-textconv").out)


def refuse_secrets(wt: Path, task_id: str, protected: ProtectedMatch | None = None) -> None:
    """ProtectedChange or SecretInDiff, after unstaging (the files stay as they are), when the
    staged changes touch a protected path or hold a secret; the message names the files and
    the pattern or kind, never the value."""
    if protected is not None:
        names = run_git(wt, "diff", "--cached", "--name-only", "-z", "--no-renames").out
        touched = [f"{p} ({pat!r})" for p in sorted({x for x in names.split("\0") if x})
                   if (pat := protected(p)) is not None]
        if touched:
            run_git(wt, "reset", "-q")
            raise ProtectedChange(
                f"task {task_id!r}: refused to commit: the changes touch protected paths "
                f"({'; '.join(touched)}). Restore them.")
    hits = staged_secrets(wt)
    if hits:
        run_git(wt, "reset", "-q")
        raise SecretInDiff(
            f"task {task_id!r}: refused to commit: the changes hold a secret "
            f"({'; '.join(hits)}). Remove it from the files (read keys from the environment "
            "at run time)."
        )
