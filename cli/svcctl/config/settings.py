"""Settings and the parsing of connection strings; pure logic, no I/O beyond the filesystem."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svcctl.config.engines import EngineEndpoint, resolve_engine
from svcctl.errors import BadInputError, NotFoundError

if TYPE_CHECKING:
    from svcctl.config.layout import ClusterLayout

DEFAULT_PROJECT = "svcctl"
DEFAULT_ZK_PORTS = (2181, 2182, 2183)
# A named project's members, without SVCCTL_ZK_PORTS: one of these triples of adjacent ports,
# 16200-19997: below 32768 (where Linux starts handing out ports to outgoing connections), clear
# of well-known services' ports and of those the tests choose (12181-16183, 20000-31999).
NAMED_PROJECT_ZK_PORTS_FIRST = 16200
NAMED_PROJECT_ZK_PORT_TRIPLES = (19998 - NAMED_PROJECT_ZK_PORTS_FIRST) // 3
DEFAULT_ZK_IMAGE = "svcctl/zookeeper:3.8"
DEFAULT_REGISTRATOR_IMAGE = "svcctl/registrator:0.1"
DEFAULT_GATEWAY_IMAGE = "svcctl/gateway:0.1"
DEFAULT_DIND_IMAGE = "svcctl/dind:0.2"  # 0.2: the engine on TLS 2376 (0.1 was plain TCP 2375)
DEFAULT_DOCKER_PROXY_IMAGE = "svcctl/docker-proxy:0.1"
DEFAULT_PROMETHEUS_IMAGE = "svcctl/prometheus:2.42"
REGISTRATOR_METRICS_PORT_OFFSET = 7000  # 2181..2183 → 9181..9183
DEFAULT_BASE = "/services"
DEFAULT_DOCKERD_LOG = "/var/log/svcctl-dockerd.log"
DEFAULT_CONTAINER_UID = 10001  # who the secured containers run as (and own their keys) when svcctl runs as root
DEFAULT_ZK_CONNECT = ",".join(f"127.0.0.1:{p}" for p in DEFAULT_ZK_PORTS)
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


def project_zk_ports(project: str) -> tuple[int, int, int]:
    """The client ports of a project's members when SVCCTL_ZK_PORTS does not give them: the
    classic 2181-2183 for the default project; for another, three adjacent ports derived from
    its name (the same on every run and machine), so a second stack on the engine neither
    collides with the default one nor is mistaken for it. Two names may share a triple (1 in
    1266): `cluster up` then says the port is in use, and SVCCTL_ZK_PORTS chooses others."""
    if project == DEFAULT_PROJECT:
        return DEFAULT_ZK_PORTS
    first = NAMED_PROJECT_ZK_PORTS_FIRST + zlib.crc32(project.encode()) % NAMED_PROJECT_ZK_PORT_TRIPLES * 3
    return (first, first + 1, first + 2)


def zk_ports_from_env(env: Mapping[str, str] | None = None, project: str | None = None) -> tuple[int, int, int]:
    """SVCCTL_ZK_PORTS, else the project's own (project_zk_ports; `project` left out: the
    environment's SVCCTL_PROJECT)."""
    env = _env(env)
    text = env.get("SVCCTL_ZK_PORTS", "")
    if not text:
        return project_zk_ports(project or env.get("SVCCTL_PROJECT") or DEFAULT_PROJECT)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(p.isdigit() and 0 < int(p) < 65536 for p in parts):
        raise BadInputError(f"bad SVCCTL_ZK_PORTS {text!r}", "give three ports, e.g. 2181,2182,2183")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def container_uid_from_env(env: Mapping[str, str] | None = None) -> int:
    text = _env(env).get("SVCCTL_CONTAINER_UID", "").strip()
    if not text:
        return DEFAULT_CONTAINER_UID
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise BadInputError(
            f"bad SVCCTL_CONTAINER_UID {text!r}", "give a numeric uid other than 0 that no host account has, e.g. 10001"
        )
    return int(text)


