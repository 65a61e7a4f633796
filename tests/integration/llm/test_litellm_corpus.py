"""Real LiteLLM proxy configs (tests/corpus/litellm, origins in its ORIGIN.md): every config
the proxy accepts validates, builds the real Router and answers a `mock_response` call with
nothing on stdout; what the proxy refuses, crew refuses with file:line."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.llm import LLM
from crew.spec.validate import validate_path
from shared_helpers import free_port, litellm_globals_restored

CORPUS = Path(__file__).parents[2] / "corpus" / "litellm"
INCLUDED = {"docs/includes/model_config.yaml"}  # read through docs/includes/proxy_config.yaml
REFUSED = {  # file -> (line, words of the message)
    "wheel/langfuse_config.yaml": (2, "missing required field 'litellm_params'"),
    "docs/router_health_check_interval.yaml": (10, "move it to general_settings"),
}
CONFIGS = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yaml")
                 if str(p.relative_to(CORPUS)) not in INCLUDED)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every variable the corpus names (os.environ/VAR) set to a dummy value, the ones its
    docs ask for set, and redis pointing at a closed local port."""
    names = {m for p in CORPUS.rglob("*.yaml")
             for m in re.findall(r"os\.environ/([A-Za-z0-9_]+)", p.read_text())}
    for name in names:
        monkeypatch.setenv(name, "dummy-value")
    monkeypatch.setenv("LITELLM_ENVIRONMENT", "production")  # step 1 of configs_environments
    monkeypatch.setenv("REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("REDIS_PORT", str(free_port()))
    with litellm_globals_restored():
        yield


def test_the_corpus_is_large_enough() -> None:
    assert len(CONFIGS) >= 40, len(CONFIGS)
    assert set(REFUSED) <= set(CONFIGS)


# LiteLLM itself (not crew) reaches out for these configs even on a mock call, as the proxy
# would, partly from its background logging worker: its Router connects to the redis_host the
# load-balancing config names literally ("<your redis host>", which resolves nowhere), and for
# huggingface/* models the Router and its cost logging fetch the model's config.json from
# huggingface.co (answering without it). They run in a child process, so nothing of theirs
# outlives the test; crew's own model-info lookups skip hub providers (_HUB_PROVIDERS).
_LITELLM_PROBES = {"docs/configs_load_balancing.yaml", "docs/configs_hf_embeddings.yaml",
                   "docs/configs_prompt_template.yaml"}
_CHILD = """
import asyncio, sys
from crew.llm import LLM
from crew.spec.validate import validate_path
assert validate_path(__import__("pathlib").Path(sys.argv[1]), "models").kind == "models"
llm = LLM.from_file(sys.argv[1])
alias = sorted(llm.aliases)[0]
c = asyncio.run(llm.complete(alias, [{"role": "user", "content": "hi"}], mock_response="pong"))
sys.exit(0 if c.content == "pong" else 3)
"""


@pytest.mark.parametrize("name", sorted(_LITELLM_PROBES))
def test_real_config_that_litellm_probes_from(name: str) -> None:
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _CHILD, str(CORPUS / name)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == ""


@pytest.mark.parametrize("name", [n for n in CONFIGS if n not in _LITELLM_PROBES])
def test_real_config(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / name
    if name in REFUSED:
        line, words = REFUSED[name]
        with pytest.raises(UserError) as e:
            validate_path(path, "models")
        rendered = "\n".join(p.render() for p in e.value.problems)
        assert any(p.file == str(path) and p.line == line for p in e.value.problems), rendered
        assert words in rendered, rendered
        assert capfd.readouterr().out == ""
        return
    done = validate_path(path, "models")
    assert done.kind == "models"
    llm = LLM.from_file(path)
    alias = next((a for a in sorted(llm.aliases) if "*" not in a), "gpt-4o")
    completion = asyncio.run(llm.complete(alias, [{"role": "user", "content": "hi"}],
                                          mock_response="pong"))
    assert completion.content == "pong"
    assert capfd.readouterr().out == ""  # set_verbose and litellm's debug prints: stderr only


@pytest.mark.parametrize(("name", "section", "nearest"), [
    ("repo/anthropic_custom_user_agent_config.yaml", "model_list_with_extra_headers",
     "model_list"),
    ("repo/builtin_mcp_config.yaml", "mcp_builtin_servers", "mcp_servers"),
])
def test_an_unknown_top_level_section_is_a_warning(name: str, section: str,
                                                   nearest: str) -> None:
    """The proxy ignores a section it does not read; crew warns (did you mean) and goes on
    (issue 26). The configs also answer a mock call in test_real_config."""
    done = validate_path(CORPUS / name)
    assert done.kind == "models"
    (warning,) = [w for w in done.warnings if w.field == section]
    assert "unknown top-level section" in warning.message
    assert warning.hint == f"did you mean {nearest!r}?" and warning.line is not None
