"""One-shot znode operations on a started kazoo client: list, walk, snapshots, get, stat, remove.

Errors are domain errors: a missing path is NotFoundError, a protected path is BadInputError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from svcctl.errors import BadInputError, ConflictError, NotFoundError
from svcctl.zk.tree import join_path
from svcctl.zk.znode import ZnodeSnapshot

if TYPE_CHECKING:
    from kazoo.client import KazooClient

# ZooKeeper's own subtree (quotas, config) and the root are never ours to delete.
PROTECTED = ("/", "/zookeeper")


def normalize_path(path: str) -> str:
    """An absolute znode path without a trailing slash; rejects relative paths and `..`."""
    if not path or not path.startswith("/"):
        raise BadInputError(f"bad znode path {path!r}: it must be absolute", "start the path with /, e.g. /services")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise BadInputError(
            f"bad znode path {path!r}: . and .. are not allowed", "give the full path, e.g. /services/service_1"
        )
    return "/" + "/".join(parts)


def _not_found(path: str) -> NotFoundError:
    return NotFoundError(
        f"znode {path} does not exist", "list what exists with `svcctl zk ls /` or `svcctl zk tree /services`"
    )


def get_node(client: KazooClient, path: str) -> ZnodeSnapshot:
    from kazoo.exceptions import NoNodeError

    path = normalize_path(path)
    try:
        data, stat = client.get(path)
    except NoNodeError:
        raise _not_found(path) from None
    return ZnodeSnapshot.from_kazoo(path, data, stat)


def stat_node(client: KazooClient, path: str) -> ZnodeSnapshot:
    """The node's stat only (its data is not read: b"")."""
    path = normalize_path(path)
    stat = client.exists(path)
    if stat is None:
        raise _not_found(path)
    return ZnodeSnapshot.from_kazoo(path, None, stat)


def list_children(client: KazooClient, path: str) -> list[str]:
    from kazoo.exceptions import NoNodeError

    path = normalize_path(path)
    try:
        return sorted(client.get_children(path))
    except NoNodeError:
        raise _not_found(path) from None


def _walk(
    client: KazooClient, path: str, max_depth: int | None, with_data: bool
) -> tuple[dict[str, list[str]], dict[str, ZnodeSnapshot]]:
    """The subtree under `path` (down to `max_depth` levels below it): path → sorted child names,
    and path → snapshot (with its children when they were read) when `with_data`.

    One level at a time with kazoo's async calls, so a wide tree costs one round trip per level
    instead of one per node. Nodes deleted while walking are simply left out.
    """
    from kazoo.exceptions import NoNodeError

    path = normalize_path(path)
    children: dict[str, list[str]] = {}
    nodes: dict[str, ZnodeSnapshot] = {}
    level = [path]
    first = True
    depth = 0
    while level and (max_depth is None or depth <= max_depth):
        kid_calls = [(p, client.get_children_async(p)) for p in level]
        data_calls = [(p, client.get_async(p)) for p in level] if with_data else []
        next_level: list[str] = []
        for p, call in kid_calls:
            try:
                kids = sorted(call.get())
            except NoNodeError:
                if first:
                    raise _not_found(path) from None
                continue
            children[p] = kids
            next_level.extend(join_path(p, k) for k in kids)
        for p, call in data_calls:
            try:
                data, stat = call.get()
            except NoNodeError:
                continue
            nodes[p] = ZnodeSnapshot.from_kazoo(p, data, stat, children.get(p))
        level = next_level
        first = False
        depth += 1
    return children, nodes


def walk(client: KazooClient, path: str, max_depth: int | None = None) -> dict[str, list[str]]:
    """The subtree's shape: path → sorted child names (no data read). With `snapshots`, the one
    tree reader: zk ls/tree, discover, ps, the scenarios, prune and the registrators' status
    all read through them."""
    return _walk(client, path, max_depth, with_data=False)[0]


def snapshots(client: KazooClient, path: str, max_depth: int | None = None) -> dict[str, ZnodeSnapshot]:
    """Every node of the subtree read: path → snapshot with data, stat and child names (children
    None for a node whose child list went before it was read)."""
    return _walk(client, path, max_depth, with_data=True)[1]


def children_of(nodes: dict[str, ZnodeSnapshot]) -> dict[str, list[str]]:
    """path → sorted child names of the snapshots whose children were read (render_tree's map)."""
    return {p: sorted(n.children) for p, n in nodes.items() if n.children is not None}


def registry_tree(client: KazooClient, base: str) -> dict[str, list[str]]:
    """A registry's two levels, its services and their registrations, in one walk (an absent
    base reads as empty). A service node absent from the map does not exist."""
    try:
        return walk(client, base, max_depth=2)
    except NotFoundError:
        return {}


def registry_snapshots(client: KazooClient, base: str) -> dict[str, ZnodeSnapshot]:
    """registry_tree with every node's data and stat (an absent base reads as empty)."""
    try:
        return snapshots(client, base, max_depth=2)
    except NotFoundError:
        return {}


def draw_tree(
    client: KazooClient,
    path: str,
    data: bool = False,
    max_len: int = 80,
    summarize: Callable[[bytes | str | None, int], str] | None = None,
) -> str:
    """The subtree drawn as `zk tree` and the scenarios show it (labels: tree.node_labels)."""
    from svcctl.zk.tree import node_labels, render_tree

    path = normalize_path(path)
    try:
        nodes = snapshots(client, path)
    except NotFoundError:
        return f"{path}  (no node)"
    return render_tree(path, children_of(nodes), node_labels(nodes, data, max_len, summarize))


def descendants(path: str, children: dict[str, list[str]]) -> list[str]:
    """Every path below `path` in pre-order (parents before children)."""
    out: list[str] = []
    stack = [join_path(path, k) for k in reversed(children.get(path, []))]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(join_path(p, k) for k in reversed(children.get(p, [])))
    return out


def check_removable(path: str) -> str:
    path = normalize_path(path)
    if path in PROTECTED or path.startswith("/zookeeper/"):
        raise BadInputError(
            f"refusing to remove {path}: it belongs to ZooKeeper itself",
            "remove a path of your own, e.g. /services/<name>",
        )
    return path


def plan_remove(client: KazooClient, path: str, recursive: bool) -> list[str]:
    """What `remove` would delete, deepest first. Without `recursive`, a node with children is
    a ConflictError (like `rm` on a directory)."""
    path = check_removable(path)
    children = walk(client, path)
    below = descendants(path, children)
    if below and not recursive:
        raise ConflictError(
            f"{path} has {len(children.get(path, []))} children", "pass -r to remove it with everything below it"
        )
    return list(reversed(below)) + [path]


def remove(client: KazooClient, paths: list[str]) -> list[str]:
    """Delete `paths` in order (as planned by plan_remove); returns the ones actually deleted.
    Nodes gone meanwhile are skipped; a node that gained children meanwhile is a ConflictError."""
    from kazoo.exceptions import NoNodeError, NotEmptyError

    deleted: list[str] = []
    for p in paths:
        check_removable(p)
        try:
            client.delete(p)
        except NoNodeError:
            continue
        except NotEmptyError:
            raise ConflictError(f"{p} gained children while removing", "run the command again") from None
        deleted.append(p)
    return deleted