def default_zk_connect(env: Mapping[str, str] | None = None, project: str | None = None) -> str:
    return ",".join(f"127.0.0.1:{p}" for p in zk_ports_from_env(env, project))


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    # The one place svcctl reads its settings from the process environment.
    return os.environ if env is None else env


# --- the project directory and the state directory -----------------------------------------

# What the commands need at run time besides the package: shipped inside the wheel under
# svcctl/_project (setup.py copies them there), found in place in a checkout.
PROJECT_PARTS = ("compose", "images", "services")
INSTALLED_PROJECT = Path(__file__).resolve().parents[1] / "_project"


def _looks_like_project(path: Path) -> bool:
    return (path / "compose" / "zookeeper.yml").is_file()


def is_checkout(project_dir: Path) -> bool:
    """A source checkout (it holds the package's sources), as opposed to the copy in a wheel."""
    return (project_dir / "cli" / "svcctl").is_dir() and (project_dir / "pyproject.toml").is_file()


def find_project_dir(explicit: str | None = None, cwd: Path | None = None) -> Path:
    """Where the compose files and Dockerfiles are: --project-dir (or SVCCTL_PROJECT_DIR), the
    checkout holding the current directory, the checkout this package runs from (an editable
    install), else the copy installed with the package."""
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if not _looks_like_project(path):
            raise NotFoundError(
                f"{path} is not an svcctl project directory (no compose/zookeeper.yml)",
                "point --project-dir or SVCCTL_PROJECT_DIR at a checkout of svcctl, "
                "or unset it to use the installed copy",
            )
        return path
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if _looks_like_project(candidate) and is_checkout(candidate):
            return candidate
    for candidate in (*Path(__file__).resolve().parents, INSTALLED_PROJECT):
        if _looks_like_project(candidate):
            return candidate
    raise NotFoundError(
        "cannot find the svcctl project directory (compose/, images/, services/)",
        "reinstall svcctl from its wheel, run from a checkout, or pass --project-dir / set SVCCTL_PROJECT_DIR",
    )


def state_dir(project_dir: Path, project: str, env: Mapping[str, str] | None = None) -> Path:
    """Where a run keeps what it writes (generated build contexts, the Compose env file, PKI…):
    `.svcctl/` in a checkout, `$XDG_STATE_HOME/svcctl/<project>` for an installed copy (never
    inside site-packages)."""
    if is_checkout(project_dir):
        return project_dir / ".svcctl"
    values = _env(env)
    root = values.get("XDG_STATE_HOME") or str(Path(values.get("HOME") or Path.home()) / ".local" / "state")
    return Path(root) / "svcctl" / project


