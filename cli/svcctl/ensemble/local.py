"""The ensemble (and, when present, its registrators) as one unit: up, quorum wait, status, down."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from svcctl.config.settings import Settings, ZkHost
from svcctl.docker.compose import require_compose, run_compose
from svcctl.ensemble.project import DOCKER_PROXY_SERVICE, ENSEMBLE_SERVICES, compose_client, container_prefix
from svcctl.errors import BadInputError, CheckFailedError, ConflictError, SvcctlError, WaitTimeoutError
from svcctl.progress import Progress, no_progress
from svcctl.wait import poll_until
from svcctl.zk.fourletter import SERVING_MODES, ServerStats, server_stats

if TYPE_CHECKING:
    from svcctl.config.engines import EngineEndpoint


@dataclass
class MemberStatus:
    """One member of the ensemble: its container and what it answers."""

    member: str  # host:port as in --zk
    container: str
    state: str  # the container's state, or "absent" ("host down" when its host does not answer)
    stats: ServerStats = field(default_factory=ServerStats)
    host: str | None = None  # the Docker context of its host (a cluster over hosts)

    def to_dict(self) -> dict:
        return {
            "member": self.member,
            "container": self.container,
            "state": self.state,
            "host": self.host,
            **self.stats.to_dict(),
        }


# What a member of a quorum answers (a lone "standalone" server is none).
QUORUM_MODES = ("leader", "follower", "observer")


def quorum_reached(modes: list[str]) -> bool:
    """Exactly one leader and every other member a follower (or observer)."""
    return modes.count("leader") == 1 and all(m in QUORUM_MODES for m in modes)


HEALTHY, DEGRADED, NO_QUORUM = "healthy", "degraded", "no quorum"


def ensemble_health(modes: list[str]) -> str:
    """healthy: every member serves under one leader; degraded: one leader and a majority of
    the members serving, some not (the ensemble still accepts reads and writes, one more loss
    may end that); no quorum otherwise."""
    serving = sum(1 for m in modes if m in QUORUM_MODES)
    if modes.count("leader") != 1 or serving <= len(modes) // 2:
        return NO_QUORUM
    return HEALTHY if serving == len(modes) else DEGRADED


def require_healthy(nodes: list) -> None:
    """Raise unless every member serves: no quorum (exit 8) or degraded (exit 9), naming the
    members that do not serve."""
    from svcctl.errors import DegradedError

    health = ensemble_health([n.stats.mode for n in nodes])
    if health == HEALTHY:
        return
    serving = sum(1 for n in nodes if n.stats.mode in QUORUM_MODES)
    down = (
        ", ".join(f"{n.container} ({n.state}, {n.stats.mode})" for n in nodes if n.stats.mode not in QUORUM_MODES)
        or "none"
    )
    if health == NO_QUORUM:
        raise CheckFailedError(
            f"the ensemble has no quorum ({serving} of {len(nodes)} members serving; not serving: {down})",
            "`svcctl cluster up` starts missing members",
        )
    raise DegradedError(
        f"the ensemble is degraded: quorum held by {serving} of {len(nodes)} members; not serving: {down}",
        "`svcctl cluster up` starts the missing member; one more loss ends the quorum",
    )


def member_containers(settings: Settings) -> dict[ZkHost, str]:
    """The container behind each member: zoo1..zoo3 in order for this project."""
    if settings.layout is not None:
        from svcctl.ensemble.placement import member_container

        return {m.zk_host: member_container(settings, m) for m in settings.layout.hosts}
    prefix = container_prefix(settings.project)
    return {host: f"{prefix}{name}" for host, name in zip(settings.ensemble_hosts, ENSEMBLE_SERVICES, strict=True)}


def container_states(engine: EngineEndpoint, names: list[str]) -> dict[str, str]:
    from svcctl.docker.engine import docker_client

    client = docker_client(engine)
    states: dict[str, str] = {}
    for container in client.containers.list(all=True, filters={"name": names}):
        states[container.name] = container.status
    return states


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(settings: Settings) -> None:
    """Before starting, a member's client port must be free unless our own container holds it."""
    members = member_containers(settings)
    states = container_states(settings.engine, list(members.values()))
    for host, container in members.items():
        if states.get(container) == "running":
            continue
        if host.host in ("127.0.0.1", "localhost") and not port_is_free("127.0.0.1", host.port):
            raise ConflictError(
                f"port {host.port} on 127.0.0.1 is in use by another process, so {container} cannot publish it",
                f"stop that process (`ss -ltnp 'sport = :{host.port}'`) or choose other ports with SVCCTL_ZK_PORTS",
            )


