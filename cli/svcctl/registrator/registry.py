"""Reads of the registry under BASE, pipelined (every request sent before the first answer is
awaited): the ZooKeeper side of a reconciliation's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from svcctl.registry.model import ActualNode
from svcctl.registry.payload import RegistrationPayload

if TYPE_CHECKING:
    from kazoo.client import KazooClient


def read_nodes(client: "KazooClient", paths: Iterable[str]) -> dict[str, ActualNode]:
    """The registration nodes among `paths` that exist."""
    return _collect([(p, client.get_async(p)) for p in paths])


def read_tree(client: "KazooClient", base: str) -> tuple[dict[str, ActualNode], list[str]]:
    """Every registration node under BASE, and the service nodes that have none (through the one
    tree reader, svcctl.zk.ops.registry_tree)."""
    from svcctl.zk.ops import join_path, registry_tree

    children, infos = registry_tree(client, base, with_data=True)
    nodes: dict[str, ActualNode] = {}
    empty: list[str] = []
    for service in children.get(base, []):
        service_path = join_path(base, service)
        kids = children.get(service_path)
        if kids is None:
            continue  # deleted while we read
        if not kids:
            empty.append(service_path)
        for path in (join_path(service_path, kid) for kid in kids):
            info = infos.get(path)
            if info is not None:
                nodes[path] = ActualNode(path, RegistrationPayload.decode(info.data), info.stat.ephemeral_owner, info.stat.version)
    return nodes, empty


def _collect(pending) -> dict[str, ActualNode]:
    from kazoo.exceptions import NoNodeError

    out: dict[str, ActualNode] = {}
    for path, result in pending:
        try:
            data, stat = result.get()
        except NoNodeError:
            continue
        out[path] = ActualNode(path, RegistrationPayload.decode(data), stat.ephemeralOwner, stat.version)
    return out
