"""A run's sandbox settings and secrets: the crew's and the feature's `sandbox:` sections and
the flags merged and checked (UserError naming the flag), the limits shown in the report, and
the models config's keys registered for redaction."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from crew.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

    from crew.run.launch import RunOptions
    from crew.spec.models import ModelsConfig, SandboxSpec
    from crew.spec.resolve import ResolvedFeature
    from crew.tools.sandbox.environment import SandboxEnvironment

FLAGS = {"backend": "--sandbox", "memory_mb": "--memory-mb", "cpus": "--cpus",
         "pids": "--pids", "timeout_s": "--timeout-s", "network": "--network"}
_SECRET_PARAM = ("key", "secret", "token", "password", "credential")


def sandbox_settings(resolved: ResolvedFeature, opts: RunOptions,
                     saved: dict[str, Any] | None) -> SandboxSpec:
    """Crew section, then the feature's, then flags (a resumed run starts from `saved`)."""
    from crew.spec.models import merge_sandbox
    from crew.tools.sandbox import BACKENDS

    if opts.sandbox is not None and opts.sandbox not in BACKENDS:
        from crew.spec.suggest import did_you_mean

        raise UserError(f"unknown sandbox {opts.sandbox!r}{did_you_mean(opts.sandbox, BACKENDS)}",
                        field="--sandbox", hint=f"use one of {', '.join(BACKENDS)}")
    flags = {**opts.sandbox_flags, "backend": opts.sandbox}
    try:
        if saved:
            return merge_sandbox(str(saved.get("backend", "auto")), saved, flags)
        crew = resolved.crew.spec
        return merge_sandbox(crew.defaults.sandbox, crew.sandbox, resolved.feature.spec.sandbox,
                             flags)
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        flag = FLAGS.get(name, name)
        raise UserError(f"{flag}: {err['msg']}", field=flag,
                        hint="see `crew run --help` for the sandbox flags") from None


def setup_commands(resolved: ResolvedFeature) -> list[str]:
    """The `setup:` commands: the feature's list, else the crew's."""
    feature = resolved.feature.spec.setup
    return list(feature if feature is not None else resolved.crew.spec.setup)


def sandbox_environment(settings: SandboxSpec, repo: Path | None) -> SandboxEnvironment:
    """The project's environment for the sandbox, from this process's environment and home
    and the `sandbox:` keys `share` and `mounts` (UserError for a missing one)."""
    from pathlib import Path

    from crew.tools.sandbox.environment import detect_environment

    return detect_environment(repo, environ=dict(os.environ), home=Path.home(),
                              share=settings.share, mounts=settings.mounts)


def sandbox_image(settings: SandboxSpec, repo: Path | None) -> str | None:
    """The Docker image: `sandbox.image`, else the repo's devcontainer image (its Dockerfile
    built offline as `crew-devcontainer:<hash>` when docker will run the commands), else None
    (the backend's default: CREW_SANDBOX_IMAGE or crew-sandbox:latest)."""
    if settings.image:
        return settings.image
    if repo is None or settings.backend not in ("docker", "auto"):
        return None
    from crew.tools.sandbox.devcontainer import read_devcontainer

    dc = read_devcontainer(repo)
    if dc is None or dc.image:
        return dc.image if dc is not None else None
    assert dc.dockerfile is not None and dc.context is not None
    from crew.tools.sandbox.docker import build_image, docker_status

    ok, reason = docker_status()
    if not ok and not reason.startswith(("image", "cannot inspect image")):
        return None  # no daemon: auto goes on to bwrap, docker says why it is unavailable
    import hashlib

    digest = hashlib.sha256(f"{dc.context}\0{dc.dockerfile}".encode()).hexdigest()[:12]
    return build_image(dc.context, dc.dockerfile, f"crew-devcontainer:{digest}")


def describe_limits(sandbox: Any) -> str:
    """'memory 2048 MiB, 2 CPUs, 256 processes, timeout 600s, network off (cgroup v1)'."""
    limits = getattr(sandbox, "limits", None)
    if limits is None:
        return ""
    if sandbox.name == "docker":
        how = f"docker, image {getattr(sandbox, 'image', '?')}"
    else:
        from crew.tools.sandbox.limits import mechanism

        how = mechanism()
        if sandbox.name == "local" and not getattr(sandbox, "namespaces", False):
            how += "; no namespaces"
    return f"{limits.describe()} ({how})"


def register_model_secrets(models: ModelsConfig | None) -> None:
    """Register the models config's keys (literal values and the `os.environ/VAR` they name)
    so nothing crew writes can hold them."""
    from crew.observability.redact import register_secrets

    if models is None:
        return
    values: list[str] = [str(v) for v in models.environment_variables.values()]
    for dep in models.model_list:
        for name, value in dep.litellm_params.model_dump().items():
            if not isinstance(value, str):
                continue
            if value.startswith("os.environ/"):
                values.append(os.environ.get(value[len("os.environ/"):], ""))
            elif any(s in name.lower() for s in _SECRET_PARAM):
                values.append(value)
    register_secrets(v for v in values if v)
