"""Compose v2 through python-on-whales (imported lazily): the client on a project's files, the
mapping of a failed compose call to a domain error (Compose's own causes first, then
whales_error's), and the check that Compose is there."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from svcctl.docker.whales import failure_output, whales_error
from svcctl.errors import ConflictError, DockerUnavailableError, NotFoundError, SvcctlError

T = TypeVar("T")

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from svcctl.config.engines import EngineEndpoint


def whales_compose(
    files: list[Path], project: str, directory: Path, env_file: Path, engine: EngineEndpoint
) -> DockerClient:
    """python-on-whales' Compose on these files as one project, on `engine` (its host and TLS
    material given as the docker CLI's options)."""
    from python_on_whales import DockerClient

    return DockerClient(
        **engine.whales_options(),
        compose_files=[str(p) for p in files],
        compose_project_name=project,
        compose_project_directory=str(directory),
        compose_env_files=[str(env_file)],
    )


def compose_error(exc: Exception, action: str) -> SvcctlError:
    """Map a failed compose call to a domain error naming the cause."""
    text = failure_output(exc) or str(exc)
    lowered = text.lower()
    if "address already in use" in lowered or "port is already allocated" in lowered:
        return ConflictError(
            f"{action} failed: a published port is in use", "free the port or set SVCCTL_ZK_PORTS", details=text.strip()
        )
    if "docker compose" in lowered and "is not a docker command" in lowered or "unknown command" in lowered:
        return DockerUnavailableError("Docker Compose v2 is not installed", "run `svcctl doctor --fix`")
    if "cannot connect to the docker daemon" in lowered:
        return DockerUnavailableError("no Docker engine answers", "run `svcctl doctor --fix`")
    if "no such image" in lowered or "pull access denied" in lowered or "image" in lowered and "not found" in lowered:
        return NotFoundError(
            f"{action} failed: an image is missing", "build the images with `svcctl build`", details=text.strip()
        )
    return whales_error(exc, action, "see `docker compose logs` for the failing service", details=True)


def run_compose(action: str, call: Callable[[], T]) -> T:
    """The one way a Compose command runs: Compose checked (once per process), `call` run, and
    a failed compose call mapped by compose_error to a domain error naming `action`."""
    from python_on_whales.exceptions import DockerException

    require_compose()
    try:
        return call()
    except DockerException as exc:
        raise compose_error(exc, action) from exc


@functools.cache  # a success only: a failure raises, and is asked again next time
def require_compose() -> None:
    from svcctl.docker.engine import run_docker_cli

    proc = run_docker_cli(["compose", "version", "--short"], None)
    if proc.returncode != 0:
        raise DockerUnavailableError(
            "Docker Compose v2 is not installed (`docker compose` fails)", "run `svcctl doctor --fix`"
        )
