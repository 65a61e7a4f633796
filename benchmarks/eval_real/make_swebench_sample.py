"""Make examples/swebench-sample: 3 instances in SWE-bench's JSONL format, authored for crew
against two tiny repositories made here (they are not SWE-bench data and not upstream code),
with those repositories as git bundles under clones/. `crew import swebench` turns them into a
suite; tests/e2e/test_swebench_import.py runs it. Deterministic: fixed authors and dates, so
the base commits stay the same when re-made.

    python3 benchmarks/eval_real/make_swebench_sample.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "examples" / "swebench-sample"
ENV = {"GIT_AUTHOR_NAME": "crew sample", "GIT_AUTHOR_EMAIL": "sample@crew.invalid",
       "GIT_COMMITTER_NAME": "crew sample", "GIT_COMMITTER_EMAIL": "sample@crew.invalid",
       "GIT_AUTHOR_DATE": "2001-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2001-01-01T00:00:00Z"}

TEXTKIT = {
    "LICENSE": "MIT License (crew sample repository)\n",
    "textkit/__init__.py": "",
    "textkit/slug.py": (
        "import re\n\n\n"
        "def slugify(text):\n"
        '    """Lower-case words joined by hyphens."""\n'
        '    return re.sub(r"[^a-z0-9]+", "-", text.lower()).lstrip("-")\n'),
    "textkit/wrap.py": (
        "def wrap(text, width):\n"
        '    """Lines of at most `width` characters, broken at spaces."""\n'
        "    words = text.split()\n"
        "    lines = [words[0]]\n"
        "    for word in words[1:]:\n"
        "        if len(lines[-1]) + 1 + len(word) <= width:\n"
        '            lines[-1] += " " + word\n'
        "        else:\n"
        "            lines.append(word)\n"
        "    return lines\n"),
    "tests/test_slug.py": (
        "from textkit.slug import slugify\n\n\n"
        "def test_basic():\n"
        '    assert slugify("Hello World") == "hello-world"\n'),
    "tests/test_wrap.py": (
        "from textkit.wrap import wrap\n\n\n"
        "def test_wrap():\n"
        '    assert wrap("a bb ccc dddd", 6) == ["a bb", "ccc", "dddd"]\n'),
}
MATHKIT = {
    "LICENSE": "MIT License (crew sample repository)\n",
    "mathkit/__init__.py": "",
    "mathkit/stats.py": (
        "def median(xs):\n"
        '    """The middle value of xs."""\n'
        "    ys = sorted(xs)\n"
        "    return ys[len(ys) // 2]\n"),
    "tests/test_stats.py": (
        "from mathkit.stats import median\n\n\n"
        "def test_odd():\n"
        "    assert median([3, 1, 2]) == 2\n"),
}
INSTANCES = [
    {"repo": "crew-samples/textkit", "instance_id": "crew-samples__textkit-1",
     "problem_statement": "slugify leaves a trailing hyphen\n\n`slugify(\"Hello World!\")` "
     "returns 'hello-world-'; a slug should never start or end with a hyphen.\n",
     "fix": {"textkit/slug.py": TEXTKIT["textkit/slug.py"].replace('.lstrip("-")',
                                                                   '.strip("-")')},
     "tests": {"tests/test_slug.py": TEXTKIT["tests/test_slug.py"]
               + '\n\ndef test_trailing_punctuation():\n'
                 '    assert slugify("Hello World!") == "hello-world"\n'},
     "FAIL_TO_PASS": ["tests/test_slug.py::test_trailing_punctuation"],
     "PASS_TO_PASS": ["tests/test_slug.py::test_basic"]},
    {"repo": "crew-samples/textkit", "instance_id": "crew-samples__textkit-2",
     "problem_statement": "wrap('') raises IndexError\n\n`wrap(\"\", 10)` raises "
     "IndexError: list index out of range. It should return an empty list.\n",
     "fix": {"textkit/wrap.py": TEXTKIT["textkit/wrap.py"].replace(
         "    words = text.split()\n", "    words = text.split()\n    if not words:\n"
         "        return []\n")},
     "tests": {"tests/test_wrap.py": TEXTKIT["tests/test_wrap.py"]
               + '\n\ndef test_empty():\n    assert wrap("", 10) == []\n'},
     "FAIL_TO_PASS": ["tests/test_wrap.py::test_empty"],
     "PASS_TO_PASS": ["tests/test_wrap.py::test_wrap"]},
    {"repo": "crew-samples/mathkit", "instance_id": "crew-samples__mathkit-1",
     "problem_statement": "median of an even-length list is wrong\n\n`median([1, 2, 3, 4])` "
     "returns 3; it should be the mean of the two middle values, 2.5.\n",
     "fix": {"mathkit/stats.py": MATHKIT["mathkit/stats.py"].replace(
         "    return ys[len(ys) // 2]\n", "    mid = len(ys) // 2\n    if len(ys) % 2 == 0:\n"
         "        return (ys[mid - 1] + ys[mid]) / 2\n    return ys[mid]\n")},
     "tests": {"tests/test_stats.py": MATHKIT["tests/test_stats.py"]
               + "\n\ndef test_even():\n    assert median([4, 1, 3, 2]) == 2.5\n"},
     "FAIL_TO_PASS": ["tests/test_stats.py::test_even"],
     "PASS_TO_PASS": ["tests/test_stats.py::test_odd"]},
]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                          capture_output=True, text=True, env={**os.environ, **ENV}).stdout


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def diff(repo: Path, files: dict[str, str]) -> str:
    write(repo, files)
    out = git(repo, "diff")
    git(repo, "checkout", "--", ".")
    return out


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT / "clones", ignore_errors=True)
    (OUT / "clones").mkdir(parents=True, exist_ok=True)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        bases = {}
        for repo, files in (("crew-samples/textkit", TEXTKIT), ("crew-samples/mathkit", MATHKIT)):
            d = Path(tmp) / repo.replace("/", "__")
            d.mkdir()
            git(d, "init", "-q", "--initial-branch=main")
            write(d, {"README.md": f"# {repo}\n\nA tiny repository for crew's sample.\n"})
            git(d, "add", "-A")
            git(d, "commit", "-q", "-m", "start")
            write(d, files)
            git(d, "add", "-A")
            git(d, "commit", "-q", "-m", "first version")
            bases[repo] = (d, git(d, "rev-parse", "HEAD").strip())
            git(d, "bundle", "create", "-q",
                str(OUT / "clones" / f"{d.name}.bundle"), "HEAD", "main")
        for inst in INSTANCES:
            d, base = bases[inst["repo"]]
            row = {"instance_id": inst["instance_id"], "repo": inst["repo"],
                   "base_commit": base, "problem_statement": inst["problem_statement"],
                   "patch": diff(d, inst["fix"]), "test_patch": diff(d, inst["tests"]),
                   "FAIL_TO_PASS": json.dumps(inst["FAIL_TO_PASS"]),
                   "PASS_TO_PASS": json.dumps(inst["PASS_TO_PASS"])}
            lines.append(json.dumps(row))
    (OUT / "instances.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
