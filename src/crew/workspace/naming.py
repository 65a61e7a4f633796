"""What a run's workspace is named and signed with: run and task ids, the branch slug of a
feature, the git identity of a role's commits and the trailers that mark crew's commits."""

from __future__ import annotations

import re
import unicodedata

from crew.errors import UserError

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TASK_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
RUN_TRAILER = "Crew-Run"
TASK_TRAILER = "Crew-Task"
MERGE_TRAILER = "Crew-Merge"
CREW_IDENTITY = ("crew", "crew@crew.invalid")


def feature_slug(title: str, max_len: int = 40) -> str:
    """A branch-safe slug of a feature title: 'Add CSV export!' -> 'add-csv-export' (a
    secret in it becomes 'redacted')."""
    from crew.observability.redact import scrub

    ascii_title = unicodedata.normalize("NFKD", scrub(title)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:max_len].strip("-") or "feature"


def role_identity(role: str) -> tuple[str, str]:
    """The git author of a role's commits: ('coder (crew)', 'coder@crew.invalid')."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", role).strip("-.") or "agent"
    return f"{safe} (crew)", f"{safe}@crew.invalid"


def check_run_id(run_id: str) -> str:
    """The run id, or a UserError (it names branches and directories)."""
    if not RUN_ID_RE.match(run_id) or "--" in run_id:
        raise UserError(
            f"{run_id!r} is not a valid run id",
            hint="use letters, digits, '_' and single '-', starting with a letter or digit",
        )
    return run_id


def check_task_id(task_id: str) -> str:
    """The task id, or ValueError (it names a branch and a directory)."""
    if not TASK_ID_RE.match(task_id):
        raise ValueError(f"{task_id!r} is not a valid task id")
    return task_id
