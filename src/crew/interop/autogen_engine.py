"""debate and committee run as AutoGen AgentChat teams, with crew's params, result and stops.

debate: a RoundRobinGroupChat of one AssistantAgent per debater, run one round (one turn per
debater) at a time until `rounds` or every debater states the same POSITION (crew's consensus),
then crew's judge (structured JudgeVerdict). AutoGen's semantics, not crew's: each
debater sees the whole transcript, including the answers given earlier in the same round.
committee: a GraphFlow whose members are all start nodes (they answer concurrently, each a
structured ballot); the ballots are aggregated by crew's committee code (majority, ranking,
chair). Every model call goes through crew's LLM layer (CrewChatCompletionClient).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage
from autogen_agentchat.teams import DiGraphBuilder, GraphFlow, RoundRobinGroupChat

from crew.agent import FRAMEWORK_NOTE
from crew.errors import CrewRuntimeError, UserError
from crew.interop.autogen_client import ABSTAIN, CrewChatCompletionClient, CrewWorkbench, ErrorBox
from crew.patterns.base import (
    Outcome,
    PatternContext,
    PatternResult,
    Record,
    system_message,
    traced_round,
)
from crew.patterns.committee import BALLOT_NOTE, Committee, CommitteeParams, ballot_schema
from crew.patterns.debate import POSITION_NOTE, Debate, DebateParams, agreed, position
from crew.patterns.termination import Condition
from crew.spec.models import PatternSpec
from crew.tools.registry import run_registry

DEBATER_NOTE = "You are {name} in a debate; the others' answers follow yours: revise or defend."
ENGINE = "autogen"

AgentMessage = BaseAgentEvent | BaseChatMessage | TaskResult


def agent_name(i: int, role: str) -> str:
    """An AutoGen agent name (a Python identifier) for member `i` (1-based) playing `role`."""
    return f"m{i}_" + re.sub(r"\W", "_", role)


def make_agent(ctx: PatternContext, role: str, name: str, errors: ErrorBox, *, purpose: str,
               alias: str | None = None, temperature: float | None = None,
               note: str = "", schema: Any = None, turn_offset: int = 0) -> AssistantAgent:
    """An AssistantAgent for `role` backed by crew's LLM; crew's tools when the task has a
    workspace (and no structured answer is wanted)."""
    spec = ctx.role(role)
    params: dict[str, Any] = {"temperature": spec.temperature if temperature is None
                              else temperature}
    if spec.max_tokens:
        params["max_tokens"] = spec.max_tokens
    call = ctx.call(role, purpose=purpose)
    client = CrewChatCompletionClient(ctx.llm, alias or spec.model, call, params=params,
                                      schema=schema, errors=errors, turn_offset=turn_offset)
    system = str(system_message(ctx, role)["content"])
    workdir = ctx.workdir
    bench = None
    if workdir is not None and schema is None and spec.tools:
        bench = CrewWorkbench(run_registry().select(spec.tools), workdir, call,
                              sandbox=ctx.sandbox)
        system += f"\n\n{FRAMEWORK_NOTE}"
    if note:
        system += f"\n\n{note}"
    return AssistantAgent(name, model_client=client, workbench=bench, system_message=system,
                          description=spec.title or role,
                          max_tool_iterations=max(1, spec.max_turns) if bench else 1,
                          reflect_on_tool_use=False)


async def run_team(stream: AsyncGenerator[AgentMessage, None], errors: ErrorBox
                   ) -> AsyncGenerator[AgentMessage, None]:
    """The team's messages; a crew error raised inside an agent is re-raised with its type."""
    try:
        async for msg in stream:
            yield msg
    except Exception as e:
        if errors.error is not None:
            raise errors.error from None
        raise CrewRuntimeError(f"the AutoGen team failed: {type(e).__name__}: {e}") from None
    if errors.error is not None:  # swallowed by autogen somewhere: still a failure
        raise errors.error


