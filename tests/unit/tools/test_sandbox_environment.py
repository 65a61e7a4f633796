"""Issue 24 item 1: what of the host a sandbox shows, computed from what the caller passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crew.errors import UserError
from crew.tools.sandbox.devcontainer import devcontainer_image, read_devcontainer, strip_jsonc
from crew.tools.sandbox.environment import SandboxEnvironment, detect_environment, venv_home


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "PATH": "/usr/bin:/bin",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    for d in (".ssh", ".aws", ".local/bin", ".cargo/bin", ".config/gcloud"):
        (h / d).mkdir(parents=True)
    (h / ".ssh" / "id_rsa").write_text("KEY")
    (h / ".aws" / "credentials").write_text("AWS")
    (h / ".netrc").write_text("NETRC")
    (h / ".cargo" / "credentials.toml").write_text("CARGO")
    return h


def test_toolchains_under_home_are_visible_and_credentials_are_not(home: Path) -> None:
    env = detect_environment(None, environ={"PATH": "/usr/bin:/bin"}, home=home)
    assert set(env.ro_paths) == {home / ".local/bin", home / ".cargo/bin"}
    assert env.masked == ()  # no mount covers a credential: they are simply absent inside
    assert set(env.credentials) == {home / ".ssh", home / ".aws", home / ".netrc",
                                    home / ".config/gcloud", home / ".cargo/credentials.toml"}


def test_toolchain_variables_point_at_the_bound_toolchains(home: Path, tmp_path: Path) -> None:
    (home / ".rustup").mkdir()
    go = tmp_path / "goroot"
    go.mkdir()
    env = detect_environment(None, environ={"GOROOT": str(go), "GOPATH": "relative"},
                             home=home)
    assert env.env == {"RUSTUP_HOME": str(home / ".rustup"), "GOROOT": str(go)}
    assert {home / ".rustup", go} <= set(env.ro_paths)


def test_a_mount_covering_home_masks_every_credential(home: Path) -> None:
    env = detect_environment(None, environ={"PATH": "/usr/bin"}, home=home, mounts=["~"])
    assert env.ro_paths == (home,)  # the toolchains below it are not bound twice
    assert set(env.masked) == set(env.credentials)
    assert home / ".ssh" in env.masked and home / ".netrc" in env.masked


def test_path_binds_prefixes_skips_system_dirs_home_and_credentials(home: Path,
                                                                   tmp_path: Path) -> None:
    tool = tmp_path / "opt" / "tool"
    (tool / "bin").mkdir(parents=True)
    (home / "bin").mkdir()
    path = (f"{tool}/bin:/usr/local/bin:/usr/bin:{home}:{home}/bin:{home}/.ssh:relative/bin:"
            f"{tmp_path}/gone")
    env = detect_environment(None, environ={"PATH": path}, home=home)
    # <prefix>/bin brings its prefix (lib/, share/) unless that is home; neither home itself
    # nor a credential is bound
    assert set(env.ro_paths) == {tool, home / "bin", home / ".local/bin", home / ".cargo/bin"}
    assert env.path == path  # the same PATH inside


def test_the_active_venv_and_its_base_interpreter_are_visible(tmp_path: Path) -> None:
    base = tmp_path / "py" / "3.11"
    (base / "bin").mkdir(parents=True)
    venv = tmp_path / "proj" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\nversion = 3.11\n")
    assert venv_home(venv) == base
    env = detect_environment(None, environ={"VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin"},
                             home=tmp_path / "h")
    assert set(env.ro_paths) == {venv, base}
    assert env.env == {"VIRTUAL_ENV": str(venv)}


def test_editable_installs_of_a_shown_interpreter_are_visible(tmp_path: Path) -> None:
    """An interpreter whose site-packages points at sources elsewhere (`pip install -e`):
    the sources are shown too (else pytest fails importing its plugins), except the repo's
    own (the worktree is the code under test)."""
    prefix = tmp_path / "pyenv"  # a pyenv root: versions/X holds the interpreter
    (prefix / "bin").mkdir(parents=True)
    site = prefix / "versions" / "3.11.7" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    hatch_src, setuptools_pkg, repo = tmp_path / "lib-a" / "src", tmp_path / "lib-b" / "pkg", \
        tmp_path / "repo"
    for d in (hatch_src, setuptools_pkg, repo / "src"):
        d.mkdir(parents=True)
    (site / "_lib_a.pth").write_text(f"{hatch_src}\nimport _virtualenv\n")
    (site / "_repo.pth").write_text(f"{repo / 'src'}\n")
    (site / "__editable___lib_b_1_0_finder.py").write_text(
        f"import sys\nMAPPING: dict[str, str] = {{'pkg': '{setuptools_pkg}'}}\n"
        "NAMESPACES = {}\n")
    env = detect_environment(repo, environ={"PATH": f"{prefix}/bin"}, home=tmp_path / "h")
    assert set(env.ro_paths) == {prefix, hatch_src, setuptools_pkg}


def test_the_projects_own_editable_installs_lead_pythonpath_to_the_workspace(
        tmp_path: Path) -> None:
    """`uv sync` / `pip install -e .` of the project itself: its import roots (a `.pth` line,
    a setuptools finder's package → its parent) become workspace paths on PYTHONPATH, ahead
    of what the caller had; an editable install from outside the repository does not."""
    repo, outside = tmp_path / "repo", tmp_path / "lib-a" / "src"
    site = repo / ".venv" / "lib" / "python3.11" / "site-packages"
    for d in (site, repo / "src" / "app", repo / "tool", outside):
        d.mkdir(parents=True)
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (repo / ".gitignore").write_text(".venv/\n")
    _git(tmp_path, "init", "-q", str(repo))
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-qm", "init")
    (site / "_app.pth").write_text(f"{repo / 'src'}\n")
    (site / "_lib_a.pth").write_text(f"{outside}\n")
    (site / "__editable___tool_1_0_finder.py").write_text(
        f"MAPPING: dict[str, str] = {{'tool': '{repo / 'tool'}'}}\nNAMESPACES = {{}}\n")
    env = detect_environment(repo, environ={"PATH": "/usr/bin:/bin",
                                            "VIRTUAL_ENV": str(repo / ".venv")},
                             home=tmp_path / "h")
    assert env.python_paths == ("src", ".")
    assert env.env_in("/ws")["PYTHONPATH"] == "/ws/src:/ws"
    shared = detect_environment(repo, environ={"PATH": "/usr/bin:/bin"}, home=tmp_path / "h")
    assert shared.python_paths == ("src", ".")  # the repo's .venv shared, not activated
    with_own = SandboxEnvironment(env={"PYTHONPATH": "/opt/x"}, python_paths=("src",))
    assert with_own.env_in("/ws")["PYTHONPATH"] == "/ws/src:/opt/x"
    assert "PYTHONPATH" not in SandboxEnvironment(env={"A": "1"}).env_in("/ws")


def test_untracked_environment_dirs_are_shared_and_tracked_ones_are_not(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / "node_modules" / "x").mkdir(parents=True)
    (repo / "venv").mkdir()
    (repo / "venv" / "tracked.txt").write_text("in git")
    (repo / ".gitignore").write_text(".venv/\nnode_modules/\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".gitignore", "venv/tracked.txt")
    _git(repo, "commit", "-qm", "init")
    env = detect_environment(repo, environ={}, home=tmp_path / "h")
    assert env.shares == ((repo / ".venv", ".venv"), (repo / "node_modules", "node_modules"))
    assert repo / ".venv" in env.ro_paths  # at its own path too: its shebangs name it

    with pytest.raises(UserError, match="'venv' is not an untracked directory"):
        detect_environment(repo, environ={}, home=tmp_path / "h", share=["venv"])
    only = detect_environment(repo, environ={}, home=tmp_path / "h", share=["node_modules"])
    assert only.shares == ((repo / "node_modules", "node_modules"),)


def test_a_worktree_gets_a_share_unless_it_has_its_own(tmp_path: Path) -> None:
    src = tmp_path / "repo" / "node_modules"
    src.mkdir(parents=True)
    wt = tmp_path / "wt"
    wt.mkdir()
    env = SandboxEnvironment(shares=((src, "node_modules"),))
    assert env.share_targets(wt) == [(src, wt.resolve() / "node_modules")]
    (wt / "node_modules").mkdir()  # an empty mount point left by a previous command
    assert env.share_targets(wt) == [(src, wt.resolve() / "node_modules")]
    (wt / "node_modules" / "own").write_text("made by setup")
    assert env.share_targets(wt) == []


def test_a_missing_mount_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="sandbox mount '~/nope' does not exist") as e:
        detect_environment(None, environ={}, home=tmp_path, mounts=["~/nope"])
    assert e.value.problems[0].field == "sandbox.mounts"


def test_devcontainer_image_is_read_from_jsonc(tmp_path: Path) -> None:
    assert devcontainer_image(tmp_path) is None
    (tmp_path / ".devcontainer").mkdir()
    f = tmp_path / ".devcontainer" / "devcontainer.json"
    f.write_text('{\n  // the image\n  "name": "a // b", /* c */ "image": "node:20",\n}\n')
    assert devcontainer_image(tmp_path) == "node:20"
    assert strip_jsonc('{"u": "http://x/*y*/", "l": [1, 2,],}') == '{"u": "http://x/*y*/", "l": [1, 2]}'
    f.write_text('{"build": {"dockerfile": "Dockerfile", "context": ".."}}')
    with pytest.raises(UserError, match=r"Dockerfile .* is missing"):
        read_devcontainer(tmp_path)
    (tmp_path / ".devcontainer" / "Dockerfile").write_text("FROM scratch\n")
    dc = read_devcontainer(tmp_path)
    assert dc is not None and dc.image is None
    assert (dc.dockerfile, dc.context) == (tmp_path / ".devcontainer" / "Dockerfile", tmp_path)
    assert devcontainer_image(tmp_path) is None
    f.write_text("{not json")
    with pytest.raises(UserError, match="cannot read"):
        devcontainer_image(tmp_path)
