"""Repository knowledge across runs (`knowledge: off | on | commit`).

Where the notes live: `on` (the default) keeps them in `<repo>/.crew/knowledge.md`, outside
git like the rest of `.crew/`; `commit` keeps them in `CREW.md` at the top of the repository,
read from the run's worktree and committed on the run's branch (so they travel and are reviewed
with the feature's code); `off` reads and writes none. A feature's `knowledge:` wins over its
crew's.

When a run starts, the notes join the repository's conventions (AGENTS.md) at the head of every
role's system message: the same text for every call of the run, so it stays in the cached
prefix. When a run ends after its gates (passed or failed), one structured call (`llm.ask`,
task `knowledge`, purpose `knowledge`, the supervisor's alias, no re-ask) reads a compact
summary of the run — gates and their fixes, reviewers' requests, the commands agents ran and
their exit codes; never a transcript — and answers new commands, conventions and pitfalls. Each
is checked (one short line, not chatter, no secret: scrubbed summary in, `find_secrets` on
every entry out), deduplicated against the notes, tagged with the run id, merged and trimmed to
~2,000 tokens (oldest crew entries first). A failed or unusable answer adds nothing and never
fails the run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from crew.errors import CrewRuntimeError, UserError
from crew.run import knowledge_notes as kn
from crew.run.state import KnowledgeOutcome, RunStatus
from crew.spec.models import KnowledgeMode

if TYPE_CHECKING:
    from crew.run.runner import RunSession
    from crew.spec.resolve import ResolvedFeature

LOCAL_FILE = ".crew/knowledge.md"
COMMIT_FILE = "CREW.md"
SUMMARY_CHARS = 4000  # the distil call's input: a summary, never a transcript
MAX_PER_KIND = 6
_EXIT = re.compile(r"exit code (-?\d+)")

DISTIL_PROMPT = (
    "You keep short notes about this repository for later crew runs on other features. From "
    "the run summary, list only durable facts they can reuse: commands that worked (tests, "
    "setup, lint; exact spelling), conventions reviewers asked for, pitfalls (a failure and "
    "what fixed it). One short line each; nothing about this feature or its tasks, nothing "
    "already in the repository knowledge above, no secrets. Empty lists when nothing is worth "
    "keeping.")


class Learned(BaseModel):
    """What one run taught about the repository; each entry one short line."""

    commands: list[str] = Field(default_factory=list,
                                description="Commands that worked, e.g. the test command.")
    conventions: list[str] = Field(default_factory=list,
                                   description="Code conventions reviewers asked for.")
    pitfalls: list[str] = Field(default_factory=list,
                                description="A failure and what fixed it.")

    @field_validator("commands", "conventions", "pitfalls", mode="before")
    @classmethod
    def _one_as_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


def knowledge_mode(resolved: ResolvedFeature) -> KnowledgeMode:
    """The feature's `knowledge:`, else the crew's, else `on`."""
    mode = resolved.feature.spec.knowledge or resolved.crew.spec.knowledge or "on"
    return mode


@dataclass(frozen=True)
class KnowledgeFile:
    """Where one repository's notes live for a mode (None for `off`)."""

    mode: KnowledgeMode
    path: Path | None
    label: str  # as the report and the prompt name it

    def read(self) -> str:
        if self.path is None:
            return ""
        try:
            if self.path.is_symlink() or not self.path.is_file():
                return ""
            with self.path.open("rb") as f:
                data = f.read(kn.MAX_CHARS * 4)
        except OSError:
            return ""
        if b"\0" in data[:8192]:
            return ""
        return data.decode("utf-8", "replace")


def knowledge_file(mode: KnowledgeMode, repo_root: Path, worktree: Path | None = None
                   ) -> KnowledgeFile:
    """`.crew/knowledge.md` of the repository (`on`), `CREW.md` of the run's worktree
    (`commit`; of the repository when no worktree is given), or nothing (`off`)."""
    if mode == "off":
        return KnowledgeFile(mode, None, "")
    if mode == "commit":
        return KnowledgeFile(mode, (worktree or repo_root) / COMMIT_FILE, COMMIT_FILE)
    return KnowledgeFile(mode, repo_root / LOCAL_FILE, LOCAL_FILE)


def prompt_section(text: str) -> str | None:
    """The notes as a system-message section (secrets scrubbed, bounded), or None if empty."""
    from crew.observability.redact import scrub

    notes = kn.parse(text)
    if notes.empty():
        return None
    body = kn.render(notes).split("\n", 3)[-1].replace("\n## ", "\n### ").strip()
    if body.startswith("## "):
        body = "#" + body
    if len(body) > kn.MAX_CHARS:
        body = body[:body.rfind("\n", 0, kn.MAX_CHARS)] + "\n[... cut]"
    return f"## Repository knowledge (learned on earlier runs)\n{scrub(body)}"


