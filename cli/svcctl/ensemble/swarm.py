"""The ensemble as one stack on the hosts' Docker Swarm (`svcctl cluster up --swarm`): member i a
service pinned to host i's node (its node label, see svcctl.toolkit.swarm), on the node's own
network so that its client and quorum ports are the node's, as over hosts; the registrators one
`mode: global` service, a task per node, each advertising its node's address. Swarm places,
restarts and (for the workload) reschedules; svcctl writes the stack file and records the layout
(orchestrator "swarm"), so later commands find the members as they find a cluster over hosts.

Not here: the ingress routing mesh (it needs IPVS, which not every kernel has): every port is
published in host mode, on the node that runs the task. Secure mode is refused in one line."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from svcctl.config.layout import SWARM, ClusterLayout, HostMember, remove_layout, save_layout
from svcctl.config.settings import DEFAULT_BASE, Settings, ZkHost
from svcctl.docker import labels
from svcctl.ensemble.hosts import member_engines, plan_layout
from svcctl.ensemble.members import MemberStatus
from svcctl.ensemble.quorum import wait_for_quorum
from svcctl.errors import BadInputError, ConflictError, SvcctlError
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import SecurityPolicy
from svcctl.wait import poll_until
from svcctl.zk.fourletter import ServerStats, server_stats

if TYPE_CHECKING:
    from pathlib import Path

    from svcctl.ensemble.status import RegistratorRow

REGISTRATOR_SERVICE = "registrator"
SWARM_FIX = "are the hosts one swarm? `svcctl hosts up 3 --swarm`, then `svcctl hosts ls`"
SESSION_TIMEOUT = 10


def member_service(member: HostMember) -> str:
    """Member i's service in the stack (the swarm service is `<project>_zoo<i>`)."""
    return f"zoo{member.member_id}"


def registrator_id(host: str) -> str:
    """The election id of the registrator task on `host` (its node's hostname: the host's name)."""
    return f"{host}-{REGISTRATOR_SERVICE}"


def stack_spec(
    layout: ClusterLayout, zk_image: str, registrator_image: str, label_filter: str = "", base: str = DEFAULT_BASE
) -> dict[str, Any]:
    """The stack file (Compose file format 3.8, as JSON, which is YAML) of the cluster (pure);
    `label_filter`: the registrators' scope (empty: every container of their node)."""
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    for member in layout.hosts:
        name = member_service(member)
        services[name] = {
            "image": zk_image,
            "hostname": member.context,
            "networks": ["hostnet"],
            "environment": {
                "ZOO_MY_ID": str(member.member_id),
                "ZOO_SERVERS": layout.zoo_servers(),
                "ZOO_4LW_COMMANDS_WHITELIST": "srvr, mntr, ruok, stat, cons",
                "ZOO_STANDALONE_ENABLED": "false",
                "JVMFLAGS": "-Xms32m -Xmx128m",
            },
            "volumes": [f"{name}-data:/data", f"{name}-datalog:/datalog"],
            "labels": {"SERVICE_IGNORE": "true"},
            "deploy": {
                "placement": {"constraints": [f"node.labels.{labels.SWARM_HOST} == {member.context}"]},
                "restart_policy": {"condition": "any", "delay": "2s"},
            },
        }
        volumes[f"{name}-data"] = {}
        volumes[f"{name}-datalog"] = {}
    services[REGISTRATOR_SERVICE] = {
        "image": registrator_image,
        "networks": ["hostnet"],
        "volumes": ["/var/run/docker.sock:/var/run/docker.sock:ro"],
        "command": [
            "-swarm-node-ip",
            "-resync",
            "30",
            "-session-timeout",
            str(SESSION_TIMEOUT),
            f"zookeeper://{layout.connect_string()}{base}",
        ],
        # Swarm's template: each task named after its node, the host it runs on.
        "environment": {
            "SVCCTL_REGISTRATOR_ID": "{{.Node.Hostname}}-" + REGISTRATOR_SERVICE,
            "SVCCTL_LABEL_FILTER": label_filter,
        },
        "labels": {"SERVICE_IGNORE": "true"},
        "stop_grace_period": "15s",
        "deploy": {"mode": "global", "restart_policy": {"condition": "any", "delay": "1s"}},
    }
    return {
        "version": "3.8",
        "services": services,
        "networks": {"hostnet": {"external": True, "name": "host"}},
        "volumes": volumes,
    }


@dataclass(frozen=True)
class StackContainer:
    """A task container of the stack on one node."""

    name: str
    service: str  # the stack's service, without the namespace
    state: str
    created: str


