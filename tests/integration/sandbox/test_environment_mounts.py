"""Issue 24 item 1 on the real backends: toolchains under home run, credentials under home stay
unreadable even below a mount covering them, a repository's untracked .venv is usable (read
only) in a worktree, and `setup:` runs once per workspace."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from sandbox_support import ALL, LIMITS, require_backend

from crew.errors import UserError
from crew.tools.sandbox import SandboxError, select_sandbox
from crew.tools.sandbox.environment import SandboxEnvironment, detect_environment
from crew.tools.sandbox.setup import SetupOnce

SECRETS = {".ssh/id_rsa": "SSH-SECRET-1f3a", ".aws/credentials": "AWS-SECRET-9c2e",
           ".netrc": "NETRC-SECRET-77b0", ".bash_history": "HISTORY-SECRET-5d1c"}


def _backend(name: str, environment: SandboxEnvironment) -> object:
    require_backend(name)
    if name == "local":
        from crew.tools.sandbox.local import LocalSandbox

        return LocalSandbox(LIMITS, warn=False, environment=environment)
    return select_sandbox(name, limits=LIMITS, environment=environment)


def _fake_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for rel, text in SECRETS.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text + "\n")
    tool = home / ".local" / "bin" / "crewtool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho tool-ok\n")
    tool.chmod(0o755)
    home.chmod(0o755)
    return home


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("mounts", [[], ["~"]], ids=["toolchains", "home-mounted"])
async def test_home_toolchains_run_and_credentials_stay_hidden(
        name: str, mounts: list[str], tmp_path: Path, workspace: Path) -> None:
    home = _fake_home(tmp_path)
    environ = {"PATH": f"{home}/.local/bin:/usr/local/bin:/usr/bin:/bin"}
    env = detect_environment(None, environ=environ, home=home, mounts=mounts)
    sb = _backend(name, env)
    if name == "local" and not getattr(sb, "namespaces", False):
        pytest.skip("the local backend without namespaces hides nothing (documented)")
    reads = " ".join(f"{home}/{rel}" for rel in SECRETS)
    res = await sb.run(f"crewtool; cat {reads}; ls -a {home}/.ssh; echo end",  # type: ignore[attr-defined]
                       workspace=workspace)
    out = res.stdout + res.stderr
    assert "tool-ok" in res.stdout and "end" in res.stdout, out
    for secret in SECRETS.values():
        assert secret not in out


def _repo_and_worktree(tmp_path: Path) -> tuple[Path, Path]:
    """tmp_path/repo committed as it stands (its .gitignore keeps .venv out), and a task
    worktree of it at tmp_path/wt that the sandbox's user can write."""
    repo = tmp_path / "repo"
    (repo / ".gitignore").write_text(".venv/\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    wt = tmp_path / "wt"
    subprocess.run([*git, "worktree", "add", "-q", str(wt), "-b", "task"], check=True)
    wt.chmod(0o777)
    return repo, wt


@pytest.mark.parametrize("name", ALL)
async def test_an_untracked_venv_is_read_only_in_a_worktree(name: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "hello").write_text("#!/bin/sh\necho hello-from-venv\n")
    (repo / ".venv" / "bin" / "hello").chmod(0o755)
    repo, wt = _repo_and_worktree(tmp_path)
    env = detect_environment(repo, environ={"PATH": "/usr/bin:/bin"}, home=tmp_path / "h")
    assert env.shares == ((repo / ".venv", ".venv"),)
    sb = _backend(name, env)
    if name == "local" and not getattr(sb, "namespaces", False):
        pytest.skip("the local backend without namespaces mounts nothing")
    res = await sb.run(f".venv/bin/hello; {repo}/.venv/bin/hello; touch .venv/x || echo ro",  # type: ignore[attr-defined]
                       workspace=wt)
    assert res.stdout.split() == ["hello-from-venv", "hello-from-venv", "ro"], res.stderr
    assert not (repo / ".venv" / "x").exists()
    status = subprocess.run(["git", "-C", str(wt), "status", "--porcelain"], capture_output=True,
                            text=True, check=True).stdout
    assert status == ""  # the (empty) mount point is nothing git would commit


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("active", [True, False], ids=["activated", "shared"])
async def test_the_projects_editable_install_imports_the_worktrees_code(
        name: str, active: bool, tmp_path: Path) -> None:
    """A src-layout project installed editable into its own .venv (`uv sync`, `pip install
    -e .`: a `.pth` naming <repo>/src): a command in a task's worktree imports the worktree's
    code, changed there, not the checkout's (it failed to import under bwrap and Docker, and
    ran the checkout's unchanged code on the local backend)."""
    import sys

    repo = tmp_path / "repo"
    (repo / "src" / "mypkg").mkdir(parents=True)
    (repo / "src" / "mypkg" / "__init__.py").write_text("WHERE = 'checkout'\n")
    repo, wt = _repo_and_worktree(tmp_path)
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python3*/site-packages")
    (site / "_mypkg.pth").write_text(f"{repo / 'src'}\n")  # as uv and hatchling write it
    (wt / "src" / "mypkg" / "__init__.py").write_text("WHERE = 'worktree'\n")  # the agent's edit
    environ = {"PATH": f"{venv}/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(venv)} if active else {
        "PATH": "/usr/bin:/bin"}
    env = detect_environment(repo, environ=environ, home=tmp_path / "h")
    sb = _backend(name, env)
    res = await sb.run(".venv/bin/python -c 'import mypkg; print(mypkg.WHERE)'",  # type: ignore[attr-defined]
                       workspace=wt)
    assert res.stdout.split() == ["worktree"], res.stdout + res.stderr


@pytest.mark.parametrize("name", ALL)
async def test_setup_runs_once_per_workspace_and_a_failure_stops(
        name: str, tmp_path: Path, workspace: Path) -> None:
    inner = _backend(name, SandboxEnvironment())
    sb = SetupOnce(inner, ["echo setup >> setup.log"], inner)  # type: ignore[arg-type]
    for _ in range(2):
        res = await sb.run("cat setup.log", workspace=workspace)
        assert res.stdout.split() == ["setup"]
    assert sb.name == name and sb.limits == LIMITS  # every other attribute is the backend's
    other = tmp_path / "other"
    other.mkdir()
    other.chmod(0o777)
    broken = SetupOnce(inner, ["echo broke >&2; exit 3"], inner)  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match=r"setup command .* failed .*\(exit 3\): broke"):
        await broken.run("true", workspace=other)


