"""The three workloads written in AutoGen 0.7.5 and CrewAI 1.6.1 (see benchmarks/peers.py for the
choices and adaptations), and the stub replies that let each finish normally. Model names are
`ag.<role>` / `cr.<role>` so one stub scripts all three frameworks side by side."""

from __future__ import annotations

import json
from typing import Any

from patterns import DESCRIPTION, TITLE

TASK = f"# {TITLE}\n\n{DESCRIPTION}"
# the same step instructions crew's patterns give, as a user of either peer would write them
REVIEW_ASK = "Answer independently: give your answer and a short rationale."
CHAIR_ASK = "As chair, synthesise the committee's decision from the answers."
POSITION = "End with one line: POSITION: <your position in a few words>."
REVISE = "Revise or defend your answer."
JUDGE_ASK = "Judge the debate: give the decision and its rationale; name the winner if one."
SUPERVISE = "Split the work among the coder, tester and doc writer, then check their results."
TERMINATE = "When all are done, sum up and end with TERMINATE."  # AutoGen's stop word (docs)
REVIEWERS = ("reviewer", "security_analyst", "tester")
WORKERS = ("coder", "tester", "doc_writer")

ANSWER = "Ship it behind a flag. Rationale: small, testable."
DECISION = "Decision: ship behind a flag. Rationale: all agree."
STREAM, ESCAPE = "Stream rows.\nPOSITION: stream", "Escape formulas.\nPOSITION: escape"
VERDICT = "Decision: stream and escape. Rationale: both matter."
PLAN = "Plan: coder implements export; tester tests export; doc_writer documents export."
TITLES = {"coder": "Software engineer", "tester": "Test engineer",
          "doc_writer": "Technical writer"}


_ROLES: dict[str, Any] = {}


def load_roles() -> None:
    """crew's built-in role texts; loaded before the timed window (benchmark setup)."""
    from crew.spec.library import Library

    lib = Library([])
    for n in ("reviewer", "security_analyst", *WORKERS, "supervisor"):
        _ROLES[n] = lib.load("role", n).spec


def role(name: str) -> Any:
    if not _ROLES:
        load_roles()
    return _ROLES[name]


def system_message(spec: Any) -> str:
    """The role opening crew sends (crew.patterns' system message), for AutoGen's agents."""
    return f"You are the {spec.title}. Goal: {spec.goal}\n\n{spec.instructions}"


# ---------------------------------------------------------------- AutoGen 0.7.5
def autogen(workload: str, url: str) -> None:
    import asyncio

    asyncio.run(_autogen(workload, url))


async def _autogen(workload: str, url: str) -> None:
    import asyncio

    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import TextMentionTermination
    from autogen_agentchat.messages import BaseChatMessage, TextMessage
    from autogen_agentchat.teams import RoundRobinGroupChat, SelectorGroupChat
    from autogen_core.models import ModelFamily, ModelInfo
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    info = ModelInfo(vision=False, function_calling=True, json_output=False,
                     family=ModelFamily.UNKNOWN, structured_output=False)
    clients: list[OpenAIChatCompletionClient] = []

    def client(model: str, temperature: float | None) -> OpenAIChatCompletionClient:
        c = OpenAIChatCompletionClient(model=f"ag.{model}", base_url=url, api_key="sk-stub",
                                       model_info=info, temperature=temperature)
        clients.append(c)
        return c

    def agent(name: str, as_role: str | None = None, extra: str = "") -> AssistantAgent:
        spec = role(as_role or name)
        return AssistantAgent(name, model_client=client(name, spec.temperature),
                              description=f"{spec.title}: {spec.goal}",
                              system_message=system_message(spec) + extra)

    if workload == "committee":
        reviewers = [agent(n) for n in REVIEWERS]
        results = await asyncio.gather(*(a.run(task=f"{TASK}\n\n{REVIEW_ASK}") for a in reviewers))
        answers = "\n".join(f"{i}. {r.messages[-1].to_text()}" for i, r in enumerate(results, 1))
        chair = agent("supervisor")
        final = await chair.run(task=f"# {TITLE}\n\n## Answers\n{answers}\n\n{CHAIR_ASK}")
        assert final.messages[-1].to_text() == DECISION, final
    elif workload == "debate":
        pair = RoundRobinGroupChat([agent("coder"), agent("security_analyst_d", "security_analyst")],
                                   max_turns=6)
        debate = await pair.run(task=f"{TASK}\n\n{POSITION}")
        turns = [m for m in debate.messages if isinstance(m, BaseChatMessage)]
        assert len(turns) == 7, debate  # the task and 6 turns
        judge = agent("judge", "reviewer")
        final = await judge.run(task=[*turns, TextMessage(content=JUDGE_ASK, source="user")])
        assert final.messages[-1].to_text() == VERDICT, final
    else:
        lead = agent("supervisor", extra=f"\n{TERMINATE}")  # as the docs' planning agent
        team = SelectorGroupChat([lead, *(agent(n) for n in WORKERS)],
                                 model_client=client("selector", None),
                                 termination_condition=TextMentionTermination("TERMINATE"))
        final = await team.run(task=f"{TASK}\n\n{SUPERVISE}")
        assert "TERMINATE" in final.messages[-1].to_text(), final
    for c in clients:
        await c.close()


