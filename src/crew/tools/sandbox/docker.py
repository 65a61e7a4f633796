"""The Docker backend: one throwaway container per command, through the docker SDK.

Network none, read-only root, cap_drop ALL, no-new-privileges, memory / cpu / pids limits,
tmpfs /tmp, only the workspace mounted read-write at /workspace. Honours DOCKER_HOST.
The only module in crew that imports `docker`, and only when a command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crew.tools.sandbox.base import (
    Command,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    argv,
    cap_text,
    git_dirs,
    inside,
    sandbox_env,
)
from crew.tools.sandbox.environment import SandboxEnvironment
from crew.tools.sandbox.masks import DEFAULT_PROTECTED, merged_masks

DEFAULT_IMAGE = "crew-sandbox:latest"
MOUNT = "/workspace"
# every container is labelled with its workspace and the crew process that started it, so
# the next process working there removes what a killed one (SIGKILL skips the `finally`
# that removes a container) left running with the workspace mounted; a live one's stay
LABEL_WORKSPACE, LABEL_OWNER = "crew.workspace", "crew.owner"
_owner: list[str] = []  # this process's label value (pid + random), made on first use
_swept: set[str] = set()  # workspaces this process already swept


def default_image() -> str:
    return os.environ.get("CREW_SANDBOX_IMAGE") or DEFAULT_IMAGE


def _client(timeout: float = 60) -> Any:
    import docker

    return docker.from_env(timeout=int(timeout))


def docker_status(image: str | None = None) -> tuple[bool, str]:
    """(usable, reason): the SDK is installed, the daemon answers and the image is present."""
    image = image or default_image()
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not os.path.exists(host[len("unix://"):]):
        # no socket, no daemon: answered without importing the SDK (~15 MB, ~0.3 s)
        return False, f"no Docker daemon answers (no socket at {host[len('unix://'):]})"
    try:
        import docker
        import docker.errors
    except ImportError:
        return False, "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=3)
        client.ping()
    except Exception as e:
        return False, f"no Docker daemon answers (DOCKER_HOST={os.environ.get('DOCKER_HOST', '')!r}): {e}"
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False, f"image {image!r} is missing: build it with `docker build -t {image} .`"
    except Exception as e:
        return False, f"cannot inspect image {image!r}: {e}"
    finally:
        client.close()
    return True, image


def build_image(context: Path, dockerfile: Path, tag: str) -> str:
    """Build `dockerfile` in `context` as `tag` without pulling and without network (the base
    image must be on the daemon; its layer cache makes a rebuild quick). UserError with the
    build's last lines when it fails."""
    import docker.errors

    from crew.errors import UserError

    client = _client(timeout=600)
    try:
        client.images.build(path=str(context), dockerfile=str(dockerfile), tag=tag, pull=False,
                            rm=True, forcerm=True, network_mode="none")
    except (docker.errors.BuildError, docker.errors.APIError) as e:
        log = getattr(e, "build_log", None) or []
        tail = "".join(str(x.get("stream", x.get("error", ""))) for x in log if isinstance(x, dict))
        raise UserError(f"building {dockerfile} failed: {e}", file=str(dockerfile),
                        hint=(tail.strip()[-500:] + "\n" if tail.strip() else "")
                        + "build the image yourself and name it with `sandbox: {image: ...}`"
                        ) from None
    finally:
        client.close()
    return tag


