"""SWE-bench-style JSONL plus local clones -> a `crew eval` suite (`crew import swebench`).

Each instance (instance_id, repo, base_commit, problem_statement, test_patch, FAIL_TO_PASS,
PASS_TO_PASS; `patch` optional) becomes a case: the repository's tree at base_commit as a
one-commit git bundle, the problem statement as the feature's goal, the test patch as
hidden/test.patch, and two checks run on the resulting branch: fail-to-pass and pass-to-pass,
each after restoring the files the test patch touches and applying it (SWE-bench's own
order). Two replay variants come with it, both offline: `gold` applies the instance's `patch`
through crew's tools (when the JSONL has one), `no-change` answers without editing.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crew.errors import Problem, UserError

FIELDS = ("instance_id", "repo", "base_commit", "problem_statement", "test_patch",
          "FAIL_TO_PASS", "PASS_TO_PASS")
DEFAULT_TEST_CMD = "python3 -m pytest -q -p no:cacheprovider"
USAGE = {"prompt_tokens": 2000, "completion_tokens": 200}
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}
_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


@dataclass
class Instance:
    line: int
    id: str  # the case id (instance_id made a valid name)
    data: dict[str, Any]
    fail_to_pass: list[str]
    pass_to_pass: list[str]


@dataclass
class ImportResult:
    suite: Path
    cases: list[str] = field(default_factory=list)


def _tests(value: Any) -> list[str] | None:
    """FAIL_TO_PASS / PASS_TO_PASS: a list of test ids, or that list JSON-encoded (as the
    published datasets store it)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    return None


def case_id(instance_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "-", instance_id)
    return (name if name[:1].isalpha() else "i" + name)[:64]


def read_instances(path: Path) -> list[Instance]:
    """The JSONL's instances; one UserError naming each bad line and field."""
    if not path.is_file():
        raise UserError("instances file not found", file=str(path),
                        hint="a SWE-bench-style JSONL, one instance per line")
    problems: list[Problem] = []
    out: list[Instance] = []
    seen: dict[str, int] = {}
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except ValueError as e:
            problems.append(Problem(f"not JSON: {e}", str(path), n))
            continue
        if not isinstance(data, dict):
            problems.append(Problem("not a JSON object", str(path), n))
            continue
        missing = [f for f in FIELDS if f not in data]
        for f in missing:
            problems.append(Problem(f"missing field {f!r}", str(path), n, field=f))
        if missing:
            continue
        lists = {f: _tests(data[f]) for f in ("FAIL_TO_PASS", "PASS_TO_PASS")}
        for f, v in lists.items():
            if v is None:
                problems.append(Problem(f"{f} must be a list of test ids (or its JSON text)",
                                        str(path), n, field=f))
        if not lists["FAIL_TO_PASS"] and lists["FAIL_TO_PASS"] is not None:
            problems.append(Problem("FAIL_TO_PASS is empty: nothing would judge the case",
                                    str(path), n, field="FAIL_TO_PASS"))
        cid = case_id(str(data["instance_id"]))
        if cid in seen:
            problems.append(Problem(f"duplicate instance_id {data['instance_id']!r} (also "
                                    f"line {seen[cid]})", str(path), n, field="instance_id"))
        seen.setdefault(cid, n)
        if not problems:
            out.append(Instance(n, cid, data, lists["FAIL_TO_PASS"] or [],
                                lists["PASS_TO_PASS"] or []))
    if not problems and not out:
        problems.append(Problem("no instances", str(path)))
    if problems:
        raise UserError("invalid instances file", problems=problems)
    return out


def find_clone(clones: Path, repo: str) -> Path | None:
    """A clone of `repo` (owner/name) under `clones`: owner__name (SWE-bench's naming),
    owner/name or name, as a directory or a git bundle (NAME.bundle)."""
    owner, _, name = repo.partition("/")
    for stem in (f"{owner}__{name}", f"{owner}/{name}", name or owner):
        for candidate in (clones / stem, clones / f"{stem}.bundle"):
            if candidate.exists():
                return candidate
    return None


