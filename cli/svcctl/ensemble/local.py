"""The cluster on this process's engine, one Compose project: the ensemble (and, when present,
its registrators) started open or secured, its members' status, and its removal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from svcctl.config.settings import Settings, ZkHost
from svcctl.docker.compose import require_compose, run_compose
from svcctl.docker.containers import container_states
from svcctl.ensemble.members import MemberStatus, mode_name
from svcctl.ensemble.project import DOCKER_PROXY_SERVICE, ENSEMBLE_SERVICES, compose_client, container_prefix
from svcctl.ensemble.quorum import four_letter_tls, wait_for_quorum
from svcctl.ensemble.secure import existing_mode, local_writers, secure_tree
from svcctl.errors import ConflictError, NotFoundError, SvcctlError
from svcctl.net import port_is_free
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import SecurityPolicy
from svcctl.zk.fourletter import ServerStats, server_stats

if TYPE_CHECKING:
    from svcctl.ensemble.status import RegistratorRow


def member_containers(settings: Settings) -> dict[ZkHost, str]:
    """The container behind each member: zoo1..zoo3 in order for this project."""
    prefix = container_prefix(settings.project)
    return {host: f"{prefix}{name}" for host, name in zip(settings.ensemble_hosts, ENSEMBLE_SERVICES, strict=True)}


def missing_images(settings: Settings, secure: bool) -> list[str]:
    """The images the cluster runs that this engine does not have, as `name (tag)`."""
    from svcctl.config.settings import docker_proxy_image
    from svcctl.docker.engine import docker_client
    from svcctl.docker.images import image_exists

    wanted = {"zookeeper": settings.zk_image, "registrator": settings.registrator_image}
    if secure:
        wanted["docker-proxy"] = docker_proxy_image()
    client = docker_client(settings.engine)
    return [f"{name} ({tag})" for name, tag in wanted.items() if not image_exists(client, tag)]


def require_images(settings: Settings, secure: bool) -> None:
    """Refuse before anything is created (no network, no volume, no mode recorded) when an image
    is missing: Compose would make the network and the volumes first, then fail on the pull."""
    missing = missing_images(settings, secure)
    if missing:
        names = " ".join(m.split(" ", 1)[0] for m in missing)
        raise NotFoundError(
            f"image{'s' if len(missing) > 1 else ''} not built: {', '.join(missing)}",
            f"build {'them' if len(missing) > 1 else 'it'} first: `svcctl build {names}` (or `svcctl build` for all)",
        )


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


def _container_ids(compose, services: list[str]) -> dict[str, str]:
    return {container.name: container.id for container in compose.compose.ps(services=services, all=True)}


@dataclass(frozen=True)
class LocalEnsemble:
    """The project's cluster on this process's engine (ensemble.current chooses it when no
    cluster over hosts is asked for or recorded)."""

    settings: Settings

    def member_containers(self) -> dict[ZkHost, str]:
        return member_containers(self.settings)

    def up(
        self, policy: SecurityPolicy, timeout: float = 120, on_progress: Progress = no_progress
    ) -> tuple[Settings, list[MemberStatus]]:
        """Start what is not running and wait for quorum. Running containers are left alone
        unless their image was rebuilt or their settings changed: then Compose recreates them,
        as `docker compose up` does (data stays in the volumes). Secured: TLS and ACLs with the
        project's PKI (made once; a rotating policy remakes it and restarts the cluster on the
        new one). A cluster never changes mode in place: that needs `cluster down --volumes`
        first. Returns the settings (unchanged) and the members."""
        from svcctl.security.mode import record_mode

        settings = self.settings
        secure = policy.secured
        wanted = policy.mode
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
        require_images(settings, secure)
        if secure:
            from svcctl.security.pki import ensure_pki, hand_over, pki_dir

            # A new CA (or quorum CA) changes the containers' svcctl.pki label: Compose recreates them on it.
            pki, done = ensure_pki(pki_dir(settings.state_path()), rotate=policy.rotates_pki)
            if done:
                on_progress(f"PKI {done} under {pki.root} (give {pki.ca} to your own consumers)")
            hand_over(pki, settings.container_uid)
        record_mode(settings.state_path(), settings.project, wanted)
        compose = compose_client(settings)
        services = cluster_services(settings, secure)
        # Secured, the members start alone: the registrators (and anything else with an identity of
        # ours) come up only once the tree is the admin's, with its final ACLs.
        stages = (
            [list(ENSEMBLE_SERVICES), [s for s in services if s not in ENSEMBLE_SERVICES]] if secure else [services]
        )

        def start() -> tuple[dict[str, str], dict[str, str]]:
            before = _container_ids(compose, services)
            for stage in filter(None, stages):
                on_progress(f"starting {', '.join(stage)}" + (" (TLS+ACL)" if secure else ""))
                compose.compose.up(services=stage, detach=True, quiet=True)
                if secure and stage == stages[0]:
                    self.wait_for_quorum(timeout, on_progress)
                    secure_tree(settings, local_writers(settings), on_progress)
            return before, _container_ids(compose, services)

        before, after = run_compose("cluster up", start)
        recreated = sorted(
            name for name, container_id in before.items() if after.get(name, container_id) != container_id
        )
        if recreated:
            on_progress(f"recreated {', '.join(recreated)} (image rebuilt, settings changed or PKI remade)")
        return settings, self.wait_for_quorum(timeout, on_progress)

    def wait_for_quorum(self, timeout: float = 120, on_progress: Progress = no_progress) -> list[MemberStatus]:
        stats = wait_for_quorum(self.settings, self.member_containers(), None, timeout, on_progress)
        return self.status(stats)

    def status(self, stats: list[ServerStats] | None = None) -> list[MemberStatus]:
        """Each member's container state and what it answers (`stats`: already asked)."""
        hosts = self.settings.ensemble_hosts
        if stats is None:
            tls = four_letter_tls(self.settings)
            stats = [server_stats(h.host, h.port, tls=tls) for h in hosts]
        containers = self.member_containers()
        try:
            states = container_states(self.settings.engine, list(containers.values()))
        except SvcctlError:  # status still answers from ZooKeeper alone when the engine is away
            states = {}
        return [
            MemberStatus(str(h), containers.get(h, "-"), states.get(containers.get(h, ""), "absent"), s)
            for h, s in zip(hosts, stats, strict=True)
        ]

    def registrators(self, zk_reachable: bool) -> list[RegistratorRow]:
        """The project's registrators, ZooKeeper asked only when `zk_reachable`."""
        from svcctl.ensemble.status import cluster_registrators

        return cluster_registrators(self.settings, zk_reachable=zk_reachable)

    def down(self, volumes: bool = False, on_progress: Progress = no_progress) -> Settings:
        """The cluster removed (with its volumes: its data); returns the settings (unchanged)."""
        from svcctl.security.mode import forget_mode

        settings = self.settings
        compose = compose_client(settings)
        on_progress("removing the project's containers" + (" and volumes" if volumes else ""))
        run_compose("cluster down", lambda: compose.compose.down(volumes=volumes, quiet=True, timeout=10))
        if volumes:  # no data left: the next `cluster up` may choose either mode
            forget_mode(settings.state_path(), settings.project)
        return settings