def session_file(session: RunSession) -> KnowledgeFile:
    ws = session.workspace
    return knowledge_file(knowledge_mode(session.resolved), ws.root, ws.path)


def read_for_prompt(session: RunSession) -> str | None:
    """The notes section for every role's system message of this session (None: none/off)."""
    return prompt_section(session_file(session).read())


def join_sections(*sections: str | None) -> str | None:
    """Conventions, then the notes: one stable head for every system message."""
    parts = [s.strip() for s in sections if s and s.strip()]
    return "\n\n".join(parts) or None


# ---------------------------------------------------------------------- the run's summary


def run_summary(session: RunSession) -> str:
    """What the distil call reads: gates, fixes, reviewers' requests, commands and their
    exit codes — bounded and scrubbed, never a transcript."""
    from crew.observability.redact import scrub

    st = session.state
    out = [f"Feature: {st.feature_title}", f"Result: {st.status}"]
    gates = [f"- attempt {g.attempt}: `{g.command}` {'passed' if g.passed else 'failed'}"
             + ("" if g.passed else f" (exit {g.exit_code}): ..." + _tail(g.output, 300))
             for g in st.gates]
    if gates:
        out += ["Acceptance gates:", *gates]
    fixes = [f"- {t.id} ({st.task(t.id).status}): {_tail(st.task(t.id).summary, 300, head=True)}"
             for t in session.plan or [] if t.kind == "gate_fix"]
    if fixes:
        out += ["Fixes of failed gates:", *fixes]
    reviews = _reviews(session)
    if reviews:
        out += ["Changes reviewers requested:", *(f"- {r}" for r in reviews[:20])]
    commands = _commands(session.run_dir / "events.jsonl")
    if commands:
        out += ["Commands the agents ran (exit code, times):",
                *(f"- `{cmd[:160]}` exit {code}" + (f" x{n}" if n > 1 else "")
                  for (cmd, code), n in list(commands.items())[:15])]
    return scrub("\n".join(out))[:SUMMARY_CHARS]


def _reviews(session: RunSession) -> list[str]:
    return [r for t in session.plan or [] for r in session.state.task(t.id).reviews]


def worth_distilling(session: RunSession, notes: str) -> bool:
    """Whether the run holds anything the notes may lack: a reviewer's request, a failed gate,
    or a command that worked and the notes do not mention. Otherwise no call is made."""
    if _reviews(session) or any(not g.passed for g in session.state.gates):
        return True
    worked = [g.command for g in session.state.gates]
    worked += [cmd for (cmd, code), _ in _commands(session.run_dir / "events.jsonl").items()
               if code == "0"]
    return any(" ".join(c.split()) not in notes for c in worked)


def _tail(text: str, n: int, *, head: bool = False) -> str:
    flat = " ".join(text.split())
    return flat[:n] if head else flat[-n:]


def _commands(events: Path) -> Counter[tuple[str, str]]:
    """`run_command`/`run_tests` calls from the event log: (command, exit code) counted."""
    started: dict[str, str] = {}
    seen: Counter[tuple[str, str]] = Counter()
    try:
        lines = events.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return Counter()
    for line in lines:
        if '"tool.' not in line:
            continue
        try:
            e = json.loads(line)
        except ValueError:
            continue
        p = e.get("payload") or {}
        if e.get("type") == "tool.start" and e.get("name") in ("run_command", "run_tests"):
            started[e["id"]] = _command_of(e["name"], p.get("input"))
        elif e.get("type") == "tool.end" and e.get("id") in started:
            m = _EXIT.search(str(p.get("output") or ""))
            seen[(started.pop(e["id"]), m.group(1) if m else "?")] += 1
    return seen


def _command_of(tool: str, raw: Any) -> str:
    args: Any = raw
    if isinstance(raw, str):
        try:
            import ast

            args = ast.literal_eval(raw)  # the event log keeps a dict's repr
        except (ValueError, SyntaxError):
            args = {}
    if not isinstance(args, dict):
        args = {}
    if tool == "run_tests":
        cmd = str(args.get("command") or "run_tests (the default test command)")
        return f"{cmd} {args.get('args') or ''}".strip()
    return " ".join(str(args.get("command") or "?").split())


# ---------------------------------------------------------------------- the distil step


