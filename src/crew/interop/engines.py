"""The autogen and crewai engines' declarations, registered through the `crew.engines`
entry-point group (pyproject). Light: importing this module imports neither framework; each
runs only when a task uses it, and a missing extra is a UserError naming it."""

from __future__ import annotations

from crew.patterns.engines import EngineSpec

AUTOGEN = EngineSpec("autogen", kinds=("debate", "committee"), requires="autogen_agentchat",
                     package="autogen-agentchat", extra="autogen",
                     runner="crew.interop.autogen_engine:run_autogen")
CREWAI = EngineSpec("crewai", kinds=("review_loop", "supervisor_worker"), requires="crewai",
                    package="crewai", extra="crewai",
                    runner="crew.interop.crewai_engine:run_crewai")
