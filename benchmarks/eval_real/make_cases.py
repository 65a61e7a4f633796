"""Make examples/eval-real from registry artifacts: `python3 benchmarks/eval_real/make_cases.py`.

For each case of cases.yaml: download the `before` and `after` releases (`pip download
--no-binary :all:` for PyPI sdists, `npm pack` for npm tarballs; cached in --cache), commit
`before` as a one-commit git bundle (the case repository, the project's LICENSE included),
take upstream's source hunks between the two releases that `keep` selects as the change,
copy `after`'s versions of `tests` into hidden/, and write the feature, the suite entry and
two replays made of crew tool calls (search_code, read_file, edit_file, run_command): the
upstream change and the case's `wrong` patch. Before writing, each case is checked here,
outside crew: the hidden fail-to-pass tests fail on `before`, pass with the change and fail
with the wrong patch; the project's suite passes with either patch (--no-check skips this).

Needs the network (the registries) and python3 with pytest, node for the npm cases. The
result is committed, so `crew eval examples/eval-real/suite.yaml` and CI need neither.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "examples" / "eval-real"
GIT_ENV = {"GIT_AUTHOR_NAME": "crew eval-real", "GIT_AUTHOR_EMAIL": "eval@crew.invalid",
           "GIT_COMMITTER_NAME": "crew eval-real", "GIT_COMMITTER_EMAIL": "eval@crew.invalid",
           "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
DROP = re.compile(r"(^|/)(PKG-INFO|[^/]*\.egg-info(/.*)?|__pycache__(/.*)?)$")
PYTEST = "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {pp}python3 -m pytest -q -p no:cacheprovider"
USAGE = {"prompt_tokens": 3000, "completion_tokens": 300}
PRICE = {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6}
ENVIRONMENT = {"pypi": "python3 with pytest, no other third-party package.",
               "npm": "node >= 18; `tape` is the runner vendored in node_modules/."}
TAPE_NOTE = ("node_modules/tape/index.js is a minimal tape-compatible runner written for "
             "crew (not upstream code; see benchmarks/eval_real/tape_shim.js): upstream's "
             "tests `require('tape')` and this machine runs them offline.\n")


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def unwrap(text: str) -> str:
    """A YAML block's wrapped lines joined into paragraphs."""
    return "\n\n".join(" ".join(p.split("\n")) for p in text.strip().split("\n\n"))


def sh(cmd: list[str], cwd: Path | None = None, **env: str) -> str:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, **env})
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    return res.stdout


def fetch(case: dict[str, Any], version: str, cache: Path) -> Path:
    """The release's files (extracted once into the cache)."""
    name = f"{case['package']}-{version}"
    dest = cache / case["ecosystem"] / name
    if dest.is_dir():
        return dest
    dl = cache / case["ecosystem"] / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    if case["ecosystem"] == "pypi":
        sh([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
            f"{case['package']}=={version}", "-d", str(dl)])
        archive = next(p for p in dl.iterdir() if p.name.lower().startswith(name.lower())
                       and p.name.endswith((".tar.gz", ".zip")))
    else:
        sh(["npm", "pack", f"{case['package']}@{version}", "--silent"], cwd=dl)
        archive = dl / f"{name}.tgz"
    tmp = Path(tempfile.mkdtemp(dir=cache))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    (top,) = list(tmp.iterdir())
    top.rename(dest)
    tmp.rmdir()
    return dest


def files_of(root: Path, exclude: list[str]) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not DROP.search(rel) and not any(
                rel == x or rel.startswith(x + "/") for x in exclude):
            out[rel] = p.read_text(encoding="utf-8", errors="surrogateescape")
    return out


