"""The simulated hosts as one Docker Swarm: host 1 initialises it, the others join over the
hosts' bridge network. Managers: every host up to three (raft keeps a quorum with one of three
managers down), workers beyond. Each node carries its host's name as a label, so that a stack can
pin a service to a host (`node.labels.io.svcctl.host == <host>`)."""

from __future__ import annotations

from dataclasses import dataclass

from svcctl.config.engines import EngineEndpoint
from svcctl.docker import swarm
from svcctl.docker.labels import SWARM_HOST
from svcctl.errors import SvcctlError
from svcctl.progress import Progress, no_progress

MAX_MANAGERS = 3


@dataclass(frozen=True)
class SwarmHost:
    name: str
    address: str
    endpoint: EngineEndpoint


def manager_count(hosts: int) -> int:
    """1 or 3: an even number of managers tolerates no more losses than one fewer would."""
    return MAX_MANAGERS if hosts >= MAX_MANAGERS else 1


def form(hosts: list[SwarmHost], on_progress: Progress = no_progress) -> list[swarm.SwarmNode]:
    """Every host in one swarm (the first one's); a host already in it is left alone, so that
    twice is harmless. Returns the nodes as the first manager sees them."""
    from svcctl.docker.engine import client_for

    if not hosts:
        raise SvcctlError("no host to form a swarm of", "start hosts first: `svcctl hosts up 3 --swarm`")
    first, clients = hosts[0], {h.name: client_for(h.endpoint, timeout=60) for h in hosts}
    leader = clients[first.name]
    state, manager = swarm.membership(leader)
    if state != "active":
        on_progress(f"swarm: init on {first.name} ({first.address})")
        swarm.init(leader, first.address)
    elif not manager:
        raise SvcctlError(
            f"{first.name} is a worker of a swarm svcctl did not form",
            "`svcctl hosts down` and `svcctl hosts up N --swarm` start clean",
        )
    tokens = swarm.join_tokens(leader)
    managers = manager_count(len(hosts))
    for position, host in enumerate(hosts[1:], start=2):
        client = clients[host.name]
        if swarm.membership(client)[0] == "active":
            continue
        role = "manager" if position <= managers else "worker"
        on_progress(f"swarm: {host.name} ({host.address}) joins as a {role}")
        swarm.join(client, first.address, tokens["Manager" if role == "manager" else "Worker"], host.address)
    unlabelled = [node for node in swarm.nodes(leader) if node.labels.get(SWARM_HOST) != node.hostname]
    for node in unlabelled:
        swarm.set_labels(leader, node.node_id, {SWARM_HOST: node.hostname})
    return swarm.nodes(leader)


def nodes_seen(hosts: list[SwarmHost]) -> list[swarm.SwarmNode] | None:
    """The swarm's nodes as the first manager that answers sees them; None when no host is in a
    swarm (or no manager answers)."""
    from svcctl.docker.engine import client_for

    for host in hosts:
        try:
            client = client_for(host.endpoint, timeout=3)
            if swarm.membership(client) == ("active", True):
                return swarm.nodes(client)
        except SvcctlError:
            continue
    return None
