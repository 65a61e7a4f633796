"""Redaction: secret env values and key shapes vanish, deep, before any sink sees them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crew.observability.redact import REDACTED, Redactor, secret_env_values

ENV = {
    "OPENAI_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwx",
    "MY_SERVICE_TOKEN": "tok_live_4242424242",
    "DB_PASSWORD": "hunter2hunter2",
    "APP_SECRET": "s3cr3t-value-xyz",
    "GITHUB_TOKEN": "1",  # too short to redact without shredding text
    "PATH": "/usr/bin:/bin",
    "LANGFUSE_BASE_URL": "http://localhost:3000",
}


def test_secret_env_values_picks_secret_looking_names_only() -> None:
    values = set(secret_env_values(ENV))
    assert values == {"sk-proj-abcdefghijklmnopqrstuvwx", "tok_live_4242424242",
                      "hunter2hunter2", "s3cr3t-value-xyz"}


def test_env_values_are_replaced_inside_text() -> None:
    r = Redactor(env=ENV)
    out = r.text("token=tok_live_4242424242 and pw hunter2hunter2; path /usr/bin")
    assert "tok_live" not in out and "hunter2" not in out
    assert out.count(REDACTED) == 2 and "/usr/bin" in out


def test_common_key_shapes_are_replaced_even_when_not_in_env() -> None:
    r = Redactor(env={})
    samples = {
        "anthropic": "sk-ant-api03-AbCdEfGhIjKlMnOpQrSt",
        "openai": "sk-AbCdEfGhIjKlMnOpQrStUv",
        "langfuse public": "pk-lf-1234abcd-5678-90ef",
        "langfuse secret": "sk-lf-1234abcd-5678-90ef",
        "aws": "AKIAIOSFODNN7EXAMPLE",
        "github": "ghp_abcdefghijklmnopqrstuvwxyz0123",
    }
    for what, key in samples.items():
        out = r.text(f"use {key} please")
        assert key not in out, what
        assert out == f"use {REDACTED} please", what
    bearer = r.text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    assert "eyJ" not in bearer and bearer.startswith("Authorization: Bearer ")


def test_deep_redaction_over_nested_structures_keeps_shape() -> None:
    @dataclass
    class Call:
        name: str
        arguments: str

    r = Redactor(env=ENV)
    value = {
        "messages": [{"role": "user", "content": "key is sk-proj-abcdefghijklmnopqrstuvwx"}],
        "nested": ({"deeper": ["hunter2hunter2", 3, 1.5, None, True]},),
        "call": Call("shell", '{"env": "APP_SECRET=s3cr3t-value-xyz"}'),
        "api_key": "anything-at-all",  # a secret-named field is redacted whatever its value
        "max_tokens": 100,
    }
    out = r(value)
    flat = repr(out)
    for secret in ("sk-proj-abc", "hunter2", "s3cr3t", "anything-at-all"):
        assert secret not in flat
    assert out["nested"] == [{"deeper": [REDACTED, 3, 1.5, None, True]}]
    assert out["call"]["name"] == "shell"
    assert out["max_tokens"] == 100
    assert value["api_key"] == "anything-at-all"  # the input is not mutated


def test_extra_secrets_and_longest_match_first() -> None:
    r = Redactor(["literal-secret-1", "literal-secret-1-longer"], env={})
    assert r.text("x literal-secret-1-longer y") == f"x {REDACTED} y"


def test_unknown_objects_become_redacted_strings() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "holds hunter2hunter2"

    out = Redactor(env=ENV)({"o": Opaque(), "b": b"bytes hunter2hunter2"})
    assert out == {"o": f"holds {REDACTED}", "b": f"bytes {REDACTED}"}


def test_known_values_are_found_in_any_letter_case() -> None:
    """A task id or branch slug made from a model's text is lowercased (issue 26)."""
    r = Redactor(env=ENV)
    assert r.text("task tok-LIVE_4242424242 / TOK_LIVE_4242424242") == (
        f"task tok-LIVE_4242424242 / {REDACTED}")
    assert r.text("branch crew/x--hunter2HUNTER2-fix") == f"branch crew/x--{REDACTED}-fix"


def test_the_cli_scrubs_what_it_prints(tmp_path: Path) -> None:
    """Terminal output goes through the redactor too, not only the files crew writes."""
    import subprocess
    import sys

    key = "Zq7LeakValue9X2mPqT"
    env = {**os.environ, "LEAK_SERVICE_TOKEN": key}
    res = subprocess.run([sys.executable, "-m", "crew", "show", key.lower()], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2
    assert "[REDACTED]" in res.stderr and key.lower() not in res.stderr.lower(), res.stderr