@dataclass(frozen=True)
class Settings:
    """Every setting svcctl takes from the environment, read once: the CLI's callback builds one
    from a snapshot of the environment (from_environ; its options win over the variables) and
    hands it to every command. Never changed afterwards: what needs another one (a layout just
    recorded, another --context) makes a new one (dataclasses.replace, for_context). Built
    directly, the fields left out take svcctl's defaults, not the environment's."""

    zk: str = DEFAULT_ZK_CONNECT
    project_dir: str | None = None
    project: str = DEFAULT_PROJECT
    zk_ports: tuple[int, int, int] = DEFAULT_ZK_PORTS
    zk_image: str = DEFAULT_ZK_IMAGE
    registrator_image: str = DEFAULT_REGISTRATOR_IMAGE
    base_image: str | None = None
    debian_mirror: str | None = None
    dockerd_log: str = DEFAULT_DOCKERD_LOG
    # Which engine (Docker's precedence: --context, DOCKER_HOST, DOCKER_CONTEXT, the CLI's current
    # context): Docker's own variables, read here like the others, and the engine they choose.
    context: str | None = None  # --context
    docker_host: str | None = None
    docker_context: str | None = None
    docker_config: str | None = None
    docker_tls_verify: str | None = None  # DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: a DOCKER_HOST that verifies
    docker_cert_path: str | None = None
    # The engine the docker SDK, the docker CLI and Compose talk to: left out, resolved from the
    # fields above when the Settings is made (for_context makes one for another context).
    engine: EngineEndpoint = None  # type: ignore[assignment]
    layout: ClusterLayout | None = None  # a cluster over Docker hosts (`cluster up --hosts`)
    hosts_tmp: str = "/var/tmp"  # image tarballs for `hosts up`
    # TLS with a foreign secured ensemble (--zk-ca/--zk-cert/--zk-key); a project's own secured
    # cluster needs none of them (its PKI is found under the state directory's pki/).
    zk_ca: str | None = None
    zk_cert: str | None = None
    zk_key: str | None = None
    # Run as root, svcctl hands the keys the secured containers read to this uid (and gid).
    container_uid: int = DEFAULT_CONTAINER_UID

    def __post_init__(self) -> None:
        if not self.project.replace("-", "").replace("_", "").isalnum() or self.project != self.project.lower():
            raise BadInputError(
                f"bad project name {self.project!r}",
                "use lowercase letters, digits, - and _, e.g. --project svcctl-dev",
            )
        if self.engine is None:
            object.__setattr__(self, "engine", resolve_engine(self.context, self.docker_env()))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """The settings `environ` gives (SVCCTL_* and Docker's own variables), `overrides` (the
        CLI's options, by field name) winning over them. Reads `environ` only. The members'
        ports (and so the default --zk) follow the project, whichever of the two names it."""
        project = overrides.get("project") or environ.get("SVCCTL_PROJECT") or DEFAULT_PROJECT
        values: dict[str, Any] = {
            "zk": environ.get("SVCCTL_ZK") or default_zk_connect(environ, project),
            "project_dir": environ.get("SVCCTL_PROJECT_DIR") or None,
            "project": project,
            "zk_ports": zk_ports_from_env(environ, project),
            "zk_image": zk_image(environ),
            "registrator_image": registrator_image(environ),
            "base_image": environ.get("SVCCTL_BASE_IMAGE") or None,
            "debian_mirror": environ.get("SVCCTL_DEBIAN_MIRROR") or None,
            "dockerd_log": environ.get("SVCCTL_DOCKERD_LOG") or DEFAULT_DOCKERD_LOG,
            "docker_host": environ.get("DOCKER_HOST") or None,
            "docker_context": environ.get("DOCKER_CONTEXT") or None,
            "docker_config": environ.get("DOCKER_CONFIG") or None,
            "docker_tls_verify": environ.get("DOCKER_TLS_VERIFY") or None,
            "docker_cert_path": environ.get("DOCKER_CERT_PATH") or None,
            "hosts_tmp": environ.get("SVCCTL_HOSTS_TMP") or "/var/tmp",
            "zk_ca": environ.get("SVCCTL_ZK_CA") or None,
            "zk_cert": environ.get("SVCCTL_ZK_CERT") or None,
            "zk_key": environ.get("SVCCTL_ZK_KEY") or None,
            "container_uid": container_uid_from_env(environ),
        }
        return cls(**{**values, **overrides})

    def for_context(self, context: str | None) -> Settings:
        """These settings on the engine of Docker context `context` (as --context would)."""
        return replace(self, context=context, engine=resolve_engine(context, self.docker_env()))

    @property
    def zk_hosts(self) -> list[ZkHost]:
        """Where clients connect (--zk): any members, in any order, even a remote ensemble."""
        return parse_zk_hosts(self.zk)

    @property
    def ensemble_connect(self) -> str:
        """This project's members zoo1..zoo3 on loopback (or over the recorded hosts), as a
        connection string."""
        if self.layout is not None:
            return self.layout.connect_string()
        return ",".join(f"127.0.0.1:{p}" for p in self.zk_ports)

    @property
    def registrator_metrics_ports(self) -> tuple[int, int, int]:
        """Where registrator i serves its metrics on loopback: member i's client port +
        REGISTRATOR_METRICS_PORT_OFFSET, so that two projects' ports never collide."""
        return tuple(p + REGISTRATOR_METRICS_PORT_OFFSET for p in self.zk_ports)  # type: ignore[return-value]

    @property
    def zk_exporter_port(self) -> int:
        """Where `svcctl metrics up`'s ZooKeeper exporter serves, on loopback: after the
        registrators' (9184 by default)."""
        return self.zk_ports[2] + REGISTRATOR_METRICS_PORT_OFFSET + 1

    @property
    def ensemble_hosts(self) -> list[ZkHost]:
        """The members this project's Compose runs, zoo1..zoo3 in order (SVCCTL_ZK_PORTS, else
        project_zk_ports, on loopback), or the recorded cluster over hosts: what `cluster` checks and what the
        registrators are given, whatever --zk says."""
        return parse_zk_hosts(self.ensemble_connect)

    def command(self, words: str) -> str:
        """`svcctl WORDS` acting on this project, as a fix to paste: a named project's
        `--project NAME` spelled out (whether it came from --project or SVCCTL_PROJECT)."""
        return f"svcctl {words}" if self.project == DEFAULT_PROJECT else f"svcctl --project {self.project} {words}"

    def project_path(self) -> Path:
        return find_project_dir(self.project_dir)

    def state_path(self, create: bool = True) -> Path:
        """The state directory of this project (created on first use unless `create` is False)."""
        path = state_dir(self.project_path(), self.project)
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def docker_env(self) -> dict[str, str]:
        """Docker's own variables as read here, for engines.resolve_engine / context_endpoint."""
        values = {
            "DOCKER_HOST": self.docker_host,
            "DOCKER_CONTEXT": self.docker_context,
            "DOCKER_CONFIG": self.docker_config,
            "DOCKER_TLS_VERIFY": self.docker_tls_verify,
            "DOCKER_CERT_PATH": self.docker_cert_path,
        }
        return {key: value for key, value in values.items() if value}


