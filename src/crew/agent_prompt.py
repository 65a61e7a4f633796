"""The one prompt builder: every system and first user message crew sends is laid out here —
an Agent's turn loop, a pattern's tool-less calls (ballots, verdicts, judges), an engine's
member turn and the supervisor's plan alike.

Layout, stable first and volatile last so provider prompt caches keep hitting: the system
message is the repository's conventions, then the role (its title and goal once, its
instructions, the one-sentence tool note when it has tools), then any fixed section of the call
(the planner's catalog); the user message is the context (dependency summaries, the repository)
then the task. The only text crew itself adds is FRAMEWORK_NOTE (paid on every call).
"""

from __future__ import annotations

from crew.llm.types import Message
from crew.spec.models import RoleSpec
from crew.tools.conventions import with_conventions

__all__ = ["FRAMEWORK_NOTE", "start_messages", "system_message", "system_prompt",
           "user_message"]

# The only text the framework adds to a role's prompt. Kept short: it is paid on every call.
FRAMEWORK_NOTE = (
    "Use the tools to work in the repository; paths are relative to its root. "
    "When the task is done, reply without calling tools: that reply is your final answer."
)


def system_prompt(role: RoleSpec, *, with_tools: bool = True) -> tuple[str, str]:
    """(prompt, framework-added part): the role's own text, plus a short note on tool use."""
    goal, instructions = role.goal.strip(), role.instructions.strip()
    said = " ".join(goal.lower().split()) in " ".join(instructions.lower().split())
    glue = f"{role.title}." if said else f"{role.title}: "  # the role's name, then its goal
    prompt = (f"{glue}\n\n{instructions}" if said
              else f"{glue}{goal}\n\n{instructions}")  # the goal once, never twice
    if with_tools:
        prompt += f"\n\n{FRAMEWORK_NOTE}"
        glue += FRAMEWORK_NOTE
    return prompt, glue


def system_message(role: RoleSpec, *, conventions: str | None = None, with_tools: bool = False,
                   section: str | None = None) -> Message:
    """The system message of `role`: conventions, the role (with the tool note when it has
    tools), then `section`, a fixed part of this kind of call (the planner's catalog)."""
    prompt = system_prompt(role, with_tools=with_tools)[0]
    if section:
        prompt += f"\n\n{section}"
    return {"role": "system", "content": with_conventions(prompt, conventions)}


def user_message(task: str, context: str | None = None) -> Message:
    """The first user message: `context` (stable across the task's turns) then the task."""
    text = f"{context.strip()}\n\n## Task\n{task.strip()}" if context else task.strip()
    return {"role": "user", "content": text}


def start_messages(role: RoleSpec, task: str, *, conventions: str | None = None,
                   context: str | None = None, with_tools: bool = False) -> list[Message]:
    """The conversation an agentic turn on `task` starts with: [system, user]."""
    return [system_message(role, conventions=conventions, with_tools=with_tools),
            user_message(task, context)]
