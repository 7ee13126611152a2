"""One-shot znode operations on a started kazoo client: list, walk, get, stat, remove.

Errors are domain errors: a missing path is NotFoundError, a protected path is BadInputError.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable

from svcctl.errors import BadInputError, ConflictError, NotFoundError
from svcctl.zk.tree import decode_json, join_path

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
        raise BadInputError(f"bad znode path {path!r}: . and .. are not allowed", "give the full path, e.g. /services/service_1")
    return "/" + "/".join(parts)


def _not_found(path: str) -> NotFoundError:
    return NotFoundError(f"znode {path} does not exist", "list what exists with `svcctl zk ls /` or `svcctl zk tree /services`")


@dataclass
class NodeStat:
    """The fields of ZooKeeper's Stat a user reads, plus derived ones."""

    version: int
    cversion: int
    aversion: int
    ephemeral_owner: int
    ephemeral: bool
    ctime: float  # seconds since the epoch (ZooKeeper keeps milliseconds)
    mtime: float
    czxid: int
    mzxid: int
    pzxid: int
    data_length: int
    num_children: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ephemeral_owner"] = hex(self.ephemeral_owner) if self.ephemeral_owner else "0x0"
        return out


def node_stat(stat: Any) -> NodeStat:
    return NodeStat(
        version=stat.version,
        cversion=stat.cversion,
        aversion=stat.aversion,
        ephemeral_owner=stat.ephemeralOwner,
        ephemeral=bool(stat.ephemeralOwner),
        ctime=stat.ctime / 1000.0,
        mtime=stat.mtime / 1000.0,
        czxid=stat.czxid,
        mzxid=stat.mzxid,
        pzxid=stat.pzxid,
        data_length=stat.dataLength,
        num_children=stat.numChildren,
    )


@dataclass
class NodeInfo:
    path: str
    data: bytes
    stat: NodeStat

    def to_dict(self) -> dict[str, Any]:
        text, parsed = decode_json(self.data)
        return {"path": self.path, "data": parsed if parsed is not None else text, "json": parsed is not None, "stat": self.stat.to_dict()}


def get_node(client: "KazooClient", path: str) -> NodeInfo:
    from kazoo.exceptions import NoNodeError

    path = normalize_path(path)
    try:
        data, stat = client.get(path)
    except NoNodeError:
        raise _not_found(path) from None
    return NodeInfo(path, data or b"", node_stat(stat))


def stat_node(client: "KazooClient", path: str) -> NodeStat:
    path = normalize_path(path)
    stat = client.exists(path)
    if stat is None:
        raise _not_found(path)
    return node_stat(stat)


def list_children(client: "KazooClient", path: str) -> list[str]:
    from kazoo.exceptions import NoNodeError

    path = normalize_path(path)
    try:
        return sorted(client.get_children(path))
    except NoNodeError:
        raise _not_found(path) from None


def walk(client: "KazooClient", path: str, with_data: bool = False, max_depth: int | None = None) -> tuple[dict[str, list[str]], dict[str, NodeInfo]]:
    """The subtree under `path` (down to `max_depth` levels below it): (path → sorted child
    names, path → NodeInfo when with_data). The one tree reader: zk ls/tree, discover, ps, the
    scenarios, prune and the registrators' status all read through it.

    One level at a time with kazoo's async calls, so a wide tree costs one round trip per level
    instead of one per node. Nodes deleted while walking are simply left out.
    """
    from kazoo.exceptions import NoNodeError

    path = normalize_path(path)
    children: dict[str, list[str]] = {}
    infos: dict[str, NodeInfo] = {}
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
            infos[p] = NodeInfo(p, data or b"", node_stat(stat))
        level = next_level
        first = False
        depth += 1
    return children, infos


def registry_tree(client: "KazooClient", base: str, with_data: bool = False) -> tuple[dict[str, list[str]], dict[str, NodeInfo]]:
    """A registry's two levels, its services and their registrations, in one walk (an absent
    base reads as empty). A service node absent from the children map does not exist."""
    try:
        return walk(client, base, with_data=with_data, max_depth=2)
    except NotFoundError:
        return {}, {}


def draw_tree(client: "KazooClient", path: str, data: bool = False, max_len: int = 80,
              summarize: Callable[[bytes | str | None, int], str] | None = None) -> str:
    """The subtree drawn as `zk tree` and the scenarios show it (labels: tree.node_labels)."""
    from svcctl.zk.tree import node_labels, render_tree

    path = normalize_path(path)
    try:
        children, infos = walk(client, path, with_data=True)
    except NotFoundError:
        return f"{path}  (no node)"
    return render_tree(path, children, node_labels(infos, data, max_len, summarize))


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
        raise BadInputError(f"refusing to remove {path}: it belongs to ZooKeeper itself", "remove a path of your own, e.g. /services/<name>")
    return path


def plan_remove(client: "KazooClient", path: str, recursive: bool) -> list[str]:
    """What `remove` would delete, deepest first. Without `recursive`, a node with children is
    a ConflictError (like `rm` on a directory)."""
    path = check_removable(path)
    children, _ = walk(client, path)
    below = descendants(path, children)
    if below and not recursive:
        raise ConflictError(f"{path} has {len(children.get(path, []))} children", "pass -r to remove it with everything below it")
    return list(reversed(below)) + [path]


def remove(client: "KazooClient", paths: list[str]) -> list[str]:
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
