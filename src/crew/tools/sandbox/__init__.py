"""Sandbox backends behind one protocol, chosen by name: docker, bwrap, local, or auto.

Importing this package imports neither docker nor any backend module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from crew.errors import UserError
from crew.tools.sandbox.base import (
    SandboxBackend,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    sandbox_env,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crew.tools.sandbox.environment import SandboxEnvironment

__all__ = [
    "BACKENDS",
    "SandboxBackend",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "backend_status",
    "sandbox_env",
    "select_sandbox",
]

BACKENDS = ("auto", "docker", "bwrap", "local")
log = logging.getLogger(__name__)


def backend_status(name: str, *, image: str | None = None) -> tuple[bool, str]:
    """(available, reason) for one backend; `reason` says what is missing."""
    if name == "docker":
        from crew.tools.sandbox.docker import docker_status

        return docker_status(image)
    if name == "bwrap":
        from crew.tools.sandbox.bwrap import bwrap_status

        return bwrap_status()
    if name == "local":
        return True, "always available (isolates nothing)"
    raise UserError(f"unknown sandbox {name!r}", hint=f"use one of {', '.join(BACKENDS)}")


def select_sandbox(
    name: str = "auto",
    *,
    limits: SandboxLimits | None = None,
    image: str | None = None,
    extra_ro_binds: Sequence[Path] = (),
    protected: Sequence[str] | None = None,
    environment: SandboxEnvironment | None = None,
) -> SandboxBackend:
    """The named backend, or for `auto` the first available of docker and bwrap;
    `environment`: the project's environment it shows (`environment.detect_environment`).

    `auto` never falls back to `local` (no isolation by surprise): with neither Docker nor
    bubblewrap it is a UserError saying how to install one, or to pass `--sandbox local`.
    A named backend that is unavailable is a UserError with the reason.
    """
    if name not in BACKENDS:
        from crew.spec.suggest import did_you_mean

        raise UserError(
            f"unknown sandbox {name!r}{did_you_mean(name, BACKENDS)}",
            field="sandbox", hint=f"use one of {', '.join(BACKENDS)}",
        )
    order = ("docker", "bwrap") if name == "auto" else (name,)
    reasons: list[str] = []
    for candidate in order:
        ok, reason = backend_status(candidate, image=image)
        if ok:
            if name == "auto" and reasons:
                log.info("sandbox auto: using %s (%s)", candidate, "; ".join(reasons))
            return _make(candidate, limits, image, extra_ro_binds, protected, environment)
        reasons.append(f"{candidate}: {reason}")
    if name == "auto":
        raise UserError(
            "no isolating sandbox is available (" + "; ".join(reasons) + ")",
            field="sandbox",
            hint="install bubblewrap (`apt-get install bubblewrap`, `dnf install bubblewrap`) "
            "or Docker with the image (`docker build -t crew-sandbox:latest .`); or pass "
            "`--sandbox local` to run commands on this machine without isolation, knowingly",
        )
    raise UserError(f"sandbox {name!r} is not available: {reason}", field="sandbox")


def _make(
    name: str, limits: SandboxLimits | None, image: str | None, extra: Sequence[Path],
    protected: Sequence[str] | None, environment: SandboxEnvironment | None = None,
) -> SandboxBackend:
    from crew.tools.sandbox.masks import DEFAULT_PROTECTED

    prot = tuple(protected) if protected is not None else DEFAULT_PROTECTED
    if name == "docker":
        from crew.tools.sandbox.docker import DockerSandbox

        return DockerSandbox(limits, image=image, protected=prot, environment=environment)
    if name == "bwrap":
        from crew.tools.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox(limits, extra_ro_binds=extra, protected=prot,
                            environment=environment)
    from crew.tools.sandbox.local import LocalSandbox

    return LocalSandbox(limits, protected=prot, environment=environment)