async def test_setup_network_is_separate_from_the_commands(tmp_path: Path,
                                                           workspace: Path) -> None:
    """The setup backend is the one with the user's `setup_network`; the commands' stays off."""
    require_backend("bwrap")
    off = select_sandbox("bwrap", limits=LIMITS)
    on = select_sandbox("bwrap", limits=replace(LIMITS, network=True))
    nets = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"
    sb = SetupOnce(off, [f"{nets} > nets.txt"], on)
    res = await sb.run(nets, workspace=workspace)
    assert res.stdout.split() == ["lo"]  # the command: loopback only
    host = subprocess.run(["sh", "-c", nets], capture_output=True, text=True).stdout.split()
    assert (workspace / "nets.txt").read_text().split() == host  # setup: the host's network
    assert host != ["lo"]


@pytest.mark.parametrize("name", ALL)
async def test_a_path_entry_naming_the_workspace_leaves_it_writable(
        name: str, workspace: Path) -> None:
    env = detect_environment(None, environ={"PATH": f"{workspace}:/usr/bin:/bin"},
                             home=workspace.parent / "h")
    assert env.ro_paths == (workspace,)
    res = await _backend(name, env).run("touch made && echo ok", workspace=workspace)  # type: ignore[attr-defined]
    assert res.stdout.strip() == "ok", res.stderr
    assert (workspace / "made").exists()


@pytest.mark.docker
async def test_a_devcontainer_dockerfile_is_built_offline_and_used(tmp_path: Path) -> None:
    require_backend("docker")
    from crew.run.sandboxing import sandbox_image
    from crew.spec.models import SandboxSpec
    from crew.tools.sandbox.docker import default_image

    repo = tmp_path / "repo"
    (repo / ".devcontainer").mkdir(parents=True)
    (repo / ".devcontainer" / "Dockerfile").write_text(
        f"FROM {default_image()}\nCOPY marker.txt /opt/marker.txt\n")
    (repo / ".devcontainer" / "marker.txt").write_text("built-from-devcontainer\n")
    (repo / ".devcontainer" / "devcontainer.json").write_text(
        '{"build": {"dockerfile": "Dockerfile", "context": "."}}')
    image = sandbox_image(SandboxSpec(backend="docker"), repo)
    assert image is not None and image.startswith("crew-devcontainer:")
    assert sandbox_image(SandboxSpec(backend="docker", image="mine:1"), repo) == "mine:1"
    assert sandbox_image(SandboxSpec(backend="bwrap"), repo) is None
    ws = tmp_path / "ws"
    ws.mkdir()
    res = await select_sandbox("docker", limits=LIMITS, image=image).run(
        "cat /opt/marker.txt", workspace=ws)
    assert res.stdout.strip() == "built-from-devcontainer", res.stderr
    (repo / ".devcontainer" / "Dockerfile").write_text("FROM crew-no-such-base:0\n")
    with pytest.raises(UserError, match=r"building .*Dockerfile failed"):
        sandbox_image(SandboxSpec(backend="docker"), repo)
