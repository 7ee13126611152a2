"""The engine's containers as plain data: ContainerView, built from one listing of the engine
(and each container's configuration, inspected once), what the scenarios and `ps` work on;
and named containers' states and last log lines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from svcctl.docker.labels import (
    COMPOSE_NUMBER,
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    STACK_NAMESPACE,
    SWARM_SERVICE_NAME,
    SWARM_TASK_NAME,
)

if TYPE_CHECKING:
    import docker

    from svcctl.config.engines import EngineEndpoint
    from svcctl.config.layout import ClusterLayout, HostMember


@dataclass(frozen=True)
class ContainerView:
    """One container as the engine reports it, reduced to what registration depends on."""

    id: str
    name: str
    state: str  # running, exited, paused, ...
    health: str | None  # healthy, starting, unhealthy, or None without a HEALTHCHECK
    project: str | None  # the Compose project, or the stack namespace of a swarm task
    compose_service: str | None  # the Compose service, or the swarm service without its namespace
    number: int | None  # the Compose container number, or the swarm task's slot
    env: dict[str, str]
    labels: dict[str, str]
    # "8080/tcp" -> [(host ip, host port), ...]; empty list when the port is not published
    ports: dict[str, list[tuple[str, int]]]

    def published_on(self, address: str) -> ContainerView:
        """This view with ports bound to every address (a swarm task's host-mode ports) shown
        on `address`, its node's: where they are reached from elsewhere."""
        ports = {
            key: [(address if ip in ("0.0.0.0", "", "::") else ip, port) for ip, port in bindings]
            for key, bindings in self.ports.items()
        }
        return replace(self, ports=ports)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ports"] = {k: [f"{ip}:{port}" for ip, port in v] for k, v in self.ports.items()}
        return data


def container_view(attrs: dict[str, Any]) -> ContainerView:
    """Build a ContainerView from `docker inspect` JSON (pure): its listing entry and its config."""
    state = attrs.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    listed_ports = [
        {
            "PrivatePort": int(key.split("/")[0]),
            "Type": key.partition("/")[2] or "tcp",
            **({"IP": b.get("HostIp"), "PublicPort": int(b["HostPort"])} if b else {}),
        }
        for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items()
        for b in ([x for x in bindings or [] if x.get("HostPort")] or [None])
    ]
    summary = {
        "Id": attrs.get("Id", ""),
        "Names": [attrs.get("Name") or ""],
        "State": state.get("Status", "unknown"),
        "Status": f"({'health: starting' if health == 'starting' else health})" if health else "",
        "Labels": (attrs.get("Config") or {}).get("Labels") or {},
        "Ports": listed_ports,
    }
    return listed_view(summary, attrs.get("Config") or {})


def project_service_number(labels: dict[str, str]) -> tuple[str | None, str | None, int | None]:
    """Which project's which service a container is, and its instance number: Compose's labels,
    or a swarm task's (a stack `P`'s service `S` is the swarm service `P_S`, task `P_S.<slot>.<id>`)."""
    if COMPOSE_PROJECT in labels:
        number = labels.get(COMPOSE_NUMBER) or ""
        return labels[COMPOSE_PROJECT], labels.get(COMPOSE_SERVICE), int(number) if number.isdigit() else None
    namespace, service = labels.get(STACK_NAMESPACE), labels.get(SWARM_SERVICE_NAME)
    if namespace is None or service is None:
        return None, None, None
    short = service.removeprefix(f"{namespace}_")
    slot = labels.get(SWARM_TASK_NAME, "").removeprefix(f"{service}.").partition(".")[0]
    return namespace, short, int(slot) if slot.isdigit() else None


def listed_view(summary: dict[str, Any], config: dict[str, Any]) -> ContainerView:
    """A ContainerView from one entry of the engine's container listing (state, health, ports,
    labels) and the container's configuration from `docker inspect` (its env), pure."""
    labels = dict(summary.get("Labels") or {})
    env: dict[str, str] = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    ports: dict[str, list[tuple[str, int]]] = {}
    for port in summary.get("Ports") or []:
        bindings = ports.setdefault(f"{port.get('PrivatePort')}/{port.get('Type') or 'tcp'}", [])
        if port.get("PublicPort"):
            bindings.append((port.get("IP") or "0.0.0.0", int(port["PublicPort"])))
    for bindings in ports.values():
        bindings.sort(key=lambda b: ":" in b[0])  # IPv4 first, as inspect lists them
    status = summary.get("Status") or ""
    health = next(
        (
            h
            for marker, h in (
                ("(healthy)", "healthy"),
                ("(unhealthy)", "unhealthy"),
                ("(health: starting)", "starting"),
            )
            if marker in status
        ),
        None,
    )
    project, service, number = project_service_number(labels)
    return ContainerView(
        id=summary.get("Id", ""),
        name=((summary.get("Names") or [""])[0]).lstrip("/"),
        state=summary.get("State") or "unknown",
        health=health,
        project=project,
        compose_service=service,
        number=number,
        env=env,
        labels=labels,
        ports=ports,
    )


# Id -> Config of containers inspected once: a container's configuration never changes, so the
# scenarios' and ps' polls list the engine's containers (one call) and inspect only new ones.
_CONFIGS: dict[str, dict[str, Any]] = {}


def engine_containers(client: docker.DockerClient) -> list[ContainerView]:
    """Every container of the engine (all states), from one listing."""
    import docker.errors

    views = []
    for summary in client.api.containers(all=True):
        config = _CONFIGS.get(summary["Id"])
        if config is None:
            try:
                config = client.api.inspect_container(summary["Id"]).get("Config") or {}
            except docker.errors.NotFound:
                continue  # removed between the listing and the inspect
            _CONFIGS[summary["Id"]] = config
        views.append(listed_view(summary, config))
    return views


def layout_views(layout: ClusterLayout) -> list[tuple[HostMember, list[ContainerView] | None]]:
    """Every host's containers (engines asked in parallel), each view's ports shown on its host's
    address where bound to every address (a swarm task's); None for a host that does not answer."""
    from concurrent.futures import ThreadPoolExecutor

    from svcctl.docker.engine import client_for
    from svcctl.errors import SvcctlError

    def views_of(member: HostMember) -> list[ContainerView] | None:
        try:
            return [v.published_on(member.address) for v in engine_containers(client_for(member.endpoint, timeout=5))]
        except (SvcctlError, OSError):
            return None

    with ThreadPoolExecutor(max_workers=len(layout.hosts)) as pool:
        return list(zip(layout.hosts, pool.map(views_of, layout.hosts), strict=True))


def container_states(engine: EngineEndpoint, names: list[str]) -> dict[str, str]:
    """Name -> state of the engine's containers matching `names` (absent ones left out)."""
    from svcctl.docker.engine import docker_client

    client = docker_client(engine)
    states: dict[str, str] = {}
    for container in client.containers.list(all=True, filters={"name": names}):
        states[container.name] = container.status
    return states


def container_log_tail(name: str, lines: int, engine: EngineEndpoint, timeout: int = 30) -> str:
    """A container's last log lines, or why there are none (in parentheses)."""
    if not name:
        return "(no container)"
    from svcctl.docker.engine import client_for
    from svcctl.docker.objects import or_none
    from svcctl.errors import SvcctlError

    try:
        container = or_none(client_for(engine, timeout=timeout).containers.get, name)
    except SvcctlError as exc:
        return f"({exc.cause})"
    if container is None:
        return f"(container {name} does not exist)"
    return container.logs(tail=lines).decode(errors="replace").rstrip()
