"""Issue 24, acceptance (a)-(c) and item 4, end to end: `crew run` as a real process under a
real bubblewrap and the CI's private dockerd, models served by a StubServer.

(a) a Python project whose pytest and a third-party package live only in the repo's `.venv`
    (no system pytest: the PATH holds the venv and /usr/bin, whose python3 has none), run with
    the venv active: the acceptance gate passes and the agent's run_tests / run_command run it;
(b) a Node project whose test runner is a devDependency in node_modules: `npm test` likewise,
    with the host's node under bwrap and the image's under Docker (a container takes /usr from
    its image, as a user's image holds their toolchain: .ci/sandbox-setup.sh's has nodejs, npm);
(c) a tool in a fake HOME's ~/.local/bin runs as the gate while that HOME's .ssh/id_rsa,
    .aws/credentials and .netrc cannot be read by run_command, and reach no model request
    and no file under .crew;
item 4: `sandbox: {timeout_s: 5}` lets a 3 s command finish, `--timeout-s 1` stops it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from e2e_helpers import crew_env, only_run, state_of
from tool_project import make_project, run_crew, tool_messages

from crew.testing import StubReply, StubServer
from crew.tools.sandbox import backend_status
from crew.tools.sandbox.docker import default_image

pytestmark = pytest.mark.slow
BACKENDS = [pytest.param("bwrap", marks=pytest.mark.bwrap),
            pytest.param("docker", marks=pytest.mark.docker)]
SECRETS = {".ssh/id_rsa": "SSH-SECRET-e2e-4b1d", ".aws/credentials": "AWS-SECRET-e2e-93aa",
           ".netrc": "NETRC-SECRET-e2e-0c7e"}


def _require(name: str) -> None:
    ok, reason = backend_status(name)
    if not ok:
        pytest.skip(f"the {name} sandbox is unavailable: {reason}")


def _commit_all(repo: Path) -> None:
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "project"], check=True)


def _feature(path: Path, **keys: object) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(keys)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _closure(name: str) -> list[importlib.metadata.Distribution]:
    """The installed distribution `name` and everything it requires here."""
    from packaging.requirements import Requirement

    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen[key] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _venv_with_pytest(repo: Path) -> Path:
    """repo/.venv made offline: this interpreter's venv without pip, pytest and its
    dependencies copied in from this environment, plus `tinydep`, a package nowhere else."""
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python3*/site-packages")
    for dist in _closure("pytest"):  # every file each installed distribution lists
        for f in dist.files or []:
            src = Path(str(dist.locate_file(f)))
            if src.is_file() and "__pycache__" not in f.parts and not str(f).startswith(".."):
                (site / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, site / f)
    (site / "tinydep").mkdir()
    (site / "tinydep" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    script = venv / "bin" / "pytest"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nimport pytest\nsys.exit(pytest.main())\n")
    script.chmod(0o755)
    return venv


def _python_project(tmp_path: Path, stub: StubServer) -> tuple[Path, dict[str, str]]:
    feature = make_project(tmp_path, stub, tools=["run_command", "run_tests"])
    repo = tmp_path / "repo"
    (repo / "calc.py").write_text("import tinydep\n\n\ndef quad(x):\n"
                                  "    return tinydep.double(tinydep.double(x))\n")
    (repo / "test_calc.py").write_text("import calc\nimport pytest\n\n\ndef test_quad():\n"
                                       "    assert calc.quad(2) == 8\n"
                                       "    print('PYTEST AT', pytest.__file__)\n")
    (repo / ".gitignore").write_text(".venv/\n")
    _commit_all(repo)
    venv = _venv_with_pytest(repo)
    _feature(feature, acceptance=["pytest -q -s -p no:cacheprovider"])
    env = crew_env()
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv}/bin:/usr/bin:/bin")
    env.pop("PYTHONHOME", None)
    return feature, env


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_python_project_in_its_own_venv(backend: str, tmp_path: Path) -> None:
    _require(backend)
    no_pytest = subprocess.run(["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "python3", "-c",
                                "import pytest"], capture_output=True)
    assert no_pytest.returncode != 0  # nothing but the venv has pytest
    with StubServer() as stub:
        feature, env = _python_project(tmp_path, stub)
        stub.enqueue(StubReply.tool_call(("run_tests", {})),
                     StubReply.tool_call(("run_command", {"command": "pytest -q -s"})),
                     StubReply.text("done"), model="worker")
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", backend, env=env)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        results = tool_messages(stub, "worker")
    venv = tmp_path / "repo" / ".venv"
    assert "1 passed" in results[0], results[0]  # run_tests
    assert "1 passed" in results[1] and f"PYTEST AT {venv}/lib" in results[1], results[1]
    state = state_of(only_run(tmp_path / "repo"))
    assert state["status"] == "passed", state.get("stop_reason")
    [gate] = state["gates"]
    assert gate["passed"] and f"PYTEST AT {venv}/lib" in gate["output"], gate


def _node_project(tmp_path: Path, stub: StubServer) -> Path:
    feature = make_project(tmp_path, stub, tools=["run_command"])
    repo = tmp_path / "repo"
    (repo / "package.json").write_text(json.dumps({
        "name": "demo", "version": "1.0.0", "private": True, "scripts": {"test": "minitest"},
        "devDependencies": {"minitest": "file:../minitest"}}))
    (repo / "sum.js").write_text("module.exports = (a, b) => a + b;\n")
    (repo / "sum.test.js").write_text("const sum = require('./sum');\n"
                                      "if (sum(2, 3) !== 5) throw new Error('sum is wrong');\n")
    (repo / ".gitignore").write_text("node_modules/\n")
    _commit_all(repo)
    pkg = repo / "node_modules" / "minitest"
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "minitest", "version": "0.1.0",
                                                  "bin": {"minitest": "cli.js"}}))
    (pkg / "cli.js").write_text(
        "#!/usr/bin/env node\nconst fs = require('fs'), path = require('path');\n"
        "const files = fs.readdirSync('.').filter(f => f.endsWith('.test.js'));\n"
        "for (const f of files) require(path.resolve(f));\n"
        "console.log(`minitest: ${files.length} passed`);\n")
    (pkg / "cli.js").chmod(0o755)
    (repo / "node_modules" / ".bin").mkdir()
    (repo / "node_modules" / ".bin" / "minitest").symlink_to("../minitest/cli.js")
    _feature(feature, acceptance=["npm test"])
    return feature


def _require_npm(backend: str) -> None:
    """Skip where the sandbox has no npm: the host's for bwrap, the image's for Docker (an
    image without node fails the test under CI=true: .ci/sandbox-setup.sh's image has it)."""
    if backend == "bwrap":
        if not shutil.which("npm"):
            pytest.skip("npm is not installed here")
        return
    import docker
    import docker.errors

    image = default_image()
    client = docker.from_env()
    try:
        client.containers.run(image, ["sh", "-c", "command -v node && command -v npm"],
                              network_mode="none", remove=True)
    except docker.errors.ContainerError:
        msg = (f"the image {image} has no node/npm (.ci/sandbox-setup.sh rebuilds its image "
               "with them; or set CREW_SANDBOX_IMAGE to an image with node)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    finally:
        client.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_node_project_with_its_node_modules(backend: str, tmp_path: Path) -> None:
    _require(backend)
    _require_npm(backend)
    with StubServer() as stub:
        feature = _node_project(tmp_path, stub)
        stub.enqueue(StubReply.tool_call(("run_command", {"command": "npm test"})),
                     StubReply.text("done"), model="worker")
        env = crew_env()
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", backend, env=env)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        [result] = tool_messages(stub, "worker")
    assert "minitest: 1 passed" in result, result
    state = state_of(only_run(tmp_path / "repo"))
    assert state["status"] == "passed", state.get("stop_reason")
    [gate] = state["gates"]
    assert gate["passed"] and "minitest: 1 passed" in gate["output"], gate


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_home_toolchain_runs_and_home_credentials_stay_secret(backend: str,
                                                                tmp_path: Path) -> None:
    _require(backend)
    home = tmp_path / "home"
    for rel, text in SECRETS.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(f"machine example.com password {text}\n")
    tool = home / ".local" / "bin" / "crewcheck"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho crewcheck-ok\n")
    tool.chmod(0o755)
    reads = " ".join(f"{home}/{rel}" for rel in SECRETS)
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"])
        _feature(feature, acceptance=["crewcheck"])
        stub.enqueue(StubReply.tool_call(
            ("run_command", {"command": f"crewcheck; cat {reads}; ls -a {home}; echo end"})),
            StubReply.text("done"), model="worker")
        env = crew_env()
        env.update(HOME=str(home), PATH=f"{home}/.local/bin:{env['PATH']}")
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", backend, env=env)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        [result] = tool_messages(stub, "worker")
        sent = json.dumps([r.body for r in stub.requests])
    assert "crewcheck-ok" in result and "end" in result, result
    assert state_of(only_run(tmp_path / "repo"))["status"] == "passed"
    written = [p for p in (tmp_path / "repo" / ".crew").rglob("*") if p.is_file()]
    assert written
    for secret in SECRETS.values():
        assert secret not in sent and secret not in out
        for p in written:
            assert secret.encode() not in p.read_bytes(), p


@pytest.mark.parametrize(("yaml_s", "flag", "finished"), [(5, None, True), (5, "1", False)])
def test_the_command_timeout_is_the_sandbox_timeout(yaml_s: int, flag: str | None,
                                                    finished: bool, tmp_path: Path) -> None:
    _require("bwrap")
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"])
        _feature(feature, sandbox={"timeout_s": yaml_s})
        stub.enqueue(StubReply.tool_call(("run_command", {"command": "sleep 3; echo slept"})),
                     StubReply.text("done"), model="worker")
        args = ["run", str(feature), "--no-trace", "--sandbox", "bwrap"]
        res = run_crew(*args, *(["--timeout-s", flag] if flag else []), env=crew_env())
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
        [result] = tool_messages(stub, "worker")
    if finished:
        assert "slept" in result and "timed out" not in result, result
    else:
        assert "timed out after 1s" in result and "slept" not in result, result


def test_the_devcontainer_image_and_sandbox_image_choose_the_docker_image(tmp_path: Path
                                                                          ) -> None:
    """The repo's devcontainer.json `image` is used by the docker backend; `sandbox: {image}`
    wins over it, and an image the daemon lacks stops `crew run` with exit 2 before any run
    directory or model request exists."""
    _require("docker")
    import docker

    client = docker.from_env()
    try:
        base = client.images.get(default_image())
        base.tag("crew-devcontainer-e2e", "1")
    finally:
        client.close()
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"])
        repo = tmp_path / "repo"
        (repo / ".devcontainer").mkdir()
        (repo / ".devcontainer" / "devcontainer.json").write_text(
            '{\n  // made for this test\n  "image": "crew-devcontainer-e2e:1",\n}\n')
        _commit_all(repo)
        stub.enqueue(StubReply.tool_call(("run_command", {"command": "echo in-devcontainer"})),
                     StubReply.text("done"), model="worker")
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", "docker", env=crew_env())
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        assert "docker, image crew-devcontainer-e2e:1" in out
        assert "in-devcontainer" in tool_messages(stub, "worker")[0]
        shutil.rmtree(repo / ".crew")
        asked = len(stub.requests)
        _feature(feature, sandbox={"image": "crew-no-such-image:0"})
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", "docker", env=crew_env())
        out = res.stdout + res.stderr
        assert res.returncode == 2, out[-3000:]
        assert "image 'crew-no-such-image:0' is missing" in out
        assert len(stub.requests) == asked and not (repo / ".crew" / "runs").exists()


def test_setup_runs_once_per_worktree_from_the_feature_yaml(tmp_path: Path) -> None:
    """`setup:` runs inside the sandbox once in each workspace (the task's worktree, the
    integration worktree of the gate), before the first command there, without network."""
    _require("bwrap")
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"])
        repo = tmp_path / "repo"
        (repo / ".gitignore").write_text("build/\n")
        _commit_all(repo)
        _feature(feature, setup=["mkdir -p build && echo once >> build/setup.log",
                                 "cat /proc/net/dev | tail -n +3 | cut -d: -f1 > build/nets"],
                 acceptance=["test \"$(cat build/setup.log)\" = once && cat build/nets"])
        cmd = "cat build/setup.log build/nets"
        stub.enqueue(StubReply.tool_call(("run_command", {"command": cmd})),
                     StubReply.tool_call(("run_command", {"command": cmd})),
                     StubReply.text("done"), model="worker")
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", "bwrap", env=crew_env())
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        results = tool_messages(stub, "worker")
    assert [r.split("[stdout]")[1].split() for r in results] == [["once", "lo"]] * 2, results
    state = state_of(only_run(repo))
    assert state["status"] == "passed" and state["gates"][0]["passed"], state["gates"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("mounts", ["~/no-such-sdk"], "sandbox mount '~/no-such-sdk' does not exist"),
    ("share", [".venv"], "sandbox share '.venv' is not an untracked directory"),
])
def test_a_bad_mount_or_share_stops_before_anything_exists(
        key: str, value: list[str], message: str, tmp_path: Path) -> None:
    _require("bwrap")
    with StubServer() as stub:
        feature = make_project(tmp_path, stub, tools=["run_command"])
        _feature(feature, sandbox={key: value})
        env = crew_env()
        env["HOME"] = str(tmp_path)
        res = run_crew("run", str(feature), "--no-trace", "--sandbox", "bwrap", env=env)
        out = res.stdout + res.stderr
        assert res.returncode == 2, out[-3000:]
        assert message in out and "Traceback" not in out
        assert stub.requests == [] and not (tmp_path / "repo" / ".crew" / "runs").exists()
