"""The autogen and crewai engines' declarations, registered through the `crew.engines`
entry-point group (pyproject). Light: importing this module imports neither framework; each
runs only when a task uses it, and a missing extra is a UserError naming it. An engine is a
MemberTurns factory: it takes the members' turns; the pattern's loop stays crew's."""

from __future__ import annotations

from crew.patterns.engines import EngineSpec

AUTOGEN = EngineSpec("autogen", requires="autogen_agentchat",
                     package="autogen-agentchat", extra="autogen",
                     turns="crew.interop.autogen_engine:AutogenTurns")
CREWAI = EngineSpec("crewai", requires="crewai",
                    package="crewai", extra="crewai",
                    turns="crew.interop.crewai_engine:CrewAITurns")
