"""The layout of a cluster spread over Docker hosts (`svcctl cluster up --hosts`): which host runs
which member, recorded as `cluster-<project>.json` in the project's state directory (Settings.state_path:
`.svcctl/` in a checkout, `$XDG_STATE_HOME/svcctl/<project>` for an installed copy) so later
commands (cluster status/down, zk, discover, call, gateway, ps --all-hosts) use those members
without --zk. Plain JSON; no docker imports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.config.engines import EngineEndpoint
from svcctl.config.settings import ZkHost, format_zk_hosts
from svcctl.files import atomic_write

if TYPE_CHECKING:
    from svcctl.config.settings import Settings


@dataclass(frozen=True)
class HostMember:
    """Host i of the cluster: its Docker context and engine, its address, and member i on it."""

    context: str
    engine: str  # tcp://ADDR:PORT
    address: str
    member_id: int
    client_port: int = 2181
    tls_dir: str | None = None  # the context's TLS material for its engine (a layout recorded before: None)

    @property
    def endpoint(self) -> EngineEndpoint:
        return EngineEndpoint(self.engine, self.context, self.tls_dir)

    @property
    def zk_host(self) -> ZkHost:
        return ZkHost(self.address, self.client_port)


COMPOSE = "compose"  # a Compose project per host (`cluster up --hosts`)
SWARM = "swarm"  # one stack on the hosts' swarm (`cluster up --swarm`)


@dataclass(frozen=True)
class ClusterLayout:
    project: str
    hosts: tuple[HostMember, ...]
    orchestrator: str = COMPOSE  # who starts the members and the registrators on the hosts

    @property
    def on_swarm(self) -> bool:
        return self.orchestrator == SWARM

    @property
    def zk_hosts(self) -> list[ZkHost]:
        return [h.zk_host for h in self.hosts]

    def connect_string(self) -> str:
        return format_zk_hosts(self.zk_hosts)

    def zoo_servers(self) -> str:
        """ZOO_SERVERS naming every member by its host's address (the same on every member)."""
        return " ".join(f"server.{h.member_id}={h.address}:2888:3888;{h.client_port}" for h in self.hosts)

    def contexts(self) -> list[str]:
        return [h.context for h in self.hosts]

    def to_dict(self) -> dict:
        return {"project": self.project, "orchestrator": self.orchestrator, "hosts": [asdict(h) for h in self.hosts]}

    @classmethod
    def from_dict(cls, data: dict) -> ClusterLayout:
        return cls(
            str(data["project"]),
            tuple(HostMember(**h) for h in data["hosts"]),
            str(data.get("orchestrator") or COMPOSE),  # recorded before Swarm: Compose's
        )


def layout_path(state: Path, project: str) -> Path:
    """The layout file of `project` in the state directory `state`."""
    return state / f"cluster-{project}.json"


def load_layout(state: Path, project: str) -> ClusterLayout | None:
    """The recorded layout, or None (none recorded, or unreadable: then the project is local)."""
    try:
        return ClusterLayout.from_dict(json.loads(layout_path(state, project).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_layout(state: Path, layout: ClusterLayout) -> Path:
    path = layout_path(state, layout.project)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(layout.to_dict(), indent=2) + "\n", mode=0o644)
    return path


def remove_layout(state: Path, project: str) -> bool:
    path = layout_path(state, project)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def recorded_layout(settings: Settings) -> ClusterLayout | None:
    """The layout of this project's cluster, if it runs over hosts; None when there is no
    project directory (commands that need none still work) or nothing is recorded."""
    from svcctl.errors import NotFoundError

    try:
        state = settings.state_path(create=False)
    except NotFoundError:
        return None
    return load_layout(state, settings.project)
