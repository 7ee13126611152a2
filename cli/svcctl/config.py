"""Settings and the parsing of connection strings; pure logic, no I/O beyond the filesystem."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BadInputError, NotFoundError

if TYPE_CHECKING:
    from .zk.tls import ZkTls

DEFAULT_PROJECT = "svcctl"
DEFAULT_ZK_PORTS = (2181, 2182, 2183)
DEFAULT_ZK_IMAGE = "svcctl/zookeeper:3.8"
DEFAULT_REGISTRATOR_IMAGE = "svcctl/registrator:0.1"
DEFAULT_DOCKER_PROXY_IMAGE = "svcctl/docker-proxy:0.1"
DEFAULT_BASE = "/services"
ZK_CONNECT_HINT = "use HOST:PORT[,HOST:PORT...], e.g. 127.0.0.1:2181,127.0.0.1:2182"

_HOST_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)$")


@dataclass(frozen=True)
class ZkHost:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_zk_hosts(text: str) -> list[ZkHost]:
    """Parse a ZooKeeper connection string `HOST:PORT[,HOST:PORT...]` (no chroot)."""
    if not text or not text.strip():
        raise BadInputError("empty ZooKeeper connection string", ZK_CONNECT_HINT)
    hosts: list[ZkHost] = []
    for raw in text.split(","):
        item = raw.strip()
        if "/" in item:
            raise BadInputError(f"bad ZooKeeper address {item!r}: a path is not allowed here", ZK_CONNECT_HINT)
        host, sep, port_text = item.rpartition(":")
        if not sep:
            host, port_text = item, "2181"
        if not host or not _HOST_RE.match(host):
            raise BadInputError(f"bad ZooKeeper address {item!r}: bad host", ZK_CONNECT_HINT)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BadInputError(f"bad ZooKeeper address {item!r}: port must be 1-65535", ZK_CONNECT_HINT)
        hosts.append(ZkHost(host.strip("[]") if host.startswith("[") else host, int(port_text)))
    return hosts


def format_zk_hosts(hosts: list[ZkHost]) -> str:
    return ",".join(str(h) for h in hosts)


@dataclass(frozen=True)
class RegistryUri:
    """`zookeeper://HOST:PORT[,HOST:PORT...]/BASE`, registrator's backend URI with a host list."""

    hosts: list[ZkHost]
    base: str

    def connect_string(self) -> str:
        return format_zk_hosts(self.hosts)


def parse_registry_uri(text: str) -> RegistryUri:
    hint = "use zookeeper://HOST:PORT[,HOST:PORT...]/BASE, e.g. zookeeper://127.0.0.1:2181/services"
    scheme, sep, rest = text.partition("://")
    if not sep or scheme != "zookeeper":
        raise BadInputError(f"bad registry URI {text!r}: scheme must be zookeeper://", hint)
    hosts_text, slash, base = rest.partition("/")
    base = "/" + base.strip("/") if slash and base.strip("/") else DEFAULT_BASE
    return RegistryUri(parse_zk_hosts(hosts_text), base)


def zk_ports_from_env(env: dict[str, str] | None = None) -> tuple[int, int, int]:
    env = os.environ if env is None else env
    text = env.get("SVCCTL_ZK_PORTS", "")
    if not text:
        return DEFAULT_ZK_PORTS
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(p.isdigit() and 0 < int(p) < 65536 for p in parts):
        raise BadInputError(f"bad SVCCTL_ZK_PORTS {text!r}", "give three ports, e.g. 2181,2182,2183")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def default_zk_connect(env: dict[str, str] | None = None) -> str:
    return ",".join(f"127.0.0.1:{p}" for p in zk_ports_from_env(env))


def render_zoo_servers(count: int, client_port: int = 2181, name: str = "zoo{}") -> str:
    """The official image's ZOO_SERVERS value: `server.N=host:2888:3888;clientPort`, space separated."""
    if count < 1:
        raise BadInputError("an ensemble needs at least one server", "give a count of 1 or more")
    return " ".join(f"server.{i}={name.format(i)}:2888:3888;{client_port}" for i in range(1, count + 1))


