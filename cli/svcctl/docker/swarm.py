"""Docker Swarm through the docker SDK: a node's swarm state, init, join, the join tokens, the
nodes as a manager sees them, their labels. Errors come back as svcctl's, naming the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from svcctl.docker.objects import api_failure

if TYPE_CHECKING:
    import docker

SWARM_PORT = 2377  # raft and the control plane between managers; the joins go there


@dataclass(frozen=True)
class SwarmNode:
    """A node as a manager reports it."""

    node_id: str
    hostname: str
    role: str  # manager | worker
    leader: bool
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    address: str
    labels: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def membership(client: docker.DockerClient) -> tuple[str, bool]:
    """This engine's own view, from one `docker info`: its LocalNodeState (inactive, pending,
    active, error or locked) and whether it is a manager."""
    facts = client.info().get("Swarm") or {}
    return str(facts.get("LocalNodeState") or "inactive"), bool(facts.get("ControlAvailable"))


def init(client: docker.DockerClient, address: str) -> None:
    """A new swarm with this engine its first manager, advertising `address`."""
    import docker.errors

    try:
        client.swarm.init(advertise_addr=address, listen_addr=f"0.0.0.0:{SWARM_PORT}")
    except docker.errors.APIError as exc:
        raise api_failure(f"swarm init on {address}", exc, "`svcctl hosts down` and up again start clean") from exc


def join_tokens(client: docker.DockerClient) -> dict[str, str]:
    """{"Manager": …, "Worker": …} of the swarm this manager belongs to."""
    client.swarm.reload()
    return dict(client.swarm.attrs["JoinTokens"])


def join(client: docker.DockerClient, manager: str, token: str, address: str) -> None:
    """Join the swarm whose manager listens at `manager` (an address), advertising `address`."""
    import docker.errors

    try:
        client.swarm.join(
            remote_addrs=[f"{manager}:{SWARM_PORT}"],
            join_token=token,
            advertise_addr=address,
            listen_addr=f"0.0.0.0:{SWARM_PORT}",
        )
    except docker.errors.APIError as exc:
        raise api_failure(f"swarm join of {address}", exc, "`svcctl hosts down` and up again start clean") from exc


def nodes(client: docker.DockerClient) -> list[SwarmNode]:
    """Every node of the swarm, as this manager sees it."""
    found = []
    for node in client.nodes.list():
        attrs = node.attrs
        spec, status = attrs.get("Spec") or {}, attrs.get("Status") or {}
        found.append(
            SwarmNode(
                node_id=str(attrs.get("ID")),
                hostname=str((attrs.get("Description") or {}).get("Hostname") or ""),
                role=str(spec.get("Role") or "worker"),
                leader=bool((attrs.get("ManagerStatus") or {}).get("Leader")),
                state=str(status.get("State") or "unknown"),
                availability=str(spec.get("Availability") or "active"),
                address=str(status.get("Addr") or ""),
                labels=dict(spec.get("Labels") or {}),
            )
        )
    return sorted(found, key=lambda n: n.hostname)


def set_labels(client: docker.DockerClient, node_id: str, labels: dict[str, str]) -> None:
    """Add `labels` to the node's spec (the others kept), so that placement can pin a service."""
    node = client.nodes.get(node_id)
    spec = dict(node.attrs["Spec"])
    spec["Labels"] = {**(spec.get("Labels") or {}), **labels}
    node.update(spec)