def stack_containers(settings: Settings, member: HostMember) -> list[StackContainer] | None:
    """The stack's task containers on one host, None when its engine does not answer."""
    from svcctl.docker.containers import project_service_number
    from svcctl.docker.engine import client_for

    try:
        client = client_for(member.endpoint, timeout=3)
        listed = client.api.containers(all=True, filters={"label": f"{labels.STACK_NAMESPACE}={settings.project}"})
    except (SvcctlError, OSError):
        return None
    found = []
    for entry in listed:
        _, service, _ = project_service_number(entry.get("Labels") or {})
        name = ((entry.get("Names") or [""])[0]).lstrip("/")
        found.append(StackContainer(name, service or "", str(entry.get("State")), str(entry.get("Created"))))
    return found


def current_container(containers: list[StackContainer] | None, service: str) -> StackContainer | None:
    """The task container of `service` that counts: the running one, else the newest."""
    matching = [c for c in containers or [] if c.service == service]
    return min(matching, key=lambda c: (c.state != "running", -int(c.created or 0)), default=None)


def swarm_manager(layout: ClusterLayout) -> HostMember:
    """The first host of the layout whose engine answers as a swarm manager: where stacks and
    services are deployed, scaled and removed."""
    from svcctl.docker.engine import client_for
    from svcctl.docker.swarm import membership

    for member in layout.hosts:
        try:
            if membership(client_for(member.endpoint, timeout=5)) == ("active", True):
                return member
        except SvcctlError:
            continue
    raise BadInputError(f"no host of {', '.join(layout.contexts())} is a swarm manager that answers", SWARM_FIX)


def _per_host(settings: Settings, layout: ClusterLayout) -> dict[str, list[StackContainer] | None]:
    with ThreadPoolExecutor(max_workers=len(layout.hosts)) as pool:
        found = list(pool.map(lambda m: stack_containers(settings, m), layout.hosts))
    return {m.context: f for m, f in zip(layout.hosts, found, strict=True)}


