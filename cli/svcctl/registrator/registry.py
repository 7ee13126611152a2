"""Reads of the registry under BASE, pipelined (every request sent before the first answer is
awaited): the ZooKeeper side of a reconciliation's input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..registration import ActualNode, decode_payload

if TYPE_CHECKING:
    from kazoo.client import KazooClient


def read_nodes(client: "KazooClient", paths: Iterable[str]) -> dict[str, ActualNode]:
    """The registration nodes among `paths` that exist."""
    return _collect([(p, client.get_async(p)) for p in paths])


def read_tree(client: "KazooClient", base: str) -> tuple[dict[str, ActualNode], list[str]]:
    """Every registration node under BASE, and the service nodes that have none."""
    from kazoo.exceptions import NoNodeError

    try:
        services = client.get_children(base)
    except NoNodeError:
        return {}, []
    listings = [(s, client.get_children_async(f"{base}/{s}")) for s in services]
    reads, empty = [], []
    for service, listing in listings:
        try:
            kids = listing.get()
        except NoNodeError:
            continue
        if not kids:
            empty.append(f"{base}/{service}")
        reads += [(f"{base}/{service}/{kid}", client.get_async(f"{base}/{service}/{kid}")) for kid in kids]
    return _collect(reads), empty


def _collect(pending) -> dict[str, ActualNode]:
    from kazoo.exceptions import NoNodeError

    out: dict[str, ActualNode] = {}
    for path, result in pending:
        try:
            data, stat = result.get()
        except NoNodeError:
            continue
        out[path] = ActualNode(path, decode_payload(data), stat.ephemeralOwner, stat.version)
    return out
