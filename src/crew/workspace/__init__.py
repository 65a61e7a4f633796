"""The git workspace, below both `patterns/` and `run/`: worktrees on crew branches, one commit
per task, merges and structured conflicts (`worktrees`), the git plumbing (`git`) and the async
steps patterns take (`ops`). Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crew._lazy import lazy_dir, lazy_exports

if TYPE_CHECKING:
    from crew.workspace.git import WorkspaceError
    from crew.workspace.ops import Artifacts
    from crew.workspace.worktrees import MergeConflict, TaskWorktree, Workspace, feature_slug

_EXPORTS = {
    "WorkspaceError": "crew.workspace.git",
    "Artifacts": "crew.workspace.ops",
    **dict.fromkeys(("MergeConflict", "TaskWorktree", "Workspace", "feature_slug"),
                    "crew.workspace.worktrees"),
}
__all__ = ["Artifacts", "MergeConflict", "TaskWorktree", "Workspace", "WorkspaceError",
           "feature_slug"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), _EXPORTS)
