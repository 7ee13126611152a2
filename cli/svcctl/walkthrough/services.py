"""The sample services' lifecycle (up, scale, stop) through Compose, and `ps`: what Docker runs,
cross-checked against what ZooKeeper has registered for each container."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from svcctl.config.settings import DEFAULT_BASE, Settings
from svcctl.docker.compose import run_compose
from svcctl.docker.containers import ContainerView, engine_containers
from svcctl.docker.engine import docker_client
from svcctl.ensemble.project import compose_client
from svcctl.errors import BadInputError, ZooKeeperUnavailableError
from svcctl.progress import Progress, no_progress
from svcctl.registry.payload import RegistrationPayload
from svcctl.security.mode import client_tls
from svcctl.walkthrough.samples import SERVICES, SampleService, get_service, validate_services

if TYPE_CHECKING:
    import docker
    from kazoo.client import KazooClient

    from svcctl.config.engines import EngineEndpoint

LOOPBACK = "127.0.0.1"


# --- Docker's view: which sample service a container is, where it is published ------------------


def sample_service_of(view: ContainerView) -> SampleService | None:
    """The sample service a container is registered as, from the same keys registrator reads
    (SERVICE_NAME / SERVICE_<port>_NAME, a label winning over env; SERVICE_IGNORE and
    SERVICE_<port>_IGNORE leave it unregistered), whatever project started it (whether this
    project's registrators register it is their scope: scenarios.in_scope)."""

    def flag(key: str) -> bool:
        return bool(view.labels.get(key, view.env.get(key)))

    if flag("SERVICE_IGNORE"):
        return None
    for service in SERVICES.values():
        if flag(f"SERVICE_{service.container_port}_IGNORE"):
            continue
        for key in (f"SERVICE_{service.container_port}_NAME", "SERVICE_NAME"):
            value = view.labels.get(key, view.env.get(key))
            if value is not None:
                if value == service.name:
                    return service
                break  # named something else through the more specific key
    return None


def registration_key(view: ContainerView, service: SampleService) -> str | None:
    """`<ip>:<host port>` of the service's published container port (tcp), or None."""
    bindings = view.ports.get(f"{service.container_port}/tcp") or []
    if not bindings:
        return None
    ip, port = bindings[0]
    # registrator advertises the published host IP; 0.0.0.0 is not an address (ours run -ip 127.0.0.1).
    return f"{LOOPBACK if ip in ('0.0.0.0', '') else ip}:{port}"


def project_instances(views: list[ContainerView], project: str, service: str | None = None) -> list[ContainerView]:
    """This project's containers of the sample services (optionally one), by container number."""
    chosen = [
        v
        for v in views
        if v.project == project and v.compose_service in SERVICES and (service is None or v.compose_service == service)
    ]
    return sorted(chosen, key=lambda v: (v.compose_service or "", v.number or 0, v.name))


# --- ZooKeeper's view ------------------------------------------------------------------------


def read_registrations(
    zk: KazooClient, base: str = DEFAULT_BASE, services: list[str] | None = None
) -> dict[str, list[str] | None]:
    """service -> child names under base/service, or None when the service node does not exist."""
    from svcctl.zk.ops import registry_tree
    from svcctl.zk.tree import join_path

    children = registry_tree(zk, base)
    return {
        name: children.get(join_path(base, name)) for name in (services if services is not None else list(SERVICES))
    }


def read_registration_payloads(
    zk: KazooClient, base: str = DEFAULT_BASE, services: list[str] | None = None, engine_id: str | None = None
) -> dict[str, dict[str, RegistrationPayload | None] | None]:
    """service -> {child name: its payload (None: not a JSON object)} under base/service, None
    when the service node does not exist. With `engine_id`, only the children whose payload
    names it as owner: in a cluster over hosts, one engine's view must not count the other
    hosts' instances; a service node holding only other engines' children reads as None (not an
    empty node)."""
    from svcctl.zk.ops import children_of, registry_snapshots
    from svcctl.zk.tree import join_path

    nodes = registry_snapshots(zk, base)
    children = children_of(nodes)
    result: dict[str, dict[str, RegistrationPayload | None] | None] = {}
    for name in services if services is not None else list(SERVICES):
        path = join_path(base, name)
        found = children.get(path)
        if found is None:
            result[name] = None
            continue
        payloads = {}
        for child in found:
            node = nodes.get(join_path(path, child))
            payloads[child] = RegistrationPayload.decode(node.data) if node is not None else None
        if engine_id is not None:
            payloads = {c: p for c, p in payloads.items() if p is not None and p.engine_id == engine_id}
            if found and not payloads:
                result[name] = None
                continue
        result[name] = payloads
    return result


def read_owned_registrations(
    zk: KazooClient, engine_id: str, base: str = DEFAULT_BASE, services: list[str] | None = None
) -> dict[str, list[str] | None]:
    """Like read_registrations, but only the children whose payload names `engine_id` as owner
    (see read_registration_payloads)."""
    return {
        name: sorted(payloads) if payloads is not None else None
        for name, payloads in read_registration_payloads(zk, base, services, engine_id).items()
    }


# --- lifecycle ---------------------------------------------------------------------------------


def _compose_up(settings: Settings, scales: dict[str, int], action: str, engine: EngineEndpoint | None = None) -> None:
    compose = compose_client(settings, engine=engine)
    # recreate=False: running instances stay as they are; only the count changes.
    run_compose(
        action,
        lambda: compose.compose.up(
            services=list(scales), detach=True, scales=scales, recreate=False, quiet=True, pull="never"
        ),
    )


def on_swarm(settings: Settings) -> bool:
    """The project's cluster is a stack on a swarm: its services are Swarm services."""
    return settings.layout is not None and settings.layout.on_swarm


def cluster_views(settings: Settings, client: docker.DockerClient) -> list[ContainerView]:
    """The containers the walkthrough looks at: on a swarm every node's (ports on the node's
    address), else those of `client`'s engine."""
    if on_swarm(settings):
        from svcctl.walkthrough.swarm_services import cluster_views as swarm_views

        return swarm_views(settings)
    return engine_containers(client)


def up(settings: Settings, names: list[str], on_progress: Progress = no_progress) -> dict[str, int]:
    """Make sure each named service runs at least one instance; running ones are left alone.
    Returns the instance count asked of Compose (of Swarm) per service."""
    services = validate_services(names)
    if on_swarm(settings):
        from svcctl.walkthrough import swarm_services

        return swarm_services.up(settings, services, on_progress)
    views = engine_containers(docker_client(settings.engine))
    running = {
        service.name: sum(1 for v in project_instances(views, settings.project, service.name) if v.state == "running")
        for service in services
    }
    scales = {name: max(1, count) for name, count in running.items()}
    starting = [name for name, count in running.items() if not count]
    already = [f"{name} ({count} running)" for name, count in running.items() if count]
    on_progress(
        "; ".join(
            filter(
                None,
                (
                    f"starting {', '.join(starting)}" if starting else "",
                    f"already up: {', '.join(already)}" if already else "",
                ),
            )
        )
    )
    _compose_up(settings, scales, "up " + " ".join(scales))
    return scales


def validate_scale(name: str, count: int) -> SampleService:
    service = get_service(name)
    if count < 0:
        raise BadInputError(
            f"cannot scale {name} to {count}: the count must be 0 or more",
            f"e.g. `svcctl scale {name} 2`; services: {', '.join(SERVICES)}",
        )
    return service


def scale(
    settings: Settings,
    name: str,
    count: int,
    on_progress: Progress = no_progress,
    engine: EngineEndpoint | None = None,
) -> None:
    """Run exactly `count` instances of the service (0 stops and removes them all); `host`: on
    that engine instead of this process's (give `settings` that host's --context too, so the
    instances publish on its address)."""
    service = validate_scale(name, count)
    if on_swarm(settings):
        from svcctl.walkthrough import swarm_services

        if engine is not None:
            raise BadInputError(
                "on a swarm, Swarm places the tasks", f"`svcctl scale {name} {count}` without --context"
            )
        swarm_services.scale(settings, service, count, on_progress)
        return
    if count == 0:
        if engine is not None:
            raise BadInputError(
                "scaling to 0 on a given host is not supported here", "`svcctl --context HOST scale NAME 0`"
            )
        stop(settings, [name], on_progress)
        return
    on_progress(f"scaling {name} to {count}")
    _compose_up(settings, {name: count}, f"scale {name}", engine=engine)


def stop(settings: Settings, names: list[str], on_progress: Progress = no_progress) -> None:
    """Stop and remove every instance of the named services: their registrations must go, and
    the next `up` starts a fresh container (new host port, new registration)."""
    services = [s.name for s in validate_services(names)]
    if on_swarm(settings):
        from svcctl.walkthrough import swarm_services

        swarm_services.stop(settings, services, on_progress)
        return
    compose = compose_client(settings)
    on_progress(f"stopping {', '.join(services)}")

    def stop_and_remove() -> None:
        compose.compose.stop(services=services, timeout=10)
        compose.compose.rm(services=services, stop=True)

    run_compose("stop " + " ".join(services), stop_and_remove)


# --- ps --------------------------------------------------------------------------------------


class Registered(StrEnum):
    """`ps`'s answer to "does ZooKeeper hold this container's registration?".

    yes: its znode names this container; no: a running container's znode is missing, or a
    stopped container has none (as it should); other-container: the znode is there but names
    another container (or holds no registration payload); not-published: running, but its
    service port is not published, so there is nothing to register; unknown: ZooKeeper could not
    be read; stale: a stopped container whose znode is still there."""

    YES = "yes"
    NO = "no"
    OTHER_CONTAINER = "other-container"
    NOT_PUBLISHED = "not-published"
    UNKNOWN = "unknown"
    STALE = "stale"


@dataclass
class PsRow:
    """One container of `svcctl ps`, cross-checked against ZooKeeper (an instance as consumers see
    it is svcctl.consumer.cache.Instance)."""

    service: str
    container: str
    container_id: str  # the full id (a table may shorten it)
    state: str
    health: str | None
    host_port: int | None
    znode: str | None  # where its registration must be
    registered: Registered
    host: str | None = None  # the host (Docker context) it runs on, with --all-hosts

    def to_dict(self) -> dict:
        return asdict(self)


def cross_check(
    view: ContainerView,
    service: SampleService,
    registrations: Mapping[str, bytes | None] | None,
    base: str = DEFAULT_BASE,
) -> PsRow:
    """One container's line of `ps` (pure). `registrations` maps a znode path to its data (None
    when the node does not exist); None as a whole means ZooKeeper could not be read."""
    key = registration_key(view, service)
    znode = f"{base}/{service.name}/{key}" if key else None
    if view.state != "running" or znode is None:
        registered = Registered.NOT_PUBLISHED if view.state == "running" else Registered.NO
        # A stopped container must not be registered; say so if it still is.
        if znode and registrations is not None and registrations.get(znode) is not None:
            registered = Registered.STALE
    elif registrations is None:
        registered = Registered.UNKNOWN
    elif znode not in registrations or registrations[znode] is None:
        registered = Registered.NO
    else:
        # A node whose data is no registration payload is present, but not this container's.
        payload = RegistrationPayload.decode(registrations[znode])
        ours = payload is not None and payload.names_container(view.id)
        registered = Registered.YES if ours else Registered.OTHER_CONTAINER
    return PsRow(
        service=service.name,
        container=view.name,
        container_id=view.id,
        state=view.state,
        health=view.health,
        host_port=int(key.rsplit(":", 1)[1]) if key else None,
        znode=znode,
        registered=registered,
    )


def any_member_answers(settings: Settings, timeout: float = 0.5) -> bool:
    """A quick ruok round before opening a session: with the ensemble down, `ps` answers at
    once (registered: unknown) instead of waiting out the client's connection retries."""
    from svcctl.zk.fourletter import answers_ruok

    tls = client_tls(settings)
    context = tls.context() if tls is not None else None
    return any(answers_ruok(host.host, host.port, timeout=timeout, tls=context) for host in settings.zk_hosts)


def ps(settings: Settings, base: str = DEFAULT_BASE) -> list[PsRow]:
    """This project's sample-service containers, each cross-checked against ZooKeeper (on a
    swarm: every node's, see ps_all_hosts)."""
    if on_swarm(settings):
        return ps_all_hosts(settings, base)[0]
    return cross_check_all(
        settings, project_instances(engine_containers(docker_client(settings.engine)), settings.project), base
    )


def ps_all_hosts(settings: Settings, base: str = DEFAULT_BASE) -> tuple[list[PsRow], list[str]]:
    """`ps` over every host of the cluster recorded by `cluster up --hosts` or `--swarm` (engines
    asked in parallel); returns the instances, each with its host, and the hosts that did not answer."""
    from svcctl.errors import NotFoundError

    layout = settings.layout
    if layout is None:
        raise NotFoundError(
            f"no cluster over hosts is recorded for project {settings.project}",
            "start one with `svcctl cluster up --hosts CTX1,CTX2,CTX3`",
        )

    from svcctl.docker.containers import layout_views

    per_host = layout_views(layout)
    views: list[ContainerView] = []
    hosts: list[str] = []
    down = []
    for member, found in per_host:
        if found is None:
            down.append(member.context)
            continue
        mine = project_instances(found, settings.project)
        views += mine
        hosts += [member.context] * len(mine)
    instances = cross_check_all(settings, views, base)
    for instance, host in zip(instances, hosts, strict=True):
        instance.host = host
    return instances, down


def cross_check_all(settings: Settings, views: list[ContainerView], base: str = DEFAULT_BASE) -> list[PsRow]:
    """Each container's line of `ps`, its registration read from ZooKeeper in one session."""
    from svcctl.zk.client import zk_session
    from svcctl.zk.ops import registry_snapshots

    wanted = []
    for view in views:
        service = SERVICES[view.compose_service or ""]
        key = registration_key(view, service)
        if key:
            wanted.append(f"{base}/{service.name}/{key}")
    registrations: dict[str, bytes | None] | None = None
    if not any_member_answers(settings):
        return [cross_check(v, SERVICES[v.compose_service or ""], None, base) for v in views]
    try:
        with zk_session(settings.zk_hosts, connect_timeout=3.0, tls=client_tls(settings)) as zk:
            nodes = registry_snapshots(zk, base)
        registrations = {path: nodes[path].data if path in nodes else None for path in wanted}
    except ZooKeeperUnavailableError:
        registrations = None  # ps still lists the containers; the registered column says unknown
    return [cross_check(v, SERVICES[v.compose_service or ""], registrations, base) for v in views]
