"""crew never reads a `.env` from the working directory (litellm does at import unless
LITELLM_MODE is set): what a run sees does not depend on where it was started, nor on when
the background import finished. A user who sets LITELLM_MODE=DEV gets litellm's behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh process importing litellm, twice

PROBE = ("import os; from crew.llm._litellm import load_litellm; load_litellm(); "
         "print(os.environ.get('CREW_DOTENV_PROBE'), os.environ.get('LITELLM_MODE'))")


def _probe(cwd: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("LITELLM_MODE", "CREW_DOTENV_PROBE")}
    res = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env={**base, **env},
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip()


def test_a_dotenv_in_the_working_directory_is_not_loaded(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CREW_DOTENV_PROBE=sk-from-dotenv\n")
    assert _probe(tmp_path) == "None None"  # not loaded, and LITELLM_MODE left unset


def test_a_users_litellm_mode_is_respected(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CREW_DOTENV_PROBE=sk-from-dotenv\n")
    assert _probe(tmp_path, LITELLM_MODE="DEV") == "sk-from-dotenv DEV"