def debug_enabled() -> bool:
    """SVCCTL_DEBUG: the error boundary shows an unexpected error's traceback."""
    return bool(_env(None).get("SVCCTL_DEBUG"))


def parse_ip(value: str, option: str) -> str:
    """An address to advertise in registrations: it becomes part of a znode name, so it must be a
    plain IPv4/IPv6 address (a `/` would nest nodes)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise BadInputError(f"{option} {value!r} is not an IP address", f"e.g. {option} 127.0.0.1") from None


def parse_listen(value: str, option: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """A listening address, `PORT`, `:PORT` or `HOST:PORT` (the host: loopback unless given)."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInputError(f"{option} {value!r} is not a port or HOST:PORT", f"e.g. {option} 127.0.0.1:9333")
    return parse_ip(host, option), int(port)


def registrator_image(env: Mapping[str, str] | None = None) -> str:
    """The registrators' image: what `svcctl build registrator` tags and compose runs."""
    return _env(env).get("SVCCTL_REGISTRATOR_IMAGE") or DEFAULT_REGISTRATOR_IMAGE


def gateway_image() -> str:
    """The gateway's image: what `svcctl build gateway` tags and `svcctl gateway up` runs."""
    return _env(None).get("SVCCTL_GATEWAY_IMAGE") or DEFAULT_GATEWAY_IMAGE


def dind_image() -> str:
    """The simulated hosts' image (`svcctl hosts up`): what `svcctl build dind` tags."""
    return _env(None).get("SVCCTL_DIND_IMAGE") or DEFAULT_DIND_IMAGE


def zk_image(env: Mapping[str, str] | None = None) -> str:
    """The members' image: what `svcctl build zookeeper` tags and compose runs."""
    return _env(env).get("SVCCTL_ZK_IMAGE") or DEFAULT_ZK_IMAGE


def prometheus_image() -> str:
    """`svcctl metrics up`'s Prometheus: what `svcctl build prometheus` tags."""
    return _env(None).get("SVCCTL_PROMETHEUS_IMAGE") or DEFAULT_PROMETHEUS_IMAGE


def docker_proxy_image() -> str:
    """The registrators' read-only Docker API proxy (secure mode): what `svcctl build
    docker-proxy` tags and compose/secure.yml runs."""
    return _env(None).get("SVCCTL_DOCKER_PROXY_IMAGE") or DEFAULT_DOCKER_PROXY_IMAGE
