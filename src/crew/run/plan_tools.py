"""The supervisor reads the repository before it plans: crew's Agent turn loop with read-only
tools (list_files, read_file, search_code; never a write or a command) confined to the
integration worktree, protected paths refused as for every agent, at most PLAN_TURN_CAP turns.
Its final reply is the plan when it parses; otherwise (prose, or cut off at the cap) one
structured answer is asked on the same conversation, tools and their results included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from crew.llm.structured import parse_as
from crew.tools.paths import DEFAULT_PROTECTED

if TYPE_CHECKING:
    from crew.context import RunContext
    from crew.llm.types import CallContext, Message, StructuredChatModel
    from crew.spec.models import RoleSpec

M = TypeVar("M", bound=BaseModel)
PLAN_TOOLS = ("list_files", "read_file", "search_code")  # read-only: nothing else is offered
PLAN_TURN_CAP = 12  # the supervisor's max_turns, at most this
CUT_OFF = "No more tool calls: plan now with what you have read."


@dataclass(frozen=True)
class PlanRepo:
    """Where the planner may read: the integration worktree and the sandbox's protected list."""

    path: Path
    protected: Sequence[str] = DEFAULT_PROTECTED


def plan_turns(role: RoleSpec) -> int:
    """How many tool turns the planner gets: the role's max_turns, capped."""
    return min(role.max_turns, PLAN_TURN_CAP)


def tools_note(turns: int) -> str:
    """The one sentence the plan prompt gains when the planner has tools."""
    return (f"First read what you need with list_files, read_file and search_code (at most "
            f"{turns} turns, read-only); then reply without calling tools. ")


async def explore(llm: StructuredChatModel, role: RoleSpec, messages: list[Message],
                  context: CallContext, repo: PlanRepo, schema: type[M],
                  run_context: RunContext) -> tuple[list[Message], M | None]:
    """Run the planner's reading turns from `messages`: the conversation afterwards (ending
    with a request to plan when it was cut off) and the answer when its final reply is a
    valid `schema` (then without that reply). The tools come from `run_context`'s registry
    (its approvals and hooks apply); no sandbox: nothing runs."""
    from dataclasses import replace

    from crew.agent import Agent

    turns = plan_turns(role)
    agent = Agent(role, llm, tools=run_context.tools_for(PLAN_TOOLS), workspace=repo.path,
                  run_context=replace(run_context, sandbox=None), max_turns=turns,
                  protected=tuple(repo.protected))
    res = await agent.run(messages=messages, context=context)
    convo = list(res.messages)
    if res.final:
        try:  # the reply itself is left out: a re-ask adds the answer back as JSON
            return convo[:-1], parse_as(schema, res.text)
        except ValueError:
            return convo, None
    return [*convo, {"role": "user", "content": CUT_OFF}], None


def tracked_files(path: Path) -> list[str]:
    """The files git tracks in the worktree at `path` (what the planner is shown)."""
    from crew.workspace.git import run_git

    return [x for x in run_git(path, "ls-files").out.splitlines() if x]