@dataclass(frozen=True)
class SwarmEnsemble:
    """The project's cluster as a stack on the swarm of `contexts` (none: the recorded layout's
    hosts); ensemble.current chooses it."""

    settings: Settings
    contexts: tuple[str, ...] = ()

    def _layout(self) -> ClusterLayout:
        if self.settings.layout is not None and not self.contexts:
            return self.settings.layout
        planned = plan_layout(self.settings.project, list(self.contexts), self.settings.docker_env())
        return replace(planned, orchestrator=SWARM)

    def _check_nodes(self, layout: ClusterLayout, manager: HostMember) -> None:
        """Every host a ready node of the manager's swarm, labelled with its name."""
        from svcctl.docker.engine import client_for
        from svcctl.docker.swarm import nodes

        seen = {n.hostname: n for n in nodes(client_for(manager.endpoint))}
        missing = [
            m.context
            for m in layout.hosts
            if m.context not in seen
            or seen[m.context].state != "ready"
            or seen[m.context].labels.get(labels.SWARM_HOST) != m.context
        ]
        if missing:
            raise BadInputError(f"{', '.join(missing)}: not a ready, labelled node of the swarm", SWARM_FIX)

    def stack_file(self, layout: ClusterLayout) -> Path:
        from svcctl.files import atomic_write

        path = self.settings.state_path() / f"swarm-stack-{self.settings.project}.json"
        from svcctl.docker.labels import STACK_NAMESPACE
        from svcctl.ensemble.project import registrator_label_filter

        scope = registrator_label_filter(self.settings.project, STACK_NAMESPACE)
        spec = stack_spec(layout, self.settings.zk_image, self.settings.registrator_image, scope)
        atomic_write(path, json.dumps(spec, indent=2) + "\n", mode=0o644)
        return path

    def up(
        self, policy: SecurityPolicy, timeout: float = 120, on_progress: Progress = no_progress
    ) -> tuple[Settings, list[MemberStatus]]:
        """The stack deployed (a service already there is updated only where the file changed),
        the layout recorded, then the quorum waited for."""
        from svcctl.docker.swarm import deploy_stack
        from svcctl.security.mode import OPEN, record_mode

        settings = self.settings
        if policy.secured:
            raise BadInputError(
                "secure mode is not available on Swarm yet",
                "a secured cluster over the same hosts: `svcctl cluster up --hosts CTX1,CTX2,CTX3 --secure`",
            )
        recorded = settings.layout
        layout = self._layout()
        if recorded is not None and (not recorded.on_swarm or recorded.contexts() != layout.contexts()):
            how = "as a stack on" if recorded.on_swarm else "with Compose on"
            raise ConflictError(
                f"the cluster of project {settings.project} already runs {how} {', '.join(recorded.contexts())}",
                "`svcctl cluster down` first",
            )
        manager = swarm_manager(layout)
        self._check_nodes(layout, manager)
        record_mode(settings.state_path(), settings.project, OPEN, over_hosts=True)
        save_layout(settings.state_path(), layout)
        settings = replace(settings, layout=layout, zk=layout.connect_string())
        path = SwarmEnsemble(settings).stack_file(layout)
        for member in layout.hosts:
            on_progress(f"{member.context} ({member.address}): {member_service(member)} pinned to its node")
        on_progress(f"stack {settings.project}: deploying from {path} (registrators: one per node)")
        for line in deploy_stack(manager.endpoint, settings.project, path, SWARM_FIX):
            on_progress(f"stack {settings.project}: {line}")
        started = SwarmEnsemble(settings)
        stats = wait_for_quorum(settings, started.member_containers(), member_engines(layout), timeout, on_progress)
        return settings, started.status(stats)

    def member_containers(self) -> dict[ZkHost, str]:
        layout = self._layout()
        per_host = _per_host(self.settings, layout)
        found = {}
        for member in layout.hosts:
            container = current_container(per_host[member.context], member_service(member))
            found[member.zk_host] = container.name if container else ""
        return found

    def status(self, stats: list[ServerStats] | None = None) -> list[MemberStatus]:
        """Each member's task container on its node ("host down" when the engine does not
        answer, "absent" when no task runs there) and what it answers."""
        from svcctl.ensemble.quorum import four_letter_tls

        settings = self.settings
        layout = self._layout()
        hosts = settings.ensemble_hosts
        if stats is None:
            tls = four_letter_tls(settings)
            stats = [server_stats(h.host, h.port, tls=tls) for h in hosts]
        per_host = _per_host(settings, layout)
        rows = []
        for host, stat, member in zip(hosts, stats, layout.hosts, strict=True):
            containers = per_host[member.context]
            container = current_container(containers, member_service(member))
            state = "host down" if containers is None else (container.state if container else "absent")
            rows.append(MemberStatus(str(host), container.name if container else "", state, stat, member.context))
        return rows

    def registrators(self, zk_reachable: bool) -> list[RegistratorRow]:
        """Per node, its registrator task (by its election id), ZooKeeper asked when reachable."""
        from svcctl.ensemble.status import join_registrators

        layout = self._layout()
        per_host = _per_host(self.settings, layout)
        states = {}
        for member in layout.hosts:
            containers = per_host[member.context]
            container = current_container(containers, REGISTRATOR_SERVICE)
            states[registrator_id(member.context)] = (
                "host down" if containers is None else (container.state if container else "absent")
            )
        return join_registrators(self.settings, list(states), states, zk_reachable)

    def down(self, volumes: bool = False, on_progress: Progress = no_progress) -> Settings:
        """The stack removed (the workload's services with it: they are in its namespace), its
        task containers waited for on every node that answers, the members' volumes removed
        with `volumes`; then the layout forgotten."""
        import time

        from svcctl.docker.swarm import remove_stack
        from svcctl.security.mode import forget_mode

        settings = self.settings
        layout = self._layout()
        manager = swarm_manager(layout)
        on_progress(f"stack {settings.project}: removing its services")
        remove_stack(manager.endpoint, settings.project, SWARM_FIX)

        def left() -> list[str]:
            return [
                c.name
                for found in _per_host(settings, layout).values()
                for c in found or []
                if c.state in ("running", "created", "restarting")
            ]

        remaining = poll_until(left, lambda names: not names, time.monotonic() + 60, interval=0.5)
        if remaining:
            raise SvcctlError(
                f"stack {settings.project}: tasks still running after 60 s ({', '.join(remaining)})",
                "`svcctl cluster down` again, or look at `docker --context HOST ps`",
            )
        if volumes:
            on_progress("removing the members' volumes")
            remove_member_volumes(settings, layout)
        remove_layout(settings.state_path(), settings.project)
        if volumes:
            forget_mode(settings.state_path(), settings.project, over_hosts=True)
        return replace(settings, layout=None)


def remove_member_volumes(settings: Settings, layout: ClusterLayout) -> None:
    """Each member's data volumes (`<project>_zoo<i>-data`, `-datalog`) off its node; the task
    containers that used them stay until swarm prunes them, so those go first."""
    from svcctl.docker.engine import client_for
    from svcctl.docker.objects import or_none, remove

    for member in layout.hosts:
        try:
            client = client_for(member.endpoint, timeout=5)
        except SvcctlError:
            continue
        service = f"{settings.project}_{member_service(member)}"
        for container in client.containers.list(all=True, filters={"label": f"{labels.SWARM_SERVICE_NAME}={service}"}):
            remove(container, force=True)
        for suffix in ("data", "datalog"):
            volume = or_none(client.volumes.get, f"{service}-{suffix}")
            if volume is not None:
                remove(volume, attempts=10, force=True)
