"""A `crew.hooks` plugin for the e2e tests: vetoes write_file calls under `deny_under` and
records the task and turn notifications it gets in `log` (a file, one line each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crew.tools.hooks import Hook


class VetoWrites(Hook):
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        if "deny_under" not in self.settings:
            raise ValueError("set deny_under: a path prefix")
        self.prefix = str(self.settings["deny_under"])
        self.log = Path(self.settings["log"]) if "log" in self.settings else None

    def _note(self, text: str) -> None:
        if self.log is not None:
            with self.log.open("a") as f:
                f.write(text + "\n")

    async def before_tool(self, call: Any, ctx: Any) -> str | None:
        self._note(f"before_tool {call.name}")
        if call.name == "write_file":
            path = json.loads(call.arguments).get("path", "")
            if path.startswith(self.prefix):
                return f"files under {self.prefix} are frozen by the release manager"
        return None

    def after_tool(self, call: Any, outcome: Any, ctx: Any) -> None:
        self._note(f"after_tool {call.name} {outcome.status}")

    def before_task(self, event: dict[str, Any]) -> None:
        self._note(f"before_task {event['name']}")

    def after_task(self, event: dict[str, Any]) -> None:
        self._note(f"after_task {event['name']}")

    def before_turn(self, event: dict[str, Any]) -> None:
        self._note(f"before_turn {event['name']}")

    def after_turn(self, event: dict[str, Any]) -> None:
        self._note(f"after_turn {event['name']}")
