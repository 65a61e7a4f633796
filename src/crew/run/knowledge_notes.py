"""A repository's knowledge notes as a document: parse, merge, trim and render.

The notes are markdown a person can read and edit::

    # Repository knowledge (crew)

    <one line on what this is>

    ## Commands
    - `python3 -m unittest discover -s tests` runs the tests [run 20261207-031500-ab12]

    ## Conventions
    - Raise AppError from crew_app.errors, never a bare Exception [run 20261207-031500-ab12]

    ## Pitfalls
    - ...

Each entry is one `- ` line ending with the run that learned it (`[run ID]`; an entry a person
wrote has none and is kept as written). Other sections and text a person adds are kept. Pure
text handling: no file, model or git access here (crew.run.knowledge does those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTIONS = ("Commands", "Conventions", "Pitfalls")
TITLE = "# Repository knowledge (crew)"
INTRO = ("What crew learned on earlier runs; every role reads it. Edit freely; "
         "`crew knowledge clear` forgets it.")
# ~2,000 tokens at ~4 characters per token: the notes ride in every prompt of every run.
MAX_CHARS = 8000
ENTRY_CHARS = 240  # one short line; a longer one is a paragraph, not a note
MIN_ENTRY_CHARS = 8

_TAG = re.compile(r"\s*\[run ([0-9A-Za-z_-]+)\]\s*$")
_WORDS = re.compile(r"[a-z0-9_./-]+")
# Model chatter rather than a fact about the repository.
_CHATTER = re.compile(
    r"^((i|we) |(i'm|i'll|i've|we'll|let me|let's|sure|okay|here|great|thanks|thank you|"
    r"as an ai|certainly|hello)\b)|\?$|\b(this run|this task|this feature)\b",
    re.IGNORECASE)


@dataclass
class Entry:
    text: str
    run_id: str = ""  # empty: written by a person

    def render(self) -> str:
        return f"- {self.text} [run {self.run_id}]" if self.run_id else f"- {self.text}"


@dataclass
class Notes:
    """The parsed notes: the known sections' entries plus whatever else the file holds."""

    sections: dict[str, list[Entry]] = field(
        default_factory=lambda: {s: [] for s in SECTIONS})
    extra: list[str] = field(default_factory=list)  # other sections, as written

    def entries(self) -> list[tuple[str, Entry]]:
        return [(s, e) for s in SECTIONS for e in self.sections[s]]

    def empty(self) -> bool:
        return not self.entries() and not "".join(self.extra).strip()


def parse(text: str) -> Notes:
    """Notes from markdown; unknown sections and loose text are kept verbatim."""
    notes = Notes()
    current: str | None = None
    other: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("## "):
            name = line[3:].strip()
            known = next((s for s in SECTIONS if s.lower() == name.lower()), None)
            current = known
            if known is None:
                other.append(line)
            continue
        if current is None:
            if line.strip() in (TITLE, INTRO) or (not other and not line.strip()):
                continue
            other.append(line)
            continue
        if line.lstrip().startswith(("- ", "* ")):
            body = line.lstrip()[2:].strip()
            m = _TAG.search(body)
            entry = Entry(body[:m.start()].strip(), m.group(1)) if m else Entry(body)
            if entry.text:
                notes.sections[current].append(entry)
        elif line.strip() and notes.sections[current]:
            last = notes.sections[current][-1]  # a wrapped entry line
            last.text = f"{last.text} {line.strip()}"
    notes.extra = _trim_blank(other)
    return notes


def render(notes: Notes) -> str:
    """The notes as markdown (sections in a fixed order: the text is stable across runs)."""
    out = [TITLE, "", INTRO]
    for s in SECTIONS:
        if notes.sections[s]:
            out += ["", f"## {s}", *(e.render() for e in notes.sections[s])]
    if notes.extra:
        out += ["", *notes.extra]
    return "\n".join(out) + "\n"


def _trim_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower().replace("`", "")))


def duplicate(text: str, existing: list[Entry]) -> bool:
    """`text` says what an entry already says: the same words, or one contains the other."""
    k = _key(text)
    for e in existing:
        other = _key(e.text)
        if k == other or (len(k) >= 12 and k in other) or (len(other) >= 12 and other in k):
            return True
    return False


def refusal(text: str) -> str | None:
    """Why `text` cannot be a note (None: it can). Secrets are checked by the caller."""
    if "\n" in text.strip():
        return "more than one line"
    if len(text) > ENTRY_CHARS:
        return f"longer than {ENTRY_CHARS} characters"
    if len(text.strip()) < MIN_ENTRY_CHARS:
        return "too short"
    if _CHATTER.search(text.strip()):
        return "chatter, not a fact about the repository"
    return None


def merge(notes: Notes, section: str, texts: list[str], run_id: str) -> list[str]:
    """Add each new, non-duplicate text to `section` tagged with `run_id`; the added texts."""
    added: list[str] = []
    for text in texts:
        text = " ".join(text.split()).lstrip("-* ").strip()
        if not text or duplicate(text, [e for _, e in notes.entries()]):
            continue
        notes.sections[section].append(Entry(text, run_id))
        added.append(text)
    return added


def trim(notes: Notes, max_chars: int = MAX_CHARS) -> list[Entry]:
    """Drop the oldest crew-written entries (by run id, which sorts by time) until the notes
    fit `max_chars`; a person's entries go last. The dropped entries."""
    dropped: list[Entry] = []
    while len(render(notes)) > max_chars:
        candidates = [(e.run_id or "~", i, s, e)  # "~" sorts after every run id
                      for s in SECTIONS for i, e in enumerate(notes.sections[s])]
        if not candidates:
            break
        _, _, section, oldest = min(candidates, key=lambda c: (c[0], c[1]))
        notes.sections[section].remove(oldest)
        dropped.append(oldest)
    return dropped