def change_edits(a: str, b: str, keep: list[str]) -> list[dict[str, str]]:
    """Upstream's hunks between `a` and `b` that mention one of `keep`, as edit_file
    arguments (old_text unique in `a`, context added until it is)."""
    al, bl = a.splitlines(keepends=True), b.splitlines(keepends=True)
    edits = []
    for group in difflib.SequenceMatcher(None, al, bl, autojunk=False).get_grouped_opcodes(1):
        changed = "".join("".join(al[i1:i2]) + "".join(bl[j1:j2])
                          for tag, i1, i2, j1, j2 in group if tag != "equal")
        if not any(k in changed for k in keep):
            continue
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        while a.count("".join(al[i1:i2])) != 1 and (i1 > 0 or i2 < len(al)):
            i1, j1 = max(i1 - 1, 0), max(j1 - 1, 0)
            i2, j2 = min(i2 + 1, len(al)), min(j2 + 1, len(bl))
        edits.append({"old_text": "".join(al[i1:i2]), "new_text": "".join(bl[j1:j2])})
    return edits


def apply(files: dict[str, str], edits: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    out = dict(files)
    for path, changes in edits.items():
        for e in changes:
            assert out[path].count(e["old_text"]) == 1, (path, e["old_text"])
            out[path] = out[path].replace(e["old_text"], e["new_text"])
    return out


def write_tree(files: dict[str, str], dest: Path) -> None:
    for rel, text in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8", errors="surrogateescape")


def commands(case: dict[str, Any], f2p: list[str], skip: list[str]) -> dict[str, str]:
    """The project's suite (acceptance), and the hidden checks (after copying hidden/ in):
    fail-to-pass runs upstream's tests of the change, pass-to-pass the rest of the suite
    (`skip`: the fail-to-pass tests and after's tests of other changes in the release;
    for npm the test files to leave out)."""
    overlay = "cp -R hidden/. . && "
    if case["ecosystem"] == "npm":
        # upstream rewrote the f2p files for the change: the suite runs the others
        suite = rest = (f'rc=0; for f in {case["test_dir"]}/*.js; do case " {" ".join(skip)} " in '
                '*" $f "*) continue;; esac; node "$f" || rc=1; done; exit $rc')
        return {"suite": suite, "f2p": overlay + " && ".join(f"node {t}" for t in f2p),
                "p2p": overlay + rest}
    pp = f"PYTHONPATH={case['pythonpath']} " if case.get("pythonpath") else ""
    run = PYTEST.format(pp=pp)
    return {"suite": f"{run} {case['test_dir']}",
            "f2p": f"{overlay}{run} " + " ".join(shlex.quote(t) for t in f2p),
            "p2p": f"{overlay}{run} {case['test_dir']}"
                   + "".join(f" --deselect {shlex.quote(t)}" for t in skip)}


def run_in(files: dict[str, str], hidden: dict[str, str] | None, cmd: str
           ) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as d:
        write_tree(files, Path(d))
        if hidden:
            write_tree(hidden, Path(d) / "hidden")
        res = subprocess.run(["/bin/sh", "-c", cmd], cwd=d, capture_output=True, text=True,
                             timeout=300)
        return res.returncode, res.stdout + res.stderr


def pytest_outcomes(files: dict[str, str], hidden: dict[str, str], case: dict[str, Any]
                    ) -> dict[str, str]:
    """test id -> PASSED/FAILED/ERROR for after's test files on `files`."""
    pp = f"PYTHONPATH={case['pythonpath']} " if case.get("pythonpath") else ""
    cmd = ("cp -R hidden/. . && " + PYTEST.format(pp=pp) + " -rA "
           + " ".join(case["tests"]))
    _, out = run_in(files, hidden, cmd)
    found = re.findall(r"^(PASSED|FAILED|ERROR) (\S+)", out, re.M)
    return {t: s for s, t in found}


def tap_failures(files: dict[str, str], hidden: dict[str, str], test: str) -> list[str]:
    _, out = run_in(files, hidden, f"cp -R hidden/. . && node {test}")
    return re.findall(r"^not ok \d+ (.+)$", out, re.M)


def replay(case: dict[str, Any], before: dict[str, str], edits: dict[str, list[dict[str, str]]],
           suite_cmd: str, summary: str) -> dict[str, Any]:
    """The answers of one run: the plan, then the coder searching, reading, editing and
    running the project's tests with crew's own tools."""
    plan = {"tasks": [{"id": "impl", "title": case["title"], "description": unwrap(case["goal"]),
                       "roles": ["coder"], "depends_on": []}]}
    reads = []
    for path, changes in edits.items():
        line = before[path][:before[path].index(changes[0]["old_text"])].count("\n") + 1
        reads.append({"name": "read_file", "arguments": {
            "path": path, "start_line": max(1, line - 20), "end_line": line + 40}})
    steps: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "search_code", "arguments": {"pattern": re.escape(
            case["search"]), "path": "."}}, *reads]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": path, **e}}
                        for path, changes in edits.items() for e in changes]},
        {"tool_calls": [{"name": "run_command", "arguments": {"command": suite_cmd}}]},
        {"content": summary}]
    answers = [{"task": "plan", "role": "supervisor", "purpose": "plan",
                "content": json.dumps(plan), "usage": USAGE}]
    answers += [{"task": "impl", "role": "coder", **s, "usage": USAGE} for s in steps]
    return {"answers": answers}


