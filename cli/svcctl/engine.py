"""The Docker engine side: a client (docker SDK, imported lazily) and engine facts."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from .errors import DockerUnavailableError

if TYPE_CHECKING:
    import docker

ENGINE_FIX = "start an engine: `svcctl doctor --fix` (root on Debian/Ubuntu) or `sudo systemctl start docker`"
MIN_API_VERSION = "1.41"


def engine_address() -> str:
    # Docker's own variable, read as the docker SDK and CLI read it.
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker_client(timeout: int = 30) -> "docker.DockerClient":
    """A connected docker SDK client; raises DockerUnavailableError when no engine answers."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise DockerUnavailableError(f"no Docker engine answers at {engine_address()}", ENGINE_FIX) from exc
    return client


def run_docker_cli(args: list[str], timeout: float = 15.0, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    """The one runner of the docker CLI; returns the completed process (check returncode
    yourself). No docker command is DockerUnavailableError; a hang past `timeout` is
    subprocess.TimeoutExpired."""
    if shutil.which("docker") is None:
        raise DockerUnavailableError("the docker command is not installed", "install Debian's docker.io, or run `svcctl doctor --fix`")
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=stdin)


def api_version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def engine_id(client: "docker.DockerClient") -> str:
    """The engine's stable ID (`docker info` .ID); the registrators elect one writer per engine."""
    return str(client.info().get("ID") or client.info().get("Name"))