# ---------------------------------------------------------------- CrewAI 1.6.1
def crewai(workload: str, url: str) -> None:
    from crewai import LLM, Agent, Crew, Process, Task

    def agent(name: str, as_role: str | None = None, **kw: Any) -> Agent:
        spec = role(as_role or name)
        llm = LLM(model=f"cr.{name}", provider="openai", base_url=url, api_key="sk-stub",
                  temperature=spec.temperature)
        return Agent(role=spec.title, goal=spec.goal, backstory=spec.instructions, llm=llm, **kw)

    if workload == "committee":
        ballots = [Task(description=f"{TASK}\n\n{REVIEW_ASK}", async_execution=True,
                        expected_output="Your answer and a short rationale.", agent=agent(n))
                   for n in REVIEWERS]
        chair = Task(description=f"# {TITLE}\n\n{CHAIR_ASK}", context=ballots,
                     expected_output="The decision and its rationale.", agent=agent("supervisor"))
        crew = Crew(agents=[t.agent for t in [*ballots, chair] if t.agent],
                    tasks=[*ballots, chair], process=Process.sequential)
        assert str(crew.kickoff()) == DECISION
    elif workload == "debate":
        debaters = [agent("coder"), agent("security_analyst_d", "security_analyst")]
        turns = [Task(description=f"{TASK}\n\n{'' if r == 0 else REVISE + ' '}{POSITION}",
                      expected_output="Your answer, ending with the POSITION line.", agent=d)
                 for r in range(3) for d in debaters]
        judge = agent("judge", "reviewer")
        verdict = Task(description=f"{TASK}\n\n{JUDGE_ASK}", agent=judge,
                       expected_output="The decision and its rationale.")
        crew = Crew(agents=[*debaters, judge], tasks=[*turns, verdict],
                    process=Process.sequential)
        assert str(crew.kickoff()) == VERDICT
    else:
        manager = agent("supervisor", allow_delegation=True)
        task = Task(description=f"{TASK}\n\n{SUPERVISE}",
                    expected_output="A short summary of what was done.")
        crew = Crew(agents=[agent(n) for n in WORKERS], tasks=[task], manager_agent=manager,
                    process=Process.hierarchical)
        assert str(crew.kickoff()) == "All done."


# ---------------------------------------------------------------- stub script
def final(text: str) -> str:
    """CrewAI's ReAct format for an answer (its parser retries anything else)."""
    return f"Thought: I now can give a great answer\nFinal Answer: {text}"


def delegate(worker: str, what: str) -> str:
    args = {"task": what, "context": TASK, "coworker": TITLES[worker]}
    return (f"Thought: The {worker} should do this.\nAction: Delegate work to coworker\n"
            f"Action Input: {json.dumps(args)}")


def script_always(stub: Any) -> None:
    """Replies every run may repeat (the queued ones of `script` come first)."""
    from crew.testing import StubReply

    for prefix, wrap in (("ag", str), ("cr", final)):
        for n in REVIEWERS:
            stub.always(StubReply.text(wrap(ANSWER)), model=f"{prefix}.{n}")
        stub.always(StubReply.text(wrap(STREAM)), model=f"{prefix}.coder")
        stub.always(StubReply.text(wrap(ESCAPE)), model=f"{prefix}.security_analyst_d")
        stub.always(StubReply.text(wrap(VERDICT)), model=f"{prefix}.judge")


def script(stub: Any, framework: str, workload: str) -> None:
    """Queue the replies one run of `workload` in `framework` consumes."""
    from crew.testing import StubReply

    p, wrap = ("ag", str) if framework == "autogen" else ("cr", final)
    if workload == "committee":
        stub.enqueue(StubReply.text(wrap(DECISION)), model=f"{p}.supervisor")
    elif workload == "supervisor":
        for n in WORKERS:
            stub.enqueue(StubReply.text(wrap("Done.")), model=f"{p}.{n}")
        if framework == "autogen":
            for n in ("supervisor", *WORKERS, "supervisor"):
                stub.enqueue(StubReply.text(n), model="ag.selector")
            stub.enqueue(StubReply.text(PLAN), StubReply.text("All done. TERMINATE"),
                         model="ag.supervisor")
        else:
            stub.enqueue(*(StubReply.text(delegate(n, w)) for n, w in zip(
                WORKERS, ("Implement export", "Test export", "Document export"), strict=True)),
                StubReply.text(final("All done.")), model="cr.supervisor")