def finished(ctx: PatternContext) -> PatternResult | None:
    """The result a checkpoint holds when the task already finished on this engine."""
    saved = ctx.state.get("result")
    return PatternResult.model_validate(saved) if isinstance(saved, dict) else None


async def save_result(ctx: PatternContext, res: PatternResult) -> PatternResult:
    await ctx.save({**ctx.state, "engine": ENGINE, "result": res.model_dump(mode="json")})
    return res


class AutogenDebate(Debate):
    """crew's debate (params, judge, result) played by an AutoGen RoundRobinGroupChat."""

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        done = finished(ctx)
        if done is not None:
            return done
        p: DebateParams = params
        roles = list(ctx.task.roles)
        if len(roles) < 2:
            raise UserError(f"task {ctx.task.id!r}: a debate needs at least two debaters",
                            field="roles")
        ctx.role(p.judge)
        names = [agent_name(i, r) for i, r in enumerate(roles, 1)]
        labels = [f"Debater {i} ({r})" for i, r in enumerate(roles, 1)]
        question = "\n\n".join(x for x in (ctx.context_text(), ctx.task.prompt()) if x)
        st = dict(ctx.state)
        rnd = int(st.get("round", 0))
        answers: list[str] = list(st.get("answers", []))
        rec.rounds = rnd
        early = p.early_stop and "consensus" in stop.names()
        if rnd >= p.rounds or (early and answers and agreed(answers)):
            return await self._finish(ctx, rec, p, labels, question, answers, rnd, early)
        errors = ErrorBox()
        agents = [make_agent(ctx, r, n, errors, purpose="debate", turn_offset=rnd,
                             note=DEBATER_NOTE.format(name=label))
                  for r, n, label in zip(roles, names, labels, strict=True)]
        # One team run per round (AgentChat resumes where it stopped), so each round is a
        # trace span with its agents' observations under it, as in a native debate.
        team = RoundRobinGroupChat(list(agents), max_turns=len(roles))
        task: list[BaseChatMessage] | None = [
            TextMessage(content=f"{question}\n\n{POSITION_NOTE}", source="user")]
        if answers and task is not None:  # resumed: the last completed round, as it was said
            task += [TextMessage(content=a, source=n)
                     for n, a in zip(names, answers, strict=True)]
        current = list(answers) or [""] * len(roles)
        while rnd < p.rounds:
            rnd += 1
            with traced_round(rnd):
                async for msg in run_team(team.run_stream(task=task, output_task_messages=False),
                                          errors):
                    if isinstance(msg, BaseChatMessage) and msg.source in names:
                        i = names.index(msg.source)
                        current[i] = msg.to_text().strip()
                        rec.call(roles[i], rnd, "debate", POSITION_NOTE)
            task = None
            rec.rounds = rnd
            rec.votes.append({"round": rnd, "positions": [position(a) for a in current]})
            await ctx.save({"engine": ENGINE, "round": rnd, "answers": current})
            if early and agreed(current):
                break
        return await self._finish(ctx, rec, p, labels, question, current, rnd, early)

    async def _finish(self, ctx: PatternContext, rec: Record, p: DebateParams,
                      labels: list[str], question: str, answers: list[str], rnd: int,
                      early: bool) -> PatternResult:
        common = agreed(answers) if early else None
        if common:
            res = self.result(rec, Outcome.DONE, f"the debaters agreed in round {rnd}: {common}",
                              decision=common, stopped_by="consensus")
        else:
            verdict = await self._judge(ctx, rec, rnd, p.judge, labels, question, answers)
            res = self.result(rec, Outcome.DONE, verdict.rationale, decision=verdict.decision,
                              stopped_by="max_rounds")
        return await save_result(ctx, res)


