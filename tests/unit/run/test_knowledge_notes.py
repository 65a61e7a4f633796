"""The knowledge notes as a document (crew.run.knowledge_notes) and the vetting and merging of
what a run distilled (crew.run.knowledge): dedup, run-id tags, the size bound, refusals of
secrets and chatter, a person's edits kept, and the YAML key's precedence."""

from __future__ import annotations

import pytest

from crew.run import knowledge_notes as kn
from crew.run.knowledge import Learned, knowledge_file, merge_learned, prompt_section
from crew.spec.models import CrewSpec, FeatureSpec

RUN1, RUN2 = "20261201-100000-aaaa", "20261202-100000-bbbb"


def test_merge_tags_dedups_and_keeps_a_persons_edits() -> None:
    text = ("# Repository knowledge (crew)\n\n## Conventions\n- Use tabs in Makefiles\n"
            "- Raise AppError for bad input [run 20261130-000000-cccc]\n\n"
            "## Team notes\nAsk Ana before touching migrations.\n")
    learned = Learned(commands=["`make test` runs the tests",
                                "I/O helpers live in app/io.py; wrap OSError in AppError"],
                      conventions=["raise AppError for bad input.", "Log with the logging module"],
                      pitfalls="`make lint` fails until `make deps` ran")  # one string: a list
    out, added, refused = merge_learned(text, learned, RUN1)
    assert refused == 0
    assert added == ["Commands: `make test` runs the tests",
                     "Commands: I/O helpers live in app/io.py; wrap OSError in AppError",
                     "Conventions: Log with the logging module",
                     "Pitfalls: `make lint` fails until `make deps` ran"]
    notes = kn.parse(out)
    assert [e.run_id for e in notes.sections["Conventions"]] == ["", "20261130-000000-cccc", RUN1]
    assert "- Use tabs in Makefiles\n" in out  # untagged: a person's, kept as written
    assert "## Team notes\nAsk Ana before touching migrations." in out
    assert f"- `make test` runs the tests [run {RUN1}]" in out
    # merging the same again adds nothing; the document is stable (render(parse(x)) == x)
    again, added2, _ = merge_learned(out, learned, RUN2)
    assert added2 == [] and again == out


@pytest.mark.parametrize("entry", [
    "Export OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz0123 first",  # a key shape
    "Set DEPLOY_TOKEN to Zq8xLm2Pw9Rt4Yv7Kd3N before deploying",  # an env secret's value
    "The token is [REDACTED] for CI",
    "I think this run went well",
    "Sure! Here are the notes",
    "Should we use tabs?",
    "x" * (kn.ENTRY_CHARS + 1),
    "two\nlines here",
    "short",
])
def test_secrets_chatter_and_paragraphs_are_refused(entry: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "Zq8xLm2Pw9Rt4Yv7Kd3N")
    out, added, refused = merge_learned("", Learned(pitfalls=[entry]), RUN1)
    assert (added, refused) == ([], 1)
    assert kn.parse(out).entries() == []


def test_trim_drops_the_oldest_crew_entries_first() -> None:
    notes = kn.Notes()
    notes.sections["Conventions"].append(kn.Entry("A person's rule that stays"))
    for i in range(200):
        run = f"20261201-{i:06d}-aaaa"
        notes.sections["Pitfalls"].append(kn.Entry(f"pitfall number {i} with some words", run))
    dropped = kn.trim(notes)
    assert len(kn.render(notes)) <= kn.MAX_CHARS
    assert dropped and dropped[0].text == "pitfall number 0 with some words"
    kept = [e.text for e in notes.sections["Pitfalls"]]
    assert kept[-1] == "pitfall number 199 with some words"
    assert notes.sections["Conventions"][0].text == "A person's rule that stays"


def test_prompt_section_is_scrubbed_bounded_and_empty_when_there_is_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", "a-very-secret-value-123")
    assert prompt_section("") is None
    assert prompt_section("# Repository knowledge (crew)\n\n" + kn.INTRO + "\n") is None
    text = "## Commands\n- run with a-very-secret-value-123 [run x]\n" + "- y\n" * 5000
    section = prompt_section(text)
    assert section is not None
    assert section.startswith("## Repository knowledge (learned on earlier runs)\n### Commands")
    assert "a-very-secret-value-123" not in section and "[REDACTED]" in section
    assert len(section) < kn.MAX_CHARS + 200 and section.endswith("[... cut]")


def test_where_the_notes_live(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    root, wt = Path(str(tmp_path)), Path(str(tmp_path)) / "wt"
    assert knowledge_file("off", root, wt).path is None
    assert knowledge_file("on", root, wt).path == root / ".crew" / "knowledge.md"
    assert knowledge_file("commit", root, wt).path == wt / "CREW.md"


def test_the_yaml_key_reads_bare_on_and_off_and_refuses_others() -> None:
    import yaml

    for raw, mode in (("knowledge: off", "off"), ("knowledge: on", "on"),
                      ("knowledge: commit", "commit")):
        data = {"title": "t", "goal": "g", **yaml.safe_load(raw)}
        assert FeatureSpec.model_validate(data).knowledge == mode
        crew = {"supervisor": "s", "members": ["c"], "patterns": ["single"],
                **yaml.safe_load(raw)}
        assert CrewSpec.model_validate(crew).knowledge == mode
    with pytest.raises(ValueError, match="'off', 'on' or 'commit'"):
        FeatureSpec.model_validate({"title": "t", "goal": "g", "knowledge": "always"})