def four_letter_tls(settings: Settings):
    """The TLS context for four-letter words on a secured project's members (None: open)."""
    from svcctl.security.mode import ensemble_tls

    tls = ensemble_tls(settings)
    return tls.context() if tls is not None else None


def wait_for_quorum(
    settings: Settings, timeout: float = 120, on_progress: Progress = no_progress
) -> list[MemberStatus]:
    hosts = settings.ensemble_hosts
    last_report = ""
    tls = four_letter_tls(settings)

    def look() -> list[ServerStats]:
        nonlocal last_report
        stats = [server_stats(h.host, h.port, timeout=1.0, tls=tls) for h in hosts]
        report = ", ".join(f"{h}={s.mode}" for h, s in zip(hosts, stats, strict=True))
        if report != last_report:
            on_progress(f"waiting for quorum: {report}")
            last_report = report
        return stats

    stats = poll_until(
        look, lambda found: quorum_reached([s.mode for s in found]), time.monotonic() + timeout, interval=0.5
    )
    if quorum_reached([s.mode for s in stats]):
        return status(settings, stats)
    report = last_report
    failing = [(h, s) for h, s in zip(hosts, stats, strict=True) if s.mode not in SERVING_MODES]
    containers = member_containers(settings)
    engines = {m.zk_host: m.endpoint for m in settings.layout.hosts} if settings.layout else {}
    details = []
    for host, stat in failing:
        details.append(
            f"--- {containers.get(host, host)} ({host}: {stat.mode}{', ' + stat.error if stat.error else ''}) last "
            "log lines:"
        )
        engine = engines.get(host)
        details.append(
            container_log_tail(containers.get(host, ""), 15, engine or settings.engine, timeout=5 if engine else 30)
        )
    raise WaitTimeoutError(
        f"no quorum after {timeout:.0f}s (tried srvr on {', '.join(map(str, hosts))}: {report})",
        "read the log lines below; `svcctl cluster down && svcctl cluster up` restarts the ensemble",
        details="\n".join(details),
    )


def container_log_tail(name: str, lines: int, engine: EngineEndpoint, timeout: int = 30) -> str:
    if not name:
        return "(no container)"
    from svcctl.docker.engine import client_for
    from svcctl.docker.objects import or_none

    try:
        container = or_none(client_for(engine, timeout=timeout).containers.get, name)
    except SvcctlError as exc:
        return f"({exc.cause})"
    if container is None:
        return f"(container {name} does not exist)"
    return container.logs(tail=lines).decode(errors="replace").rstrip()


def cluster_services(settings: Settings, secure: bool = False) -> list[str]:
    """The ensemble plus every registrator service that compose/registrator.yml defines (and,
    secured, the registrators' Docker API proxy)."""
    project_dir = settings.project_path()
    services = list(ENSEMBLE_SERVICES)
    if (project_dir / "compose" / "registrator.yml").is_file():
        from svcctl.ensemble.project import REGISTRATOR_SERVICES

        services += list(REGISTRATOR_SERVICES)
        if secure:
            services.append(DOCKER_PROXY_SERVICE)
    return services