def _git(cwd: Path, *args: str, stdout: Any = None) -> subprocess.CompletedProcess[bytes]:
    env_args = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
                "-c", "user.name=crew import", "-c", "user.email=import@crew.invalid"]
    return subprocess.run(["git", *env_args, *args], cwd=cwd, stdout=stdout or subprocess.PIPE,
                          stderr=subprocess.PIPE)


def _snapshot(clone: Path, commit: str, repo: str, bundle: Path) -> str | None:
    """A one-commit bundle of `clone`'s tree at `commit`; an error text on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        src = clone
        if clone.is_file():  # a bundle: clone it first
            src = Path(tmp) / "src"
            r = _git(Path(tmp), "clone", "--quiet", "--no-checkout", str(clone), str(src))
            if r.returncode:
                return r.stderr.decode(errors="replace").strip()
        if _git(src, "cat-file", "-e", f"{commit}^{{commit}}").returncode:
            return f"commit {commit} is not in {clone}"
        dest = Path(tmp) / "repo"
        dest.mkdir()
        archive = Path(tmp) / "tree.tar"
        with archive.open("wb") as f:
            r = _git(src, "archive", "--format=tar", commit, stdout=f)
        if r.returncode:
            return r.stderr.decode(errors="replace").strip()
        shutil.unpack_archive(archive, dest, "tar")
        for args in (("init", "--quiet", "--initial-branch=main"), ("add", "-A", "--force"),
                     ("commit", "--quiet", "--allow-empty", "-m", f"{repo} at {commit}"),
                     ("bundle", "create", "--quiet", str(bundle), "HEAD", "main")):
            r = _git(dest, *args)
            if r.returncode:
                return r.stderr.decode(errors="replace").strip()
    return None


def _apply_script(test_patch: str) -> str:
    files = sorted({p for pair in _DIFF_FILE.findall(test_patch) for p in pair})
    quoted = " ".join(shlex.quote(f) for f in files)
    return ("#!/bin/sh\n# Restore the files the test patch touches to the case's base, then "
            "apply it (idempotent).\nset -e\nbase=$(git rev-list --max-parents=0 HEAD | "
            "tail -1)\n"
            f"for f in {quoted}; do\n"  # read-only git: no checkout (it writes the index)
            '  mkdir -p "$(dirname "$f")"\n'
            '  git show "$base:$f" > "$f" 2>/dev/null || rm -f "$f"\ndone\n'
            "git apply hidden/test.patch\n")


def _replay(inst: Instance, gold: bool) -> dict[str, Any]:
    title = _title(inst)
    plan = {"tasks": [{"id": "fix", "title": title, "description": title, "roles": ["coder"],
                       "depends_on": []}]}
    out: list[dict[str, Any]] = [{"task": "plan", "role": "supervisor", "purpose": "plan",
                                  "content": json.dumps(plan), "usage": USAGE}]
    if gold:
        out.append({"task": "fix", "role": "coder", "usage": USAGE, "tool_calls": [
            {"name": "write_file", "arguments": {"path": ".crew-gold.patch",
                                                 "content": inst.data["patch"]}}]})
        out.append({"task": "fix", "role": "coder", "usage": USAGE, "tool_calls": [
            {"name": "run_command", "arguments": {
                "command": "git apply .crew-gold.patch && rm .crew-gold.patch"}}]})
        out.append({"task": "fix", "role": "coder", "usage": USAGE,
                    "content": "Applied the reference patch."})
    else:
        out.append({"task": "fix", "role": "coder", "usage": USAGE,
                    "content": "No change made."})
    return {"answers": out}


def _title(inst: Instance) -> str:
    first = next((x.strip() for x in str(inst.data["problem_statement"]).splitlines()
                  if x.strip()), inst.id)
    return (first.lstrip("# ") or inst.id)[:100]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)


def import_swebench(jsonl: Path, clones: Path, out: Path, *, force: bool = False,
                    test_cmd: str = DEFAULT_TEST_CMD) -> ImportResult:
    """Write the suite into `out` (suite.yaml, cases/<id>/). Every input problem is reported
    (exit 2) before anything is written."""
    instances = read_instances(jsonl)
    clones = clones.resolve()
    if not clones.is_dir():
        raise UserError("clones folder not found", file=str(clones), field="--clones",
                        hint="a folder with one clone per repository, e.g. astropy__astropy")
    problems: list[Problem] = []
    found: dict[str, Path] = {}
    for inst in instances:
        clone = find_clone(clones, str(inst.data["repo"]))
        if clone is None:
            owner, _, name = str(inst.data["repo"]).partition("/")
            problems.append(Problem(
                f"no clone of {inst.data['repo']!r} under {clones}", str(jsonl), inst.line,
                field="repo", hint=f"clone it as {clones / f'{owner}__{name}'}"))
        else:
            found[inst.id] = clone
    if out.exists() and any(out.iterdir()) and not force:
        problems.append(Problem("the output folder is not empty", str(out), field="--out",
                                hint="pass --force to overwrite, or another folder"))
    if problems:
        raise UserError("cannot import", problems=problems)
    out.mkdir(parents=True, exist_ok=True)
    result = ImportResult(out / "suite.yaml")
    entries = []
    for inst in instances:
        d = out / "cases" / inst.id
        if d.exists():
            shutil.rmtree(d)
        (d / "hidden").mkdir(parents=True)
        err = _snapshot(found[inst.id], str(inst.data["base_commit"]), str(inst.data["repo"]),
                        d / "repo.bundle")
        if err:
            shutil.rmtree(d)
            raise UserError(f"cannot snapshot {inst.data['repo']} at "
                            f"{inst.data['base_commit']}: {err}", file=str(jsonl),
                            line=inst.line, field="base_commit")
        (d / "hidden" / "test.patch").write_text(inst.data["test_patch"], encoding="utf-8")
        (d / "hidden" / "apply_tests.sh").write_text(_apply_script(inst.data["test_patch"]),
                                                     encoding="utf-8")
        feature = {"title": _title(inst),
                   "goal": str(inst.data["problem_statement"]).strip()
                   + f"\n\nRepository: https://github.com/{inst.data['repo']}\n",
                   "crew": "software-team", "models": "models.yaml",
                   "budget": {"usd": 2.0, "tokens": 2_000_000}}
        (d / "feature.yaml").write_text(
            f"# crew eval case {inst.id}: imported from {jsonl.name} (instance "
            f"{inst.data['instance_id']}, {inst.data['repo']} at {inst.data['base_commit']})\n"
            + _dump(feature), encoding="utf-8")
        gold = bool(inst.data.get("patch"))
        for name, is_gold in (("models.yaml", gold), ("models-none.yaml", False)):
            script = name.replace("models", "replay")
            (d / script).write_text(_dump(_replay(inst, is_gold)), encoding="utf-8")
            (d / name).write_text(_dump({"model_list": [
                {"model_name": alias, "litellm_params": {
                    "model": f"replay/{inst.id}", "replay_script": script, **PRICE}}
                for alias in ("smart", "fast")], "router_settings": {"num_retries": 0}}),
                encoding="utf-8")
        apply = "sh hidden/apply_tests.sh && "
        checks = [{"name": "fail-to-pass", "run": apply + test_cmd + " " + " ".join(
            shlex.quote(t) for t in inst.fail_to_pass)}]
        if inst.pass_to_pass:
            checks.append({"name": "pass-to-pass", "run": apply + test_cmd + " " + " ".join(
                shlex.quote(t) for t in inst.pass_to_pass)})
        entries.append({"id": inst.id, "repo": f"cases/{inst.id}/repo.bundle",
                        "feature": f"cases/{inst.id}/feature.yaml",
                        "hidden": f"cases/{inst.id}/hidden", "checks": checks})
        result.cases.append(inst.id)
    variants = [{"id": "no-change", "pattern": "single", "models": "cases/{case}/models-none.yaml"}]
    if all(inst.data.get("patch") for inst in instances):
        variants.insert(0, {"id": "gold", "pattern": "single",
                            "models": "cases/{case}/models.yaml"})
    suite = {"name": out.name, "cases": entries, "variants": variants, "repeat": 1,
             "budget": {"usd": 20.0}, "max_parallel": 2}
    result.suite.write_text(
        f"# Imported by `crew import swebench {jsonl.name}`: add a variant with your models,\n"
        "# e.g. {id: mine, pattern: single, models: my-models.yaml}, and run crew eval.\n"
        + _dump(suite), encoding="utf-8")
    return result
