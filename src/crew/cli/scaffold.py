"""`crew init`: a feature.yaml and models.yaml that validate once the keys they name are set."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

from crew.errors import UserError
from crew.spec.validate import INIT_PLACEHOLDERS

FEATURE = f"""\
# A feature for crew to build. Check it with: crew validate feature.yaml
# Editor completion: crew schema feature -o .crew-feature.schema.json (see README)
title: {INIT_PLACEHOLDERS["title"]}
goal: |
  {INIT_PLACEHOLDERS["goal"]}.
  Name the files, commands or APIs it touches when you know them.
repo: @REPO@# the git repository to work on, relative to this file
crew: software-team      # the built-in crew: supervisor, coder, tester, reviewer, ...
models: models.yaml      # LiteLLM router config with the aliases `smart` and `fast`
test_command: @TEST@   # what the agents' run_tests runs (@SOURCE@)
acceptance:              # commands that must pass in the sandbox at the end
  - run: @TEST@
budget: {{usd: 3.00, tokens: 500000, minutes: 30}}
"""

MODELS = """\
# LiteLLM router config (the proxy's config format, unchanged). Roles call `smart` or `fast`.
# Keys are read from the environment when a run starts.
model_list:
  - model_name: smart
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: fast
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/OPENAI_API_KEY
  # A local OpenAI-compatible server (Ollama, vLLM, llama.cpp) instead: say it enforces a
  # JSON schema, or plans and verdicts fall back to prompt instructions (crew validate warns):
  # - model_name: fast
  #   litellm_params: {model: ollama_chat/qwen2.5-coder:7b, api_base: "http://localhost:11434"}
  #   model_info: {supports_response_schema: true}
router_settings:
  fallbacks: [{smart: [fast]}]
  num_retries: 2
  timeout: 120
"""


def from_cwd(path: Path) -> str:
    """`path` as typed from the current directory (for printed commands), shell-quoted."""
    try:
        rel = os.path.relpath(path.resolve(), Path.cwd().resolve())
    except ValueError:  # another drive
        rel = str(path.resolve())
    return shlex.quote(rel)


def repo_for(directory: Path) -> str:
    """`repo:` for a feature in `directory`: the git repository around it (where a feature
    usually lives, e.g. `my-feature/` in the project), else the current directory, relative
    to `directory`."""
    from crew.workspace.git import enclosing_repo

    root = enclosing_repo(directory) or Path.cwd().resolve()
    return Path(os.path.relpath(root, directory.resolve())).as_posix()


def with_test_command(feature: str, repo: Path) -> str:
    """The feature template with the repository's test command (AGENTS.md's or detected from
    its files; an active virtualenv is not written in: its path is this machine's)."""
    from crew.run.testcmd import DEFAULT_TEST_COMMAND, detect_test_command, named_in_conventions

    found = (named_in_conventions(repo) or detect_test_command(repo, env={})) \
        if repo.is_dir() else None
    test, source = found or (DEFAULT_TEST_COMMAND, "")
    source = f"found in {source}" if source else "nothing detected: the default"
    return feature.replace("@TEST@", _yaml_scalar(test)).replace("@SOURCE@", source)


def _yaml_scalar(text: str) -> str:
    """`text` as a YAML scalar on one line (quoted when plain style would change it)."""
    import yaml

    plain = yaml.safe_dump(text, default_flow_style=True, width=10_000).strip()
    plain = plain.removesuffix("...").strip()
    return plain if "\n" not in plain else json.dumps(text)


def scaffold(directory: Path, *, force: bool = False) -> list[Path]:
    if directory.exists() and not directory.is_dir():
        raise UserError("not a directory", file=str(directory))
    repo = repo_for(directory)
    shown = repo if re.fullmatch(r"[\w./-]+", repo) else json.dumps(repo)
    feature = FEATURE.replace("@REPO@", shown + " " * max(1, 19 - len(shown)))
    # the repository as a path: `my-feature/..` names nothing before my-feature exists
    feature = with_test_command(feature, Path(os.path.normpath(directory.resolve() / repo)))
    files = {directory / "feature.yaml": feature, directory / "models.yaml": MODELS}
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise UserError("already exists", file=str(existing[0]),
                        hint="pass --force to overwrite")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write: {e.strerror or e}", file=str(e.filename or directory),
                        hint="choose a directory you can write to") from None
    return list(files)
