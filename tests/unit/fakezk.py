"""An in-memory ZooKeeper for unit tests of the registrator's parts, behaving like the real one
where that code depends on it: versions (BadVersionError), ephemeral nodes owned by a session and
removed when it expires, NoNode for a missing parent, NotEmpty when deleting a parent, NodeExists,
ctime/czxid/mzxid, and multi-op transactions that apply all or nothing with ZooKeeper's per-op
results (RolledBackError before the failing op, RuntimeInconsistency after it)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from kazoo.exceptions import (
    BadVersionError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import KazooState


@dataclass(frozen=True)
class Stat:
    czxid: int
    mzxid: int
    ctime: int  # ms
    mtime: int
    version: int
    ephemeralOwner: int
    numChildren: int = 0
    dataLength: int = 0
    cversion: int = 0
    aversion: int = 0
    pzxid: int = 0


@dataclass
class Node:
    data: bytes
    stat: Stat


class Done:
    """kazoo's IAsyncResult, already resolved."""

    def __init__(self, value) -> None:
        self.value = value

    def get(self, block=True, timeout=None):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class FakeEnsemble:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {"/": Node(b"", Stat(0, 0, 0, 0, 0, 0))}
        self.zxid = 0
        self.clock_ms = lambda: int(time.time() * 1000)
        self.sessions: set[int] = set()

    # --- one operation, or raise -------------------------------------------------------------

    def _parent(self, path: str) -> str:
        return path.rsplit("/", 1)[0] or "/"

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.nodes if p.startswith(prefix) and p != path and "/" not in p[len(prefix):])

    def stat(self, path: str) -> Stat | None:
        node = self.nodes.get(path)
        return replace(node.stat, numChildren=len(self.children(path)), dataLength=len(node.data)) if node else None

    def create(self, nodes: dict[str, Node], path: str, data: bytes, owner: int) -> str:
        if path in nodes:
            raise NodeExistsError()
        if self._parent(path) not in nodes:
            raise NoNodeError()
        self.zxid += 1
        now = self.clock_ms()
        nodes[path] = Node(data, Stat(self.zxid, self.zxid, now, now, 0, owner))
        return path

    def delete(self, nodes: dict[str, Node], path: str, version: int) -> bool:
        node = nodes.get(path)
        if node is None:
            raise NoNodeError()
        if version != -1 and node.stat.version != version:
            raise BadVersionError()
        prefix = path + "/"
        if any(p.startswith(prefix) for p in nodes):
            raise NotEmptyError()
        del nodes[path]
        self.zxid += 1
        return True

    def set(self, nodes: dict[str, Node], path: str, data: bytes, version: int) -> Stat:
        node = nodes.get(path)
        if node is None:
            raise NoNodeError()
        if version != -1 and node.stat.version != version:
            raise BadVersionError()
        self.zxid += 1
        node.data = data
        node.stat = replace(node.stat, version=node.stat.version + 1, mzxid=self.zxid, mtime=self.clock_ms())
        return node.stat

    def check(self, nodes: dict[str, Node], path: str, version: int) -> bool:
        node = nodes.get(path)
        if node is None:
            raise NoNodeError()
        if version != -1 and node.stat.version != version:
            raise BadVersionError()
        return True

    def expire(self, session: int) -> None:
        """The session is gone: every ephemeral node it owned goes with it."""
        self.sessions.discard(session)
        for path in [p for p, n in self.nodes.items() if n.stat.ephemeralOwner == session]:
            del self.nodes[path]


class FakeClient:
    """The part of KazooClient the registrator uses, on one session of a FakeEnsemble."""

    def __init__(self, ensemble: FakeEnsemble, session: int) -> None:
        self.ensemble = ensemble
        self.client_id = (session, b"")
        self.state = KazooState.CONNECTED
        ensemble.sessions.add(session)
        self.transactions = 0  # committed transactions (round trips), for the batching tests
        self.reads = 0  # node reads, for the same
        self.on_exists = None  # a hook run on each exists_async: another client acting meanwhile

    @property
    def connected(self) -> bool:
        return self.state == KazooState.CONNECTED

    def expire(self, new_session: int | None = None) -> None:
        """The ensemble expired our session; kazoo opens a new one on the same client."""
        self.ensemble.expire(self.client_id[0])
        if new_session is not None:
            self.client_id = (new_session, b"")
            self.ensemble.sessions.add(new_session)

    def _run(self, fn, *args):
        try:
            return Done(fn(*args))
        except Exception as exc:
            return Done(exc)

    def get(self, path, watch=None):
        node = self.ensemble.nodes.get(path)
        if node is None:
            raise NoNodeError()
        return node.data, self.ensemble.stat(path)

    def get_async(self, path, watch=None):
        self.reads += 1
        return self._run(self.get, path)

    def exists(self, path, watch=None):
        return self.ensemble.stat(path)

    def exists_async(self, path, watch=None):
        if self.on_exists:
            self.on_exists(path)
        return Done(self.exists(path))

    def get_children(self, path, watch=None):
        if path not in self.ensemble.nodes:
            raise NoNodeError()
        return self.ensemble.children(path)

    def get_children_async(self, path, watch=None):
        return self._run(self.get_children, path)

    def create(self, path, value=b"", ephemeral=False, makepath=False):
        if makepath:
            self.ensure_path(path.rsplit("/", 1)[0])
        return self.ensemble.create(self.ensemble.nodes, path, value, self.client_id[0] if ephemeral else 0)

    def delete(self, path, version=-1):
        return self.ensemble.delete(self.ensemble.nodes, path, version)

    def set(self, path, value, version=-1):
        return self.ensemble.set(self.ensemble.nodes, path, value, version)

    def ensure_path(self, path):
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            if sub not in self.ensemble.nodes:
                self.ensemble.create(self.ensemble.nodes, sub, b"", 0)
        return True

    def transaction(self):
        return FakeTransaction(self)


class FakeTransaction:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.ops: list[tuple] = []

    def check(self, path, version):
        self.ops.append(("check", path, version))

    def create(self, path, value=b"", acl=None, ephemeral=False, sequence=False):
        self.ops.append(("create", path, value, ephemeral))

    def delete(self, path, version=-1):
        self.ops.append(("delete", path, version))

    def set_data(self, path, value, version=-1):
        self.ops.append(("set", path, value, version))

    def commit_async(self):
        ensemble, session = self.client.ensemble, self.client.client_id[0]
        self.client.transactions += 1
        scratch = {p: Node(n.data, n.stat) for p, n in ensemble.nodes.items()}
        zxid = ensemble.zxid
        results = []
        for index, op in enumerate(self.ops):
            try:
                match op:
                    case ("check", path, version):
                        results.append(ensemble.check(scratch, path, version))
                    case ("create", path, value, ephemeral):
                        results.append(ensemble.create(scratch, path, value, session if ephemeral else 0))
                    case ("delete", path, version):
                        results.append(ensemble.delete(scratch, path, version))
                    case ("set", path, value, version):
                        results.append(ensemble.set(scratch, path, value, version))
            except Exception as exc:  # all or nothing, with ZooKeeper's per-op results
                ensemble.zxid = zxid
                return Done([RolledBackError()] * index + [exc] + [RuntimeInconsistency()] * (len(self.ops) - index - 1))
        ensemble.nodes = scratch
        return Done(results)

    def commit(self):
        return self.commit_async().get()
