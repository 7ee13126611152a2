"""Who registers: the registrators' election nodes read back from ZooKeeper (no docker needed).
The first contender of an engine's election is its active writer; the registrations it owns
are the nodes under BASE whose ephemeral owner is its session."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from svcctl.config.settings import DEFAULT_BASE, Settings
from svcctl.registry.model import decode_payload
from svcctl.registrator import ELECTION_ROOT, contenders_in_order

if TYPE_CHECKING:
    from kazoo.client import KazooClient


@dataclass
class RegistratorStatus:
    id: str
    engine_id: str
    role: str  # active | standby
    since: float | None  # active: since when; standby: since it started
    registrations: int  # nodes under BASE owned by its session
    session: str
    hostname: str | None
    pid: int | None
    node: str
    identity: str | None = None  # the x509 identity it says it writes with (a secured registry)

    def to_dict(self) -> dict:
        return asdict(self)

    def since_text(self) -> str:
        return since_text(self.since)


def since_text(value: float | None) -> str:
    """`23:23:01 (49s ago)`, or `-`."""
    if not value:
        return "-"
    return f"{time.strftime('%H:%M:%S', time.localtime(value))} ({max(0, time.time() - value):.0f}s ago)"


def owners_under(client: "KazooClient", base: str) -> Counter:
    """Registration nodes under BASE counted per ephemeral owner (session id)."""
    from svcctl.zk.ops import registry_tree

    _, infos = registry_tree(client, base, with_data=True)
    depth = base.rstrip("/").count("/") + 2
    return Counter(
        info.stat.ephemeral_owner for path, info in infos.items() if path.count("/") == depth and info.stat.ephemeral_owner
    )


def registrators(client: "KazooClient", base: str = DEFAULT_BASE) -> list[RegistratorStatus]:
    from kazoo.exceptions import NoNodeError

    try:
        engines = client.get_children(ELECTION_ROOT)
    except NoNodeError:
        return []
    owners = owners_under(client, base)
    out: list[RegistratorStatus] = []
    for engine in sorted(engines):
        path = f"{ELECTION_ROOT}/{engine}"
        try:
            children = client.get_children(path)
        except NoNodeError:
            continue
        for index, child in enumerate(contenders_in_order(children)):
            try:
                data, stat = client.get(f"{path}/{child}")
            except NoNodeError:
                continue  # left between the listing and the read
            info = decode_payload(data) or {}
            role = "active" if index == 0 else "standby"
            since = info.get("since") if role == "active" and info.get("role") == "active" else info.get("started_at")
            out.append(
                RegistratorStatus(
                    id=str(info.get("id") or child),
                    engine_id=engine,
                    role=role,
                    since=since,
                    registrations=owners.get(stat.ephemeralOwner, 0),
                    session=hex(stat.ephemeralOwner),
                    hostname=info.get("hostname"),
                    pid=info.get("pid"),
                    node=f"{path}/{child}",
                    identity=info.get("x509") if isinstance(info.get("x509"), str) else None,
                )
            )
    return out


def read_registrators(settings: Settings, base: str = DEFAULT_BASE, connect_timeout: float = 5.0) -> list[RegistratorStatus]:
    from svcctl.zk.client import zk_session

    with zk_session(settings.zk_hosts, connect_timeout=connect_timeout, tls=settings.zk_tls) as client:
        return registrators(client, base)


@dataclass
class RegistratorRow:
    """One row of the registrators table (`cluster status`, `registrator status`): a registrator
    and what ZooKeeper says of it, with its container's state when the engine was asked."""

    container: str  # the registrator's id: its container name for the project's own
    state: str | None  # the container's state, "absent", or None when the engine was not asked
    role: str  # active | standby | unknown (ZooKeeper unreachable or not elected yet)
    since: float | None
    registrations: int | None
    session: str | None
    engine: str | None = None  # the engine it registers for (its election)
    identity: str | None = None  # its x509 identity on a secured registry

    @classmethod
    def from_status(cls, status: RegistratorStatus, state: str | None = None) -> "RegistratorRow":
        return cls(status.id, state, status.role, status.since, status.registrations, status.session, status.engine_id, status.identity)

    def to_dict(self) -> dict:
        return asdict(self)

    def since_text(self) -> str:
        return since_text(self.since)


def cluster_registrators(settings: Settings, zk_reachable: bool) -> list[RegistratorRow]:
    """The project's registrator containers (when compose/registrator.yml exists) joined with
    their election nodes by id (compose sets SVCCTL_REGISTRATOR_ID to the container name);
    registrators of the ensemble that are not this project's containers are listed after them."""
    from svcctl.ensemble.local import container_states
    from svcctl.docker.compose import container_prefix
    from svcctl.errors import SvcctlError
    from svcctl.ensemble.project import REGISTRATOR_SERVICES

    names: list[str] = []
    if (settings.project_path() / "compose" / "registrator.yml").is_file():
        names = [f"{container_prefix(settings.project)}{s}" for s in REGISTRATOR_SERVICES]
    try:
        states = container_states(names) if names else {}
    except SvcctlError:
        states = {}
    return join_registrators(settings, names, states, zk_reachable)


def join_registrators(settings: Settings, names: list[str], states: dict[str, str], zk_reachable: bool) -> list[RegistratorRow]:
    """Registrator containers (in order, with their states) joined with their election nodes by
    id (ZooKeeper is asked only when reachable); the elected registrators that are none of these
    containers come after them."""
    from svcctl.errors import SvcctlError

    found: list[RegistratorStatus] = []
    if zk_reachable:
        try:
            found = read_registrators(settings, connect_timeout=3.0)
        except SvcctlError:
            found = []
    by_id = {r.id: r for r in found}
    rows = []
    for name in names:
        r = by_id.pop(name, None)
        state = states.get(name, "absent")
        rows.append(RegistratorRow.from_status(r, state) if r else RegistratorRow(name, state, "unknown", None, None, None))
    rows.extend(RegistratorRow.from_status(r) for r in by_id.values())
    return rows
