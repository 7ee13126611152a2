"""Who registers: the registrators' election nodes read back from ZooKeeper (no docker needed).
The first contender of an engine's election is its active writer; the registrations it owns
are the nodes under BASE whose ephemeral owner is its session."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from svcctl.config.settings import DEFAULT_BASE, Settings
from svcctl.registry.election import ELECTION_ROOT, ElectionIdentity, contenders_in_order
from svcctl.security.mode import client_tls

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


def owners_under(client: KazooClient, base: str) -> Counter:
    """Registration nodes under BASE counted per ephemeral owner (session id)."""
    from svcctl.zk.ops import registry_snapshots

    nodes = registry_snapshots(client, base)
    depth = base.rstrip("/").count("/") + 2
    return Counter(
        node.ephemeral_owner for path, node in nodes.items() if path.count("/") == depth and node.ephemeral_owner
    )


def registrators(client: KazooClient, base: str = DEFAULT_BASE) -> list[RegistratorStatus]:
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
            info = ElectionIdentity.from_bytes(data)
            role = "active" if index == 0 else "standby"
            since = info.since if role == "active" and info.role == "active" else info.started_at
            out.append(
                RegistratorStatus(
                    id=info.id or child,
                    engine_id=engine,
                    role=role,
                    since=since,
                    registrations=owners.get(stat.ephemeralOwner, 0),
                    session=hex(stat.ephemeralOwner),
                    hostname=info.hostname,
                    pid=info.pid,
                    node=f"{path}/{child}",
                    identity=info.x509,
                )
            )
    return out


def read_registrators(
    settings: Settings, base: str = DEFAULT_BASE, connect_timeout: float = 5.0
) -> list[RegistratorStatus]:
    from svcctl.zk.client import zk_session

    with zk_session(settings.zk_hosts, connect_timeout=connect_timeout, tls=client_tls(settings)) as client:
        return registrators(client, base)