def owner_label() -> str:
    """This process's `crew.owner` label value: `host:pid:random`."""
    if not _owner:
        import secrets
        import socket

        _owner.append(f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _owner[0]


def _orphaned(owner: str) -> bool:
    """Whether the crew process named by an `owner` label is gone: one on this host whose
    pid no longer runs (another host's, or an unreadable label: never)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if not pid.isdigit() or host != owner_label().partition(":")[0]:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return int(pid) == os.getpid() and owner != owner_label()  # a reused pid: ours now


def _sweep_orphans(client: Any, workspace: str) -> None:
    """Before this process's first command in `workspace`: remove the containers a killed
    crew process (on this host, its pid gone) left running there. Live processes' are left
    alone: two crews may probe one repository at once (the programs check before a run)."""
    import docker.errors

    if workspace in _swept:
        return
    _swept.add(workspace)
    for c in client.containers.list(all=True,
                                    filters={"label": f"{LABEL_WORKSPACE}={workspace}"}):
        if _orphaned(str(c.labels.get(LABEL_OWNER, ""))):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)


class DockerSandbox:
    """A fresh, locked-down container per command; the container is removed afterwards."""

    name = "docker"
    isolated = True

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        image: str | None = None,
        user: str | None = None,
        protected: Sequence[str] = DEFAULT_PROTECTED,
        environment: SandboxEnvironment | None = None,
    ) -> None:
        """`user` defaults to the host uid:gid, so files written in the workspace stay yours;
        `protected`: patterns of paths kept read-only (.git, .crew) or masked (secrets);
        `environment`: host paths bound read-only at the same path, shares, hidden credentials
        (system directories come from the image, never from the host)."""
        self.limits = limits or SandboxLimits()
        self.environment = environment or SandboxEnvironment()
        self.protected = tuple(protected)
        self.image = image or default_image()
        self.user = user or f"{os.getuid()}:{os.getgid()}"

    def _container_config(
        self, cmd: Command, *, workspace: Path, cwd: Path, env: Mapping[str, str] | None,
        read_only: Sequence[str], hidden: Sequence[str],
    ) -> dict[str, Any]:
        import docker.types

        root = workspace.resolve()
        rel = cwd.relative_to(root).as_posix()
        volumes: dict[str, dict[str, str]] = {str(root): {"bind": MOUNT, "mode": "rw"}}
        for d in git_dirs(root):  # a worktree's git at its host path (its .git file names it)
            volumes[str(d)] = {"bind": str(d), "mode": "ro"}
        for r in read_only:
            p = root / r
            if p.exists() and not p.is_symlink():
                volumes[str(p)] = {"bind": f"{MOUNT}/{r}", "mode": "ro"}
        mounts = [
            docker.types.Mount(f"{MOUNT}/{r}", "/dev/null", type="bind", read_only=True)
            for r in hidden
            if (root / r).is_file() and not (root / r).is_symlink()
        ]
        mounts += self._environment_mounts(root)
        lim = self.limits
        envt = self.environment
        return dict(
            image=self.image,
            command=argv(cmd),
            working_dir=MOUNT if rel == "." else f"{MOUNT}/{rel}",
            labels={LABEL_WORKSPACE: str(root), LABEL_OWNER: owner_label()},
            environment=sandbox_env({**envt.env_in(MOUNT), **(env or {})}, path=envt.path),
            user=self.user,
            volumes=volumes,
            mounts=mounts,
            network_mode="bridge" if lim.network else "none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=f"{lim.memory_mb}m",
            memswap_limit=f"{lim.memory_mb}m",
            nano_cpus=int(lim.cpus * 1e9),
            pids_limit=lim.pids,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={lim.tmp_mb}m,mode=1777"},
            ipc_mode="none",
            log_config=docker.types.LogConfig(
                type="json-file", config={"max-size": "8m", "max-file": "1"}
            ),
        )

    def _environment_mounts(self, root: Path) -> list[Any]:
        """The project's environment: host paths read-only at the same path, the shares in
        the workspace (at /workspace/<rel>), credentials hidden below them."""
        import docker.types

        envt, out = self.environment, []
        for p in envt.ro_paths:
            out.append(docker.types.Mount(str(p), str(p.resolve()), type="bind", read_only=True))
        for src, dest in envt.share_targets(root):
            target = f"{MOUNT}/{dest.relative_to(root).as_posix()}"
            out.append(docker.types.Mount(target, str(src), type="bind", read_only=True))
        for m in envt.masked:
            if m.is_dir():
                out.append(docker.types.Mount(str(m), "", type="tmpfs", read_only=True,
                                              tmpfs_size=4096))
            else:
                out.append(docker.types.Mount(str(m), "/dev/null", type="bind", read_only=True))
        return out

    def _run_blocking(self, config: dict[str, Any], timeout: float) -> SandboxResult:
        import docker.errors
        import requests.exceptions

        client = _client()
        start = time.monotonic()
        container = None
        try:
            try:
                _sweep_orphans(client, config["labels"][LABEL_WORKSPACE])
                # create, then start: a container that fails to start is still removed below
                container = client.containers.create(**config)
                container.start()
            except docker.errors.ImageNotFound as e:
                raise SandboxError(
                    f"sandbox image {self.image!r} is missing: build it with "
                    f"`docker build -t {self.image} .` or set CREW_SANDBOX_IMAGE"
                ) from e
            except docker.errors.APIError as e:
                raise SandboxError(f"docker could not start the sandbox: {e}") from e
            except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
                host = os.environ.get("DOCKER_HOST", "the default socket")
                raise SandboxError(f"docker could not start the sandbox: no Docker daemon "
                                   f"answers at {host}: {e}") from e
            timed_out = False
            try:
                status = container.wait(timeout=timeout)
                code = int(status.get("StatusCode", -1))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                timed_out = True
                with contextlib.suppress(docker.errors.APIError):
                    container.kill()
                code = int(container.wait(timeout=30).get("StatusCode", -9))
            duration = time.monotonic() - start
            stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            container.reload()
            if container.attrs.get("State", {}).get("OOMKilled"):
                stderr += f"\n[killed: out of memory (limit {self.limits.memory_mb} MiB)]"
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
            client.close()
        out, cut_out = cap_text(stdout, self.limits.output_chars)
        err, cut_err = cap_text(stderr, self.limits.output_chars)
        return SandboxResult(
            exit_code=code, stdout=out, stderr=err, timed_out=timed_out,
            duration_s=duration, backend=self.name, truncated=cut_out or cut_err,
        )

    async def run(
        self,
        cmd: Command,
        *,
        workspace: Path,
        cwd: str = ".",
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
        read_only: Sequence[str] = (),
        hidden: Sequence[str] = (),
    ) -> SandboxResult:
        read_only, hidden = merged_masks(workspace, self.protected, read_only, hidden)
        config = self._container_config(
            cmd, workspace=workspace, cwd=inside(workspace, cwd), env=env,
            read_only=read_only, hidden=hidden,
        )
        return await asyncio.to_thread(self._run_blocking, config, self.limits.cap(timeout))