def make_case(case: dict[str, Any], cache: Path, check: bool) -> dict[str, Any]:
    cid = case["id"]
    a_root, b_root = fetch(case, str(case["before"]), cache), fetch(case, str(case["after"]),
                                                                     cache)
    exclude = case.get("exclude", [])
    before, after = files_of(a_root, exclude), files_of(b_root, exclude)
    if case["ecosystem"] == "npm":
        before["node_modules/tape/index.js"] = (HERE / "tape_shim.js").read_text()
        before["EVAL-ENV.md"] = TAPE_NOTE
    assert any(p.upper().startswith("LICENSE") for p in before), f"{cid}: no LICENSE"
    edits = {p: change_edits(before[p], after[p], case["keep"]) for p in case["change"]}
    assert all(edits.values()), f"{cid}: no hunk kept"
    wrong = {}
    for w in case["wrong"]:
        wrong.setdefault(w["path"], []).append({"old_text": w["old"], "new_text": w["new"]})
    hidden = {t: after[t] for t in case["tests"]}
    fixed, bad = apply(before, edits), apply(before, wrong)
    if case["ecosystem"] == "pypi":
        was, now = pytest_outcomes(before, hidden, case), pytest_outcomes(fixed, hidden, case)
        f2p = sorted(t for t, s in now.items() if s == "PASSED" and was.get(t) != "PASSED")
        broken = sorted(t for t, s in now.items() if s != "PASSED")
        assert f2p, f"{cid}: no hidden test fails before and passes after"
    else:
        f2p, broken = list(case["tests"]), []
    cmds = commands(case, f2p, sorted({*f2p, *broken}))
    if check:
        for label, files, want in (("before", before, 1), ("upstream", fixed, 0),
                                   ("wrong", bad, 1)):
            code, out = run_in(files, hidden, cmds["f2p"])
            assert (code == 0) == (want == 0), f"{cid}: fail-to-pass on {label}: {code}\n{out}"
        for label, files in (("upstream", fixed), ("wrong", bad)):
            for key in ("suite", "p2p"):
                code, out = run_in(files, hidden, cmds[key])
                assert code == 0, f"{cid}: {key} on {label} exits {code}\n{out[-3000:]}"
        print(f"{cid}: checked (fail-to-pass fails before and with the wrong patch)")
    write_case(case, before, hidden, edits, wrong, cmds)
    return {"id": cid, "f2p": f2p, "skip": sorted({*f2p, *broken})}