def existing_mode(settings: Settings, hosts: list[EngineEndpoint] | None = None) -> str | None:
    """The mode of the project's existing ensemble data on this engine, or on the `hosts` of a
    cluster over hosts (a cluster taken down without --volumes leaves it): what `cluster up`
    recorded, or open for data made before modes were recorded; None when there is no ensemble
    data at all (e.g. a first `up --secure` that failed before any, hosts made anew)."""
    import re

    from svcctl.docker.engine import client_for, docker_client
    from svcctl.security.mode import OPEN, recorded_mode

    clients = [docker_client(settings.engine)] if hosts is None else [client_for(endpoint) for endpoint in hosts]
    member_data = re.compile(r"zoo\d*-data$")  # zoo1-data.. on one engine, zoo-data on each host
    if not any(
        member_data.search(v.name)
        for client in clients
        for v in client.volumes.list(filters={"label": f"com.docker.compose.project={settings.project}"})
    ):
        return None
    return recorded_mode(settings.state_path(), settings.project, over_hosts=hosts is not None) or OPEN


def mode_name(mode: str) -> str:
    from svcctl.security.mode import SECURE

    return "TLS+ACL" if mode == SECURE else "open"


def up(
    settings: Settings,
    timeout: float = 120,
    on_progress: Progress = no_progress,
    secure: bool = False,
    rotate: bool = False,
) -> list[MemberStatus]:
    """The cluster on this process's engine: start what is not running and wait for quorum.
    Running containers are left alone unless their image was rebuilt or their settings changed:
    then Compose recreates them, as `docker compose up` does (data stays in the volumes).
    `secure`: TLS and ACLs with the project's PKI (made once; `rotate` remakes it and restarts
    the cluster on the new one). A cluster never changes mode in place: that needs `cluster
    down --volumes` first. ensemble.current chooses this or the cluster over hosts."""
    from svcctl.security.mode import OPEN, SECURE, record_mode

    if rotate and not secure:
        raise BadInputError(
            "--rotate remakes the PKI of a secured cluster", "use `svcctl cluster up --secure --rotate`"
        )
    wanted = SECURE if secure else OPEN
    require_compose()
    current = existing_mode(settings)
    if current is not None and current != wanted:
        raise ConflictError(
            f"project {settings.project}'s cluster is {mode_name(current)}; "
            f"it cannot become {mode_name(wanted)} in place",
            "remove it with its data first: `svcctl cluster down --volumes`, then `svcctl cluster "
            f"up{' --secure' if secure else ''}`",
        )
    check_ports_free(settings)
    if secure:
        from svcctl.security.pki import ensure_pki, hand_over, pki_dir

        # A new CA (or quorum CA) changes the containers' svcctl.pki label: Compose recreates them on it.
        pki, done = ensure_pki(pki_dir(settings.state_path()), rotate=rotate)
        if done:
            on_progress(f"PKI {done} under {pki.root} (give {pki.ca} to your own consumers)")
        hand_over(pki, settings.container_uid)
    record_mode(settings.state_path(), settings.project, wanted)
    compose = compose_client(settings)
    services = cluster_services(settings, secure)
    # Secured, the members start alone: the registrators (and anything else with an identity of
    # ours) come up only once the tree is the admin's, with its final ACLs.
    stages = [list(ENSEMBLE_SERVICES), [s for s in services if s not in ENSEMBLE_SERVICES]] if secure else [services]

    def start() -> tuple[dict[str, str], dict[str, str]]:
        before = _container_ids(compose, services)
        for stage in filter(None, stages):
            on_progress(f"starting {', '.join(stage)}" + (" (TLS+ACL)" if secure else ""))
            compose.compose.up(services=stage, detach=True, quiet=True)
            if secure and stage == stages[0]:
                wait_for_quorum(settings, timeout, on_progress)
                secure_tree(settings, local_writers(settings), on_progress)
        return before, _container_ids(compose, services)

    before, after = run_compose("cluster up", start)
    recreated = sorted(name for name, container_id in before.items() if after.get(name, container_id) != container_id)
    if recreated:
        on_progress(f"recreated {', '.join(recreated)} (image rebuilt, settings changed or PKI remade)")
    return wait_for_quorum(settings, timeout, on_progress)


