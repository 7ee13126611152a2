"""The Docker engine side: a client (docker SDK, imported lazily) and engine facts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, MutableMapping
from urllib.parse import urlsplit

from svcctl.errors import DockerUnavailableError

if TYPE_CHECKING:
    import docker

ENGINE_FIX = "start an engine: `svcctl doctor --fix` (root on Debian/Ubuntu) or `sudo systemctl start docker`"
MIN_API_VERSION = "1.41"
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")  # Docker's DOCKER_CERT_PATH names


def engine_address() -> str:
    # Docker's own variable, read as the docker SDK and CLI read it (select_engine sets it for --context).
    return os.environ.get("DOCKER_HOST", DEFAULT_ENGINE)


def docker_client(timeout: int = 30) -> "docker.DockerClient":
    """A connected docker SDK client; raises DockerUnavailableError when no engine answers."""
    import docker
    import docker.errors
    import docker.utils

    try:
        kwargs = docker.utils.kwargs_from_env()
        tls = kwargs.get("tls")
        if tls and tls.verify and tls.cert and tls.ca_cert:  # DOCKER_TLS_VERIFY: a context's or the user's own TLS engine
            kwargs["tls"] = engine_tls(tls.ca_cert, *tls.cert)
        client = docker.DockerClient(timeout=timeout, **kwargs)
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


# --- which engine: Docker contexts and DOCKER_HOST, by Docker's own precedence ------------------


@dataclass(frozen=True)
class EngineEndpoint:
    host: str  # unix:///var/run/docker.sock, tcp://ADDR:2375, ...
    context: str | None = None  # the Docker context it came from; None: DOCKER_HOST or the default
    tls_dir: str | None = None  # the context's TLS material (ca.pem, cert.pem, key.pem), if any

    def tls_files(self) -> tuple[str, str, str] | None:
        """(ca.pem, cert.pem, key.pem) of a TLS-verified endpoint, None for a plain one."""
        if not self.tls_dir:
            return None
        return tuple(str(Path(self.tls_dir) / name) for name in TLS_FILES)  # type: ignore[return-value]

    def cli_options(self) -> list[str]:
        """The docker CLI's global options that reach this engine (its TLS material included)."""
        files = self.tls_files()
        tls = ["--tlsverify", "--tlscacert", files[0], "--tlscert", files[1], "--tlskey", files[2]] if files else []
        return ["--host", self.host, *tls]

    def whales_options(self) -> dict:
        """python-on-whales' DockerClient arguments that reach this engine."""
        files = self.tls_files()
        if not files:
            return {"host": self.host}
        return {"host": self.host, "tlsverify": True, "tlscacert": files[0], "tlscert": files[1], "tlskey": files[2]}

    @property
    def address(self) -> str:
        """Where this engine's published ports are reached from here: the TCP endpoint's
        address, loopback for a local socket."""
        if not self.host.startswith(("tcp://", "http://", "https://")):
            return "127.0.0.1"
        hostname = urlsplit(self.host).hostname or "127.0.0.1"
        try:
            return socket.gethostbyname(hostname)
        except OSError:
            return hostname


def _docker_config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _current_context_name(env: Mapping[str, str]) -> str | None:
    """The docker CLI's `currentContext` (~/.docker/config.json or $DOCKER_CONFIG), read as JSON."""
    try:
        return json.loads((_docker_config_dir(env) / "config.json").read_text()).get("currentContext") or None
    except (OSError, ValueError, AttributeError):
        return None


def context_endpoint(name: str, env: Mapping[str, str]) -> EngineEndpoint:
    """A Docker context's engine endpoint, read from the docker CLI's context store
    (contexts/meta/<sha256 of the name>/meta.json; TLS material under contexts/tls/). The docker
    SDK's own reader loses the store when ~/.docker/config.json does not exist."""
    import hashlib

    from svcctl.errors import NotFoundError

    store = _docker_config_dir(env) / "contexts"
    digest = hashlib.sha256(name.encode()).hexdigest()
    try:
        meta = json.loads((store / "meta" / digest / "meta.json").read_text())
        host = meta["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise NotFoundError(f"Docker context {name!r} does not exist", "list them with `docker context ls`; `svcctl hosts up` creates the simulated hosts' contexts") from None
    tls_dir = store / "tls" / digest / "docker"
    return EngineEndpoint(host, name, str(tls_dir) if (tls_dir / "ca.pem").is_file() else None)


def resolve_engine(context: str | None, env: Mapping[str, str]) -> EngineEndpoint:
    """Docker's precedence: --context, then DOCKER_HOST, then DOCKER_CONTEXT, then the CLI's
    current context, then the local socket. The context store is read only when one is named.
    `env` holds Docker's variables as Settings read them (Settings.docker_env())."""
    if not context and env.get("DOCKER_HOST"):
        return EngineEndpoint(env["DOCKER_HOST"])
    name = context or env.get("DOCKER_CONTEXT") or _current_context_name(env)
    if not name or name == "default":
        return EngineEndpoint(env.get("DOCKER_HOST") or DEFAULT_ENGINE)
    return context_endpoint(name, env)


def select_engine(context: str | None, env: MutableMapping[str, str], target: MutableMapping[str, str] | None = None) -> EngineEndpoint:
    """Make the chosen engine this process's engine: the docker SDK (from_env) and every docker
    and compose command it runs follow DOCKER_HOST, so a context is turned into one. Reads
    Docker's variables from `env`, writes them to `target` (default: `env`; the CLI passes the
    process environment, which its children inherit)."""
    endpoint = resolve_engine(context, env)
    target = env if target is None else target
    if endpoint.context:
        target["DOCKER_HOST"] = endpoint.host
        target.pop("DOCKER_CONTEXT", None)
        if endpoint.tls_dir:
            target["DOCKER_TLS_VERIFY"], target["DOCKER_CERT_PATH"] = "1", endpoint.tls_dir
        else:
            target.pop("DOCKER_TLS_VERIFY", None)
            target.pop("DOCKER_CERT_PATH", None)
    return endpoint


def engine_tls(ca: str, cert: str, key: str) -> "docker.tls.TLSConfig":
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


def client_for(endpoint: EngineEndpoint, timeout: int = 30) -> "docker.DockerClient":
    """A client of one given engine (a simulated host), whatever this process's engine is, with
    the endpoint's TLS material when it has some; raises DockerUnavailableError when it does not
    answer (a certificate it refuses included)."""
    import docker
    import docker.errors

    files = endpoint.tls_files()
    missing = [f for f in files or () if not Path(f).is_file()]
    if missing:
        from svcctl.errors import NotFoundError

        raise NotFoundError(f"the TLS material of the engine at {endpoint.host} is missing ({missing[0]})",
                            "run `svcctl hosts up` (it issues the simulated hosts' engine certificates again)")
    tls = engine_tls(*files) if files else None
    try:
        client = docker.DockerClient(base_url=endpoint.host, timeout=timeout, tls=tls or False)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise DockerUnavailableError(f"no Docker engine answers at {endpoint.host}", "is the host up? `svcctl hosts ls`") from exc
    return client