def write_case(case: dict[str, Any], before: dict[str, str], hidden: dict[str, str],
               edits: dict[str, list[dict[str, str]]], wrong: dict[str, list[dict[str, str]]],
               cmds: dict[str, str]) -> None:
    d = OUT / "cases" / case["id"]
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        write_tree(before, repo)
        sh(["git", "init", "-q", "--initial-branch=main"], cwd=repo)
        sh(["git", "add", "-A"], cwd=repo)
        source = "PyPI sdist" if case["ecosystem"] == "pypi" else "npm tarball"
        sh(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m",
            f"{case['package']} {case['before']} ({source}, {case['license']})"],
           cwd=repo, **GIT_ENV)
        sh(["git", "bundle", "create", "-q", str(d / "repo.bundle"), "HEAD", "main"], cwd=repo)
    write_tree(hidden, d / "hidden")
    feature = {"title": case["title"],
               "goal": unwrap(case["goal"]) + f"\n\nUpstream: {case['upstream']}\n",
               "crew": "software-team", "models": "models.yaml",
               "acceptance": [{"name": "project suite", "run": cmds["suite"], "timeout": 300}],
               "budget": {"usd": 2.0, "tokens": 2_000_000}}
    head = (f"# crew eval case {case['id']}: {case['package']} {case['before']} -> "
            f"{case['after']} ({case['license']}), {case['repository']}\n"
            "# Made by benchmarks/eval_real/make_cases.py; models.yaml is the replay of "
            "upstream's change.\n"
            f"# Environment (in the sandbox): {ENVIRONMENT[case['ecosystem']]}\n")
    (d / "feature.yaml").write_text(head + dump(feature), encoding="utf-8")
    for name, script, change in (("replay", "replay.yaml", edits), ("wrong", "wrong.yaml", wrong)):
        summary = ("Applied upstream's change; the project's tests pass." if name == "replay"
                   else "Made a partial change; the project's tests pass.")
        (d / script).write_text(dump(replay(case, before, change, cmds["suite"], summary)),
                                encoding="utf-8")
        models = {"model_list": [{"model_name": alias, "litellm_params": {
            "model": f"replay/{case['id']}-{name}", "replay_script": script, **PRICE}}
            for alias in ("smart", "fast")], "router_settings": {"num_retries": 0}}
        (d / ("models.yaml" if name == "replay" else "models-wrong.yaml")).write_text(
            dump(models), encoding="utf-8")


def write_suite(cases: list[dict[str, Any]], made: dict[str, dict[str, Any]]) -> None:
    lines = ["# `crew eval examples/eval-real/suite.yaml`: real upstream fixes and features",
             "# (see README.md). Made by benchmarks/eval_real/make_cases.py; each case lists",
             "# its source. Variant `replay` replays upstream's change through crew's tools,",
             "# `wrong` a patch that misses it: the hidden checks must pass and fail.",
             "name: eval-real", "cases:"]
    for c in cases:
        cmds = commands(c, made[c["id"]]["f2p"], made[c["id"]]["skip"])
        p2p = cmds["p2p"]
        lines += [f"  # {c['package']} {c['before']} -> {c['after']} ({c['ecosystem']}), "
                  f"{c['license']}, {c['repository']}",
                  f"  # upstream: {c['upstream']}",
                  f"  - id: {c['id']}",
                  f"    repo: cases/{c['id']}/repo.bundle",
                  f"    feature: cases/{c['id']}/feature.yaml",
                  f"    hidden: cases/{c['id']}/hidden",
                  "    checks:",
                  f"      - {{name: fail-to-pass, timeout: 300, run: {json.dumps(cmds['f2p'])}}}",
                  f"      - {{name: pass-to-pass, timeout: 300, run: {json.dumps(p2p)}}}"]
    lines += ["variants:",
              "  # add yours, e.g. {id: qwen, pattern: single, models: models/vllm.yaml}",
              "  - {id: replay, pattern: single, models: 'cases/{case}/models.yaml'}",
              "  - {id: wrong, pattern: single, models: 'cases/{case}/models-wrong.yaml'}",
              "repeat: 1", "budget: {usd: 20.0}", "max_parallel: 2", ""]
    (OUT / "suite.yaml").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "crew-eval-real")
    ap.add_argument("--only", nargs="*", help="Case ids to remake (the suite lists all).")
    ap.add_argument("--no-check", action="store_true", help="Skip running the tests here.")
    args = ap.parse_args()
    cases = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))["cases"]
    made_file = HERE / "made.json"
    made = json.loads(made_file.read_text()) if made_file.is_file() else {}
    for case in cases:
        if not args.only or case["id"] in args.only:
            made[case["id"]] = make_case(case, args.cache, not args.no_check)
    made_file.write_text(json.dumps(made, indent=1, sort_keys=True) + "\n")
    write_suite(cases, made)
    print(f"wrote {OUT / 'suite.yaml'}")


if __name__ == "__main__":
    main()