def _same_acl(current: list, wanted: list) -> bool:
    return sorted(map(str, current)) == sorted(map(str, wanted))


def foreign_lock_reason(acl: list, data: bytes | None, registrator_acl, registrator_ids: set[str]) -> str | None:
    """Why an election lock is not one of this project's registrators' (None when it is). Its
    creator chose its ACL, so the ACL alone proves nothing: the lock must also carry the
    identity a registrator of ours publishes in it (leadership.py: JSON with its `id`)."""
    from svcctl.registry.election import ElectionIdentity

    if registrator_acl not in acl:
        return "not a registrator identity"
    claimed = ElectionIdentity.from_bytes(data).id
    if claimed not in registrator_ids:
        return (
            f"names {claimed!r}, not a registrator of this project"
            if claimed is not None
            else "names no registrator of this project"
        )
    return None


@dataclass(frozen=True)
class RegistryWriter:
    """The registrators of one engine, as the audit of a secured registry knows them: the x509
    identity they write with, the engine they register for (its election), and the ids they
    publish in their election locks (their container names)."""

    identity: str
    engine_id: str
    registrator_ids: frozenset[str]


def local_writers(settings: Settings) -> list[RegistryWriter]:
    """A secured cluster on one engine: the project's registrators (compose/secure.yml) with
    the one registrator identity."""
    from svcctl.docker.engine import docker_client, engine_id
    from svcctl.ensemble.project import REGISTRATOR_SERVICES
    from svcctl.security.mode import project_pki
    from svcctl.zk.tls import read_cert

    ids = frozenset(f"{container_prefix(settings.project)}{service}" for service in REGISTRATOR_SERVICES)
    return [
        RegistryWriter(
            read_cert(project_pki(settings).registrator.cert).subject, engine_id(docker_client(settings.engine)), ids
        )
    ]


def secure_tree(settings: Settings, writers: list[RegistryWriter], on_progress: Progress = no_progress) -> list[str]:
    """Make the tree the admin's and audit the registry, as the admin identity (the ensemble's
    x509 super user); returns what was repaired (each also reported on `on_progress`).

    - `/`, `/zookeeper` and `/zookeeper/quota`: writable by the admin only, readable by anyone
      (every session is authenticated: anyone means any certificate holder).
    - `/services`, `/svcctl`, the election root and each writer engine's election node: created
      with their final ACL (all rights for every writer identity, read for anyone).
    - every node below `/services` and `/svcctl`: that same ACL, set where it differs; an
      election lock that is not one of its engine's registrators' (foreign_lock_reason) is
      removed (it would stand every registrator by)."""
    from kazoo.exceptions import NodeExistsError, NoNodeError
    from kazoo.security import make_acl

    from svcctl.config.settings import DEFAULT_BASE
    from svcctl.registry.election import ELECTION_ROOT, election_path
    from svcctl.security.mode import ensemble_tls, project_pki
    from svcctl.zk import ops
    from svcctl.zk.client import zk_session
    from svcctl.zk.tls import read_cert
    from svcctl.zk.tls import registry_acl as writers_acl

    pki = project_pki(settings)
    read = make_acl("world", "anyone", read=True)
    admin_acl = [make_acl("x509", read_cert(pki.admin.cert).subject, all=True), read]
    registry_acl = writers_acl([w.identity for w in writers])
    by_election = {election_path(w.engine_id): w for w in writers}
    # A lock of an engine that is none of the writers' (a host no longer in the cluster): any of ours.
    all_ids = frozenset().union(*(w.registrator_ids for w in writers))
    election_parents = [DEFAULT_BASE, "/svcctl", ELECTION_ROOT, *by_election]
    repaired: list[str] = []

    def report(what: str) -> None:
        repaired.append(what)
        on_progress(f"repaired: {what}")

    def lock_reason(path: str, acl: list, data: bytes | None) -> str | None:
        writer = by_election.get(path.rsplit("/", 1)[0])
        if writer is None:
            reasons = [foreign_lock_reason(acl, data, make_acl("x509", w.identity, all=True), all_ids) for w in writers]
            return None if None in reasons else reasons[0]
        return foreign_lock_reason(acl, data, make_acl("x509", writer.identity, all=True), writer.registrator_ids)

    with zk_session(settings.ensemble_hosts, tls=ensemble_tls(settings)) as zk:
        for path in ("/", "/zookeeper", "/zookeeper/quota"):
            current, _ = zk.get_acls(path)
            if not _same_acl(current, admin_acl):
                zk.set_acls(path, admin_acl)
                on_progress(f"ACL of {path} set (writable by the admin only, readable by anyone)")
        for path in election_parents:
            try:
                zk.create(path, b"", acl=registry_acl)
                on_progress(f"created {path} (writable by the registrators, readable by anyone)")
            except NodeExistsError:
                pass
        for name in zk.get_children("/"):
            if f"/{name}" not in (DEFAULT_BASE, "/svcctl", "/zookeeper"):
                on_progress(
                    f"note: top-level node /{name} is not svcctl's (left alone; `svcctl zk rm /{name}` removes it)"
                )
        for root in (DEFAULT_BASE, "/svcctl"):
            children = ops.walk(zk, root)
            for path in [root, *ops.descendants(root, children)]:
                try:
                    current, stat = zk.get_acls(path)
                    lock = path.startswith(ELECTION_ROOT + "/") and path.count("/") == ELECTION_ROOT.count("/") + 2
                    reason = lock_reason(path, current, zk.get(path)[0]) if lock else None
                    if reason:
                        zk.delete(path)
                        report(f"removed election lock {path} (owned by session {hex(stat.ephemeralOwner)}, {reason})")
                    elif not _same_acl(current, registry_acl):
                        zk.set_acls(path, registry_acl)
                        report(f"ACL of {path} set (was {', '.join(sorted(map(_acl_text, current)))})")
                except NoNodeError:
                    continue  # gone while we looked (a registration of a stopped container)
    return repaired


