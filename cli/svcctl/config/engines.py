"""Which Docker engine a command talks to, by Docker's own precedence (--context, DOCKER_HOST,
DOCKER_CONTEXT, the CLI's current context, the local socket): the endpoint as a value, read from
the docker CLI's context store. No Docker client here: svcctl.docker.engine connects to it."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")  # Docker's DOCKER_CERT_PATH names


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

    def whales_options(self) -> dict:
        """python-on-whales' DockerClient arguments that reach this engine (it gives them to the
        docker CLI as `--host`, `--tlscacert`, `--tlscert`, `--tlskey`, `--tlsverify`)."""
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
        raise NotFoundError(
            f"Docker context {name!r} does not exist",
            "list them with `docker context ls`; `svcctl hosts up` creates the simulated hosts' contexts",
        ) from None
    tls_dir = store / "tls" / digest / "docker"
    return EngineEndpoint(host, name, str(tls_dir) if (tls_dir / "ca.pem").is_file() else None)


def _docker_host_tls_dir(env: Mapping[str, str]) -> str | None:
    """A DOCKER_HOST that verifies TLS (DOCKER_TLS_VERIFY non-empty, as the docker CLI and SDK
    read it): its material in DOCKER_CERT_PATH, else ~/.docker."""
    if not env.get("DOCKER_TLS_VERIFY"):
        return None
    return env.get("DOCKER_CERT_PATH") or str(Path.home() / ".docker")


def resolve_engine(context: str | None, env: Mapping[str, str]) -> EngineEndpoint:
    """Docker's precedence: --context, then DOCKER_HOST, then DOCKER_CONTEXT, then the CLI's
    current context, then the local socket. The context store is read only when one is named.
    `env` holds Docker's variables as Settings read them (Settings.docker_env())."""
    if not context and env.get("DOCKER_HOST"):
        return EngineEndpoint(env["DOCKER_HOST"], tls_dir=_docker_host_tls_dir(env))
    name = context or env.get("DOCKER_CONTEXT") or _current_context_name(env)
    if not name or name == "default":
        return EngineEndpoint(env.get("DOCKER_HOST") or DEFAULT_ENGINE)
    return context_endpoint(name, env)


def cli_environment(endpoint: EngineEndpoint, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of a docker or Compose child process that is to reach `endpoint`: `base`
    (the parent's own), with an engine chosen by a context turned into DOCKER_HOST (and the
    context's TLS material into DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), since the child would
    otherwise choose by its own precedence. An engine chosen by DOCKER_HOST is the child's
    choice too: `base` is left as it is."""
    env = dict(base)
    if endpoint.context:
        env["DOCKER_HOST"] = endpoint.host
        env.pop("DOCKER_CONTEXT", None)
        if endpoint.tls_dir:
            env["DOCKER_TLS_VERIFY"], env["DOCKER_CERT_PATH"] = "1", endpoint.tls_dir
        else:
            env.pop("DOCKER_TLS_VERIFY", None)
            env.pop("DOCKER_CERT_PATH", None)
    return env
