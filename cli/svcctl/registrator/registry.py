"""Reads of the registry under BASE, pipelined (every request sent before the first answer is
awaited): the ZooKeeper side of a reconciliation's input."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from svcctl.zk.znode import ZnodeSnapshot

if TYPE_CHECKING:
    from kazoo.client import KazooClient


def read_nodes(client: KazooClient, paths: Iterable[str]) -> dict[str, ZnodeSnapshot]:
    """The registration nodes among `paths` that exist."""
    return _collect([(p, client.get_async(p)) for p in paths])


def read_tree(client: KazooClient, base: str) -> tuple[dict[str, ZnodeSnapshot], list[str]]:
    """Every registration node under BASE, and the service nodes that have none (through the one
    tree reader, svcctl.zk.ops.registry_snapshots)."""
    from svcctl.zk.ops import join_path, registry_snapshots

    tree = registry_snapshots(client, base)
    root = tree.get(base)
    nodes: dict[str, ZnodeSnapshot] = {}
    empty: list[str] = []
    for service in sorted(root.children or ()) if root is not None else ():
        service_path = join_path(base, service)
        service_node = tree.get(service_path)
        if service_node is None or service_node.children is None:
            continue  # deleted while we read
        if not service_node.children:
            empty.append(service_path)
        for path in (join_path(service_path, kid) for kid in sorted(service_node.children)):
            node = tree.get(path)
            if node is not None:
                nodes[path] = node
    return nodes, empty


def _collect(pending) -> dict[str, ZnodeSnapshot]:
    from kazoo.exceptions import NoNodeError

    out: dict[str, ZnodeSnapshot] = {}
    for path, result in pending:
        try:
            data, stat = result.get()
        except NoNodeError:
            continue
        out[path] = ZnodeSnapshot.from_kazoo(path, data, stat)
    return out