def _acl_text(acl) -> str:
    perms = "".join(flag for flag, bit in (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16)) if acl.perms & bit)
    return f"{acl.id.scheme}:{acl.id.id}:{perms}"


def _container_ids(compose, services: list[str]) -> dict[str, str]:
    return {container.name: container.id for container in compose.compose.ps(services=services, all=True)}


def status(settings: Settings, stats: list[ServerStats] | None = None) -> list[MemberStatus]:
    hosts = settings.ensemble_hosts
    if stats is None:
        tls = four_letter_tls(settings)
        stats = [server_stats(h.host, h.port, tls=tls) for h in hosts]
    containers = member_containers(settings)
    if settings.layout is not None:
        from svcctl.ensemble.placement import host_states

        per_host = host_states(settings)
        return [
            MemberStatus(str(h), containers[h], per_host[m.context].get(containers[h], "absent"), s, m.context)
            for h, s, m in zip(hosts, stats, settings.layout.hosts, strict=True)
        ]
    try:
        states = container_states(settings.engine, list(containers.values()))
    except SvcctlError:  # status still answers from ZooKeeper alone when the engine is away
        states = {}
    return [
        MemberStatus(str(h), containers.get(h, "-"), states.get(containers.get(h, ""), "absent"), s)
        for h, s in zip(hosts, stats, strict=True)
    ]


def down(settings: Settings, volumes: bool = False, on_progress: Progress = no_progress) -> None:
    """The cluster on this process's engine removed (with its volumes: its data)."""
    from svcctl.security.mode import forget_mode

    compose = compose_client(settings)
    on_progress("removing the project's containers" + (" and volumes" if volumes else ""))
    run_compose("cluster down", lambda: compose.compose.down(volumes=volumes, quiet=True, timeout=10))
    if volumes:  # no data left: the next `cluster up` may choose either mode
        forget_mode(settings.state_path(), settings.project)