def vet(texts: list[str]) -> tuple[list[str], int]:
    """Entries fit to keep, and how many were refused (secret, chatter, too long...)."""
    from crew.observability.redact import REDACTED, find_secrets

    kept, refused = [], 0
    for text in texts[:MAX_PER_KIND * 2]:
        if not isinstance(text, str) or kn.refusal(text) or find_secrets(text) or (
                REDACTED in text):
            refused += 1
            continue
        kept.append(text)
    return kept[:MAX_PER_KIND], refused


def merge_learned(text: str, learned: Learned, run_id: str) -> tuple[str, list[str], int]:
    """The notes with `learned` merged in: (new text, added lines as 'Section: entry',
    refused count)."""
    notes = kn.parse(text)
    added: list[str] = []
    refused = 0
    for section, texts in (("Commands", learned.commands),
                           ("Conventions", learned.conventions),
                           ("Pitfalls", learned.pitfalls)):
        ok, bad = vet(list(texts))
        refused += bad
        added += [f"{section}: {t}" for t in kn.merge(notes, section, ok, run_id)]
    dropped = kn.trim(notes)
    gone = {f"{s}: {e.text}" for s in kn.SECTIONS for e in dropped}
    return kn.render(notes), [a for a in added if a not in gone], refused


async def learn_from_run(session: RunSession) -> None:
    """End of a run: distil, merge and write the notes; record what was added on the run's
    state. Never raises for a model's failure; `off` does nothing."""
    import asyncio

    from crew.llm.types import CallContext
    from crew.tools.conventions import with_conventions

    kfile = session_file(session)
    if kfile.path is None or session.state.status not in (RunStatus.PASSED, RunStatus.FAILED):
        return
    outcome = KnowledgeOutcome(file=kfile.label)
    session.state.knowledge = outcome
    current = await asyncio.to_thread(kfile.read)
    if not await asyncio.to_thread(worth_distilling, session, current):
        outcome.note = "nothing new to learn (no review request, failed gate or new command)"
        return
    supervisor = session.resolved.crew.spec.supervisor
    alias = session.resolved.roles[supervisor].spec.model
    messages: list[Any] = [
        {"role": "system", "content": with_conventions(DISTIL_PROMPT, session.conventions)},
        {"role": "user", "content": await asyncio.to_thread(run_summary, session)}]
    ctx = CallContext(run_id=session.state.run_id, task_id="knowledge", role=supervisor,
                      purpose="knowledge")
    try:  # its own step of the trace, as planning is
        with session.tracer.task("knowledge", pattern="knowledge", roles=[supervisor]):
            learned = await session.llm.ask(alias, messages, Learned, context=ctx,
                                            max_reasks=0)
    except (CrewRuntimeError, UserError) as e:  # a model's bad answer, a replay without one
        outcome.note = f"nothing added: {type(e).__name__}: {str(e)[:200]}"
        session.tracer.event("knowledge_skipped", "WARNING", {"error": outcome.note})
        return
    text, outcome.added, outcome.refused = merge_learned(current, learned,
                                                         session.state.run_id)
    if not outcome.added:
        outcome.note = "nothing new"
        return
    try:
        await asyncio.to_thread(_write, kfile, text, session)
    except (OSError, CrewRuntimeError, UserError) as e:
        outcome.note = f"not written: {type(e).__name__}: {str(e)[:200]}"
        outcome.added = []
        session.tracer.event("knowledge_skipped", "WARNING", {"error": outcome.note})
        return
    session.tracer.event("knowledge_added", "DEFAULT", {
        "file": kfile.label, "added": outcome.added,
        "message": f"knowledge: {len(outcome.added)} note(s) added to {kfile.label}"})


def _write(kfile: KnowledgeFile, text: str, session: RunSession) -> None:
    from crew.run.state import write_atomic

    assert kfile.path is not None
    kfile.path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(kfile.path, text)
    if kfile.mode == "commit":
        commit_notes(session.workspace.path, session.state.run_id)


def commit_notes(worktree: Path, run_id: str) -> None:
    """Commit CREW.md on the run's branch (integration worktree), if it changed."""
    from crew.workspace.git import identity_env, run_git
    from crew.workspace.naming import role_identity

    run_git(worktree, "add", "--", COMMIT_FILE)
    if run_git(worktree, "diff", "--cached", "--quiet", check=False).ok:
        return
    run_git(worktree, "commit", "--no-verify", "--quiet", "-m",
            f"crew: repository knowledge from run {run_id}",
            env=identity_env(*role_identity("crew")))
