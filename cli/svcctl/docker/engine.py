"""The Docker engine side: a client (docker SDK, imported lazily) and engine facts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.config.engines import EngineEndpoint, cli_environment
from svcctl.errors import DockerUnavailableError

if TYPE_CHECKING:
    import docker

ENGINE_FIX = "start an engine: `svcctl doctor --fix` (root on Debian/Ubuntu) or `sudo systemctl start docker`"
MIN_API_VERSION = "1.41"


def docker_client(engine: EngineEndpoint, timeout: int = 30) -> docker.DockerClient:
    """A connected docker SDK client of this command's engine (Settings.engine); raises
    DockerUnavailableError when no engine answers there."""
    return _connect(engine, timeout, ENGINE_FIX)


def run_docker_cli(
    args: list[str], engine: EngineEndpoint | None, timeout: float = 15.0, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    """The one runner of the docker CLI, on `engine` (None: a command that reaches no engine,
    such as `compose version`); returns the completed process (check returncode yourself). No
    docker command is DockerUnavailableError; a hang past `timeout` is subprocess.TimeoutExpired."""
    if shutil.which("docker") is None:
        raise no_docker_cli()
    env = cli_environment(engine, os.environ) if engine is not None else None
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=stdin, env=env)


def no_docker_cli() -> DockerUnavailableError:
    return DockerUnavailableError(
        "the docker command is not installed", "install Debian's docker.io, or run `svcctl doctor --fix`"
    )


def api_version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def engine_id(client: docker.DockerClient) -> str:
    """The engine's stable ID (`docker info` .ID); the registrators elect one writer per engine."""
    facts = client.info()
    return str(facts.get("ID") or facts.get("Name"))


def engine_tls(ca: str, cert: str, key: str) -> docker.tls.TLSConfig:
    """The docker SDK's TLS settings for an engine that verifies clients, checked against the
    engine's own CA. requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE override a session's CA
    (psf/requests#3829): with either set — Debian images, most corporate proxies — the engine's
    certificate would be checked against the system bundle and refused. So the session ignores
    the environment; an engine that verifies clients is reached directly, never through a proxy."""
    import docker.tls

    class EngineTLSConfig(docker.tls.TLSConfig):
        def configure_client(self, client) -> None:  # type: ignore[no-untyped-def]
            super().configure_client(client)
            client.trust_env = False

    return EngineTLSConfig(client_cert=(cert, key), ca_cert=ca, verify=True)


def client_for(endpoint: EngineEndpoint, timeout: int = 30) -> docker.DockerClient:
    """A client of one given engine (a simulated host), whatever this command's engine is;
    raises DockerUnavailableError when it does not answer (a certificate it refuses included)."""
    return _connect(endpoint, timeout, "is the host up? `svcctl hosts ls`")


def _connect(endpoint: EngineEndpoint, timeout: int, fix: str) -> docker.DockerClient:
    """A docker SDK client of `endpoint`, with its TLS material when it has some, that answered
    a ping."""
    import docker
    import docker.errors

    files = endpoint.tls_files()
    missing = [f for f in files or () if not Path(f).is_file()]
    if missing:
        from svcctl.errors import NotFoundError

        where = (
            "run `svcctl hosts up` (it issues the simulated hosts' engine certificates again)"
            if endpoint.context
            else "put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH, or unset DOCKER_TLS_VERIFY"
        )
        raise NotFoundError(f"the TLS material of the engine at {endpoint.host} is missing ({missing[0]})", where)
    tls = engine_tls(*files) if files else None
    try:
        client = docker.DockerClient(base_url=endpoint.host, timeout=timeout, tls=tls or False)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise DockerUnavailableError(f"no Docker engine answers at {endpoint.host}", fix) from exc
    return client


def running_container_ids(engine: EngineEndpoint) -> tuple[list[str], str]:
    """The full ids of what runs on this engine, and the engine's id (zk prune's container rule).
    DockerUnavailableError when the engine does not answer."""
    import docker.errors
    import requests

    client = docker_client(engine)
    try:
        # One list call, no inspect per container: the container rule only judges payloads
        # stamped with this engine's id, and those carry the full container id.
        running = client.api.containers(quiet=True)
        return [c["Id"] for c in running], engine_id(client)
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise DockerUnavailableError(
            f"the Docker engine at {engine.host} failed to list containers ({type(exc).__name__})", ENGINE_FIX
        ) from exc