def _looks_like_project(path: Path) -> bool:
    return (path / "compose" / "zookeeper.yml").is_file()


def find_project_dir(explicit: str | None = None, cwd: Path | None = None) -> Path:
    """Where the compose files and Dockerfiles are: --project-dir, SVCCTL_PROJECT_DIR, the
    current directory or one of its parents, or the checkout this package was loaded from."""
    chosen = explicit or os.environ.get("SVCCTL_PROJECT_DIR")
    if chosen:
        path = Path(chosen).expanduser().resolve()
        if not _looks_like_project(path):
            raise NotFoundError(
                f"{path} is not an svcctl project directory (no compose/zookeeper.yml)",
                "point --project-dir or SVCCTL_PROJECT_DIR at a checkout of svcctl",
            )
        return path
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents, *Path(__file__).resolve().parents):
        if _looks_like_project(candidate):
            return candidate
    raise NotFoundError(
        "cannot find the svcctl project directory (compose/, images/, services/)",
        "run from a checkout, or pass --project-dir / set SVCCTL_PROJECT_DIR",
    )


@dataclass
class Settings:
    """What every command may need; built once by the CLI's callback."""

    zk: str = field(default_factory=default_zk_connect)
    project_dir: str | None = None
    project: str = field(default_factory=lambda: os.environ.get("SVCCTL_PROJECT", DEFAULT_PROJECT))
    # TLS with a foreign secured ensemble (--zk-ca/--zk-cert/--zk-key); a project's own secured
    # cluster needs none of them (its PKI is found under .svcctl/pki/).
    zk_ca: str | None = field(default_factory=lambda: os.environ.get("SVCCTL_ZK_CA") or None)
    zk_cert: str | None = field(default_factory=lambda: os.environ.get("SVCCTL_ZK_CERT") or None)
    zk_key: str | None = field(default_factory=lambda: os.environ.get("SVCCTL_ZK_KEY") or None)

    @property
    def zk_hosts(self) -> list[ZkHost]:
        """Where clients connect (--zk): any members, in any order, even a remote ensemble."""
        return parse_zk_hosts(self.zk)

    @property
    def ensemble_hosts(self) -> list[ZkHost]:
        """The members this project's Compose runs, zoo1..zoo3 in order (SVCCTL_ZK_PORTS on
        loopback): what `cluster` checks and what the registrators are given, whatever --zk says."""
        return parse_zk_hosts(default_zk_connect())

    def project_path(self) -> Path:
        return find_project_dir(self.project_dir)

    @property
    def zk_tls(self) -> "ZkTls | None":
        """The TLS of this client's sessions (None: plain); see svcctl.security.client_tls.
        Not cached: `cluster up --secure` changes the answer during a run (demo)."""
        from .security import client_tls

        return client_tls(self)


def parse_ip(value: str, option: str) -> str:
    """An address to advertise in registrations: it becomes part of a znode name, so it must be a
    plain IPv4/IPv6 address (a `/` would nest nodes)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise BadInputError(f"{option} {value!r} is not an IP address", f"e.g. {option} 127.0.0.1") from None


def registrator_image() -> str:
    """The registrators' image: what `svcctl build registrator` tags and compose runs."""
    return os.environ.get("SVCCTL_REGISTRATOR_IMAGE") or DEFAULT_REGISTRATOR_IMAGE


def zk_image() -> str:
    """The members' image: what `svcctl build zookeeper` tags and compose runs."""
    return os.environ.get("SVCCTL_ZK_IMAGE") or DEFAULT_ZK_IMAGE


def docker_proxy_image() -> str:
    """The registrators' read-only Docker API proxy (secure mode): what `svcctl build
    docker-proxy` tags and compose/secure.yml runs."""
    return os.environ.get("SVCCTL_DOCKER_PROXY_IMAGE") or DEFAULT_DOCKER_PROXY_IMAGE
