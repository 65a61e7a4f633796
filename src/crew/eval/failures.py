"""The names of the tests a check's output reports as failed: pytest's short summary
(`FAILED path::test - ...`, `ERROR path::test`), unittest (`FAIL: test (module.Class)`), TAP
(`not ok 3 - name`, as tape and `node --test` print it) and node's spec reporter (`✖ name`).
Summary lines (unittest's `FAILED (failures=1, errors=1)`) name no test."""

from __future__ import annotations

import re

MAX_NAMES = 50
_PATTERNS = (
    # pytest -r fE (on by default); an id never starts with "(": unittest's `FAILED (errors=1)`
    re.compile(r"^(?:FAILED|ERROR) ([^\s(]\S*?)(?: - .*)?$"),
    re.compile(r"^(?:FAIL|ERROR): (\S+ \([\w.]+\))"),  # unittest
    re.compile(r"^\s*not ok \d+(?: -)? (.+?)(?:\s+#.*)?$"),  # TAP
    re.compile(r"^\s*\u2716 (.+?)(?: \([\d.]+m?s\))?$"),  # node --test spec reporter
)


def failed_tests(output: str) -> list[str]:
    """Failed test names in `output`, in order, each once (at most MAX_NAMES)."""
    seen: dict[str, None] = {}
    for line in output.splitlines():
        for pattern in _PATTERNS:
            m = pattern.match(line.rstrip())
            if m:
                seen.setdefault(m.group(1).strip(), None)
                break
        if len(seen) >= MAX_NAMES:
            break
    return list(seen)
