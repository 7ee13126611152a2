"""The project's Compose: its compose files (secure.yml layered on in secure mode), the ${VARS}
they interpolate (an env file in the state directory), the client on them, the names of its
services and containers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.config.settings import DEFAULT_PROJECT, Settings, docker_proxy_image
from svcctl.docker.compose import whales_compose
from svcctl.docker.labels import COMPOSE_PROJECT, SCOPED
from svcctl.files import atomic_write

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from svcctl.config.engines import EngineEndpoint

REGISTRATOR_SERVICES = ("registrator1", "registrator2", "registrator3")
COMPOSE_FILES = ("zookeeper.yml", "registrator.yml", "services.yml", "gateway.yml", "metrics.yml")
SECURE_COMPOSE_FILE = "secure.yml"  # layered on top in secure mode (cluster up --secure)
ENSEMBLE_SERVICES = ("zoo1", "zoo2", "zoo3")
DOCKER_PROXY_SERVICE = "docker-proxy"


def compose_files(project_dir: Path, secure: bool = False) -> list[Path]:
    names = (*COMPOSE_FILES, SECURE_COMPOSE_FILE) if secure else COMPOSE_FILES
    return [project_dir / "compose" / name for name in names if (project_dir / "compose" / name).is_file()]


def container_prefix(project: str) -> str:
    """The default project keeps the classic names (zoo1..zoo3); another project (a second,
    isolated stack on the same engine) prefixes them."""
    return "" if project == DEFAULT_PROJECT else f"{project}-"


def registered_project(project: str) -> str | None:
    """The Compose project whose containers the project's registrators register: a named
    project only its own; the default project (None) every container of the engine, as the
    classic registrator does."""
    return None if project == DEFAULT_PROJECT else project


def registrator_label_filter(project: str, label: str = COMPOSE_PROJECT) -> str:
    """The registrators' -label-filter (SVCCTL_LABEL_FILTER): a named project's containers carry
    `label` (Compose's project; a swarm stack's namespace); the default project's take every
    container of the engine but a named project's (those carry SCOPED: their own registrators
    have them)."""
    scoped = registered_project(project)
    return f"{label}={scoped}" if scoped else f"!{SCOPED}=true"


def scoped_label(project: str) -> str:
    """The SCOPED label's value on the project's workload (SVCCTL_SCOPED)."""
    return "false" if registered_project(project) is None else "true"


def compose_environment(settings: Settings) -> dict[str, str]:
    """The ${VARS} the compose files interpolate."""
    from svcctl.config.settings import gateway_image
    from svcctl.security.mode import SECURE, project_mode, project_pki
    from svcctl.security.pki import container_owner

    pki = project_pki(settings)
    ports = settings.zk_ports
    environment = {
        # The sample services publish on the engine's address: loopback here, a host's own with --context.
        "SVCCTL_PUBLISH_IP": settings.engine.address,
        "SVCCTL_ZK_IMAGE": settings.zk_image,
        "SVCCTL_REGISTRATOR_IMAGE": settings.registrator_image,
        "SVCCTL_GATEWAY_IMAGE": gateway_image(),
        "SVCCTL_DOCKER_PROXY_IMAGE": docker_proxy_image(),
        "SVCCTL_PKI_DIR": str(pki.root),
        "SVCCTL_PKI_ID": pki.fingerprint(),
        # Secured, the registrators run as the owner of the keys they read (never root).
        "SVCCTL_CONTAINER_USER": ":".join(map(str, container_owner(settings.container_uid))),
        "SVCCTL_CONTAINER_PREFIX": container_prefix(settings.project),
        "SVCCTL_ZK_PORT_1": str(ports[0]),
        "SVCCTL_ZK_PORT_2": str(ports[1]),
        "SVCCTL_ZK_PORT_3": str(ports[2]),
        **{f"SVCCTL_REGISTRATOR_METRICS_PORT_{i}": str(p) for i, p in enumerate(settings.registrator_metrics_ports, 1)},
        # The registrators get every member of this ensemble (failover), whatever --zk names.
        "SVCCTL_ZK_CONNECT": settings.ensemble_connect,
        "SVCCTL_LABEL_FILTER": registrator_label_filter(settings.project),
        "SVCCTL_SCOPED": scoped_label(settings.project),
    }
    if project_mode(settings) == SECURE:
        # On the project's network the registrators cannot find the host's address themselves
        # (a name lookup: open mode does not pay for it).
        from svcctl.net import host_address

        environment["SVCCTL_HOST_IP"] = host_address()
    return environment


def write_env_file(settings: Settings, extra: dict[str, str] | None = None) -> Path:
    """compose_environment (and `extra`: a command's own ${VARS}) as an env file in the state
    directory (Compose reads it with --env-file), written atomically so that concurrent runs
    never read half a file."""
    state = settings.state_path()
    path = state / f"compose-{settings.project}.env"
    text = "".join(f"{key}={value}\n" for key, value in {**compose_environment(settings), **(extra or {})}.items())
    if not path.is_file() or path.read_text() != text:
        atomic_write(path, text, mode=0o644)
    return path


def compose_client(
    settings: Settings,
    extra: dict[str, str] | None = None,
    files: list[str] | None = None,
    engine: EngineEndpoint | None = None,
) -> DockerClient:
    """The project's Compose, with compose/secure.yml layered on when its cluster is secured
    (`files`: only these of compose/, e.g. a simulated host's hosts.yml; `engine`: that engine
    instead of the command's, Settings.engine)."""
    from svcctl.security.mode import SECURE, project_mode

    project_dir = settings.project_path()
    secure = project_mode(settings) == SECURE
    paths = [project_dir / "compose" / name for name in files] if files else compose_files(project_dir, secure)
    return whales_compose(
        paths, settings.project, project_dir / "compose", write_env_file(settings, extra), engine or settings.engine
    )