class AutogenCommittee(Committee):
    """crew's committee (params, aggregation, result) whose ballots come from an AutoGen
    GraphFlow: every member a start node, so they answer concurrently and independently."""

    async def execute(self, ctx: PatternContext, params: Any, stop: Condition,
                      rec: Record) -> PatternResult:
        done = finished(ctx)
        if done is not None:
            return done
        p: CommitteeParams = params
        members = list(ctx.task.roles)
        if not members:
            raise UserError(f"task {ctx.task.id!r}: a committee needs members", field="roles")
        if p.apply and ctx.workspace is not None:
            raise UserError(f"task {ctx.task.id!r}: a committee on the autogen engine votes on "
                            "text answers, not code proposals", field="params.apply",
                            hint="set params.apply: false, or engine: native")
        for key in ("models", "temperatures"):
            given = getattr(p, key)
            if given is not None and len(given) != len(members):
                raise UserError(f"committee: params.{key} has {len(given)} entries for "
                                f"{len(members)} members", field=f"params.{key}")
        if p.aggregation == "chair":
            ctx.role(p.chair)
        rec.rounds = 1
        props = ctx.state.get("proposals")
        if not isinstance(props, list):
            props = await self._ballots(ctx, rec, p, members)
            await ctx.save({"engine": ENGINE, "round": 1, "proposals": props})
        valid = [x for x in props if x is not None]
        rec.votes.extend(valid)
        if len(valid) < p.quorum:
            return await save_result(ctx, self.result(
                rec, Outcome.NO_CONSENSUS, f"no quorum: {len(valid)} valid answer(s) of "
                                           f"{len(members)}, quorum {p.quorum}"))
        chosen, summary = await self._aggregate(ctx, rec, p, members, valid, False)
        if chosen is None:
            return await save_result(ctx, self.result(rec, Outcome.NO_CONSENSUS, summary))
        return await save_result(ctx, self.result(rec, Outcome.DONE, summary,
                                                  decision=chosen["answer"]))

    async def _ballots(self, ctx: PatternContext, rec: Record, p: CommitteeParams,
                       members: list[str]) -> list[dict[str, Any] | None]:
        errors = ErrorBox()
        schema = ballot_schema(p.options)
        names = [agent_name(i, r) for i, r in enumerate(members, 1)]
        agents = []
        for i, (role, name) in enumerate(zip(members, names, strict=True)):
            alias, temp = self._variant(ctx, p, i, role)
            agents.append(make_agent(ctx, role, name, errors, purpose="ballot", alias=alias,
                                     temperature=temp, schema=schema, turn_offset=i))
        builder = DiGraphBuilder()
        for a in agents:
            builder.add_node(a)
        team = GraphFlow(list(agents), graph=builder.build())
        user = "\n\n".join(x for x in (ctx.context_text(), ctx.task.prompt(), BALLOT_NOTE) if x)
        texts: dict[str, str] = {}
        with traced_round(1):  # the members answer concurrently under it
            async for msg in run_team(team.run_stream(task=user, output_task_messages=False),
                                      errors):
                if isinstance(msg, BaseChatMessage) and msg.source in names:
                    texts[msg.source] = msg.to_text()
        props: list[dict[str, Any] | None] = []
        for i, (role, name) in enumerate(zip(members, names, strict=True)):
            rec.call(role, 1, "ballot", BALLOT_NOTE)
            text = texts.get(name, ABSTAIN + "no answer")
            if text.startswith(ABSTAIN):
                rec.votes.append({"member": i + 1, "role": role, "error": text[len(ABSTAIN):]})
                props.append(None)
                continue
            data = schema.model_validate_json(text).model_dump()
            props.append({"member": i + 1, "role": role, "model": self._variant(ctx, p, i, role)[0],
                          "answer": str(data["answer"]), "rationale": data.get("rationale", "")})
        return props


async def run_autogen(template: PatternSpec, ctx: PatternContext) -> PatternResult:
    """Run `template` (debate or committee) on AutoGen with crew's params, stops and result."""
    pattern = AutogenDebate() if template.kind == "debate" else AutogenCommittee()
    return await pattern.run(ctx)
