"""The one in-memory ZooKeeper of the unit tests: a `FakeEnsemble` (the servers: the tree, the
zxid, the sessions) and a `FakeClient` per session standing in for kazoo's KazooClient, with
`FakeTransaction` for its TransactionRequest.

Modelled as ZooKeeper does it: data versions (BadVersionError), ephemeral nodes owned by a session
and removed when it expires, NoNode for a missing parent, NotEmpty when deleting a parent,
NodeExists, BadArguments for a malformed path; ctime/mtime/czxid/mzxid/cversion/pzxid; multi-op
transactions that apply all or nothing in one zxid, with ZooKeeper's per-op results (RolledBackError
before the failing op, RuntimeInconsistency after it); one-shot watches that fire as ZooKeeper's
do (data watches on create/set/delete, child watches on a child's create/delete and on the node's
own delete; a watch set twice on a path fires once), for any client's writes; state listeners.
Stats and watch events are kazoo's own types (ZnodeStat, WatchedEvent). Not modelled: ACLs,
sequence nodes, and refusals of a client that is not connected or whose session expired (its
requests are served; make them fail with `fail`).

The client's public methods are kazoo's, with kazoo's exact signatures (test_fakezk checks it); a
parameter whose behaviour is not modelled (ACLs, sequence nodes) raises NotImplementedError when
given. Everything a test does to the world goes through the ensemble instead:

- `expire(session)` ends a session, its ephemeral nodes with it; `open_session(client, session)`
  is kazoo opening a new session on the same client;
- `lose_session(client, while_lost)` and `move_session(client, meanwhile)` are a client's
  connection lost (every watch gone) or moved to another member (the changes made meanwhile
  fire once it is connected again, as SetWatches makes the new member do);
- `held()` queues firings instead of delivering them; `release()` delivers them in order, or
  `drop()` loses them (a notification that never came);
- `before_read(path, action)` runs `action` once, just before the next data read of `path`;
- `fail(op, path, error)`: every request `op` ("get", "delete", ...) on `path` raises `error`
  (a refusal, a lost connection), outside transactions.

Each client records the requests it sent (`requests`): `reads` and `transactions` count them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState, KeeperState, WatchedEvent, ZnodeStat

ANY_VERSION = -1


class Request(NamedTuple):
    """One request a client sent: `op` is the kazoo method's name ("multi" for a transaction's commit)."""

    op: str
    path: str = ""
    version: int = ANY_VERSION


@dataclass
class Node:
    data: bytes
    stat: ZnodeStat


class Done:
    """kazoo's IAsyncResult, already resolved."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, block=True, timeout=None):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def _resolved(call: Callable[[], Any]) -> Done:
    try:
        return Done(call())
    except Exception as exc:  # an async call reports its error through its result
        return Done(exc)


def _not_modelled(**given: bool) -> None:
    named = [name for name, is_given in given.items() if is_given]
    if named:
        raise NotImplementedError(f"fakezk does not model kazoo's {', '.join(named)}")


def _require_bytes(value: object) -> None:
    if not isinstance(value, bytes):  # kazoo's own check
        raise TypeError("Invalid type for 'value' (must be a byte string)")


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _children(nodes: dict[str, Node], path: str) -> list[str]:
    prefix = path.rstrip("/") + "/"
    return sorted(p[len(prefix) :] for p in nodes if p.startswith(prefix) and p != path and "/" not in p[len(prefix) :])


def _stat(nodes: dict[str, Node], path: str) -> ZnodeStat:
    node = nodes[path]
    return node.stat._replace(numChildren=len(_children(nodes, path)), dataLength=len(node.data))


def _check_path(path: str) -> None:
    if not isinstance(path, str):
        raise TypeError("Invalid type for 'path' (string expected)")
    if not path.startswith("/") or "//" in path or (path != "/" and path.endswith("/")):
        raise BadArgumentsError(f"malformed path {path!r}")


class FakeEnsemble:
    """The servers: one tree, one zxid, the clients' sessions, and the controls of what happens to them."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {"/": Node(b"", ZnodeStat(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))}
        self.zxid = 0
        self.clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)
        self.clients: list[FakeClient] = []
        self.lock = threading.RLock()  # a watcher reads on its own thread
        self._failures: dict[tuple[str, str], Exception] = {}
        self._holding = 0
        self._held: list[tuple[FakeClient, Callable[[WatchedEvent], None], WatchedEvent]] = []
        self._before_read: dict[str, list[Callable[[], None]]] = {}

    # --- the tree --------------------------------------------------------------------------

    def children(self, path: str) -> list[str]:
        return _children(self.nodes, path)

    def stat(self, path: str) -> ZnodeStat | None:
        return _stat(self.nodes, path) if path in self.nodes else None

    # --- sessions and connections ----------------------------------------------------------

    def open_session(self, client: FakeClient, session: int) -> None:
        """`client` is connected on `session` (kazoo opens a new one on the same client after an expiry)."""
        client.client_id = (session, b"")
        if client not in self.clients:
            self.clients.append(client)

    def expire(self, session: int) -> None:
        """The session ends: every ephemeral node it owned goes with it, in one step."""

        def close() -> None:
            zxid = self.zxid + 1
            for path in [p for p, n in self.nodes.items() if n.stat.ephemeralOwner == session]:
                self._delete(self.nodes, path, zxid)
            self.zxid = zxid

        self._write(close)

    def lose_session(self, client: FakeClient, while_lost: Callable[[], None] = lambda: None) -> None:
        """`client`'s session is lost (every watch of it gone), `while_lost` changes the tree unseen,
        then a new session connects. Its ephemeral nodes are left (tests use them for other clients')."""
        with self.lock:
            client._forget_watches()
            self._held = [held for held in self._held if held[0] is not client]
        client._change_state(KazooState.LOST)
        while_lost()
        with self.lock:
            client._forget_watches()
        client._change_state(KazooState.CONNECTED)

    def move_session(self, client: FakeClient, meanwhile: Callable[[], None] = lambda: None) -> None:
        """`client`'s connection drops and its session resumes on another member; the changes made
        meanwhile fire once it is connected again."""
        client._change_state(KazooState.SUSPENDED)
        with self.held():
            meanwhile()
        client._change_state(KazooState.CONNECTED)
        self.release()

    # --- faults and timing -----------------------------------------------------------------

    def fail(self, op: str, path: str, error: Exception) -> None:
        """Every request `op` (a kazoo method's name) on `path` raises `error` from now on."""
        self._failures[(op, path)] = error

    def before_read(self, path: str, action: Callable[[], None]) -> None:
        self._before_read.setdefault(path, []).append(action)

    def cancel_before_reads(self) -> None:
        """Drop the actions planted with before_read that no read has triggered yet."""
        self._before_read.clear()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.lock:
            self._holding += 1
        try:
            yield
        finally:
            with self.lock:
                self._holding -= 1

    def release(self) -> None:
        with self.lock:
            fired, self._held = self._held, []
        self._deliver(fired, force=True)

    def drop(self) -> int:
        with self.lock:
            dropped, self._held = len(self._held), []
        return dropped

    # --- for FakeClient and FakeTransaction --------------------------------------------------

    def _request(self, client: FakeClient, op: str, path: str = "", version: int = ANY_VERSION) -> None:
        client.requests.append(Request(op, path, version))
        if op != "multi":
            _check_path(path)
        failure = self._failures.get((op, path))
        if failure is not None:
            raise failure

    def _reading(self, path: str) -> None:
        for action in self._before_read.pop(path, []):
            action()

    def _single(self, op: tuple, session: int) -> Any:
        """One write in its own zxid, firing the watches it triggers."""

        def apply() -> Any:
            zxid = self.zxid + 1
            result = self._apply(self.nodes, op, session, zxid)
            self.zxid = zxid
            return result

        return self._write(apply)

    def _multi(self, ops: list[tuple], session: int) -> list:
        """All or nothing, in one zxid, with ZooKeeper's per-op results."""

        def apply() -> list:
            scratch = {p: Node(n.data, n.stat) for p, n in self.nodes.items()}
            zxid = self.zxid + 1
            results = []
            for index, op in enumerate(ops):
                try:
                    results.append(self._apply(scratch, op, session, zxid))
                except Exception as exc:
                    return [RolledBackError()] * index + [exc] + [RuntimeInconsistency()] * (len(ops) - index - 1)
            self.nodes, self.zxid = scratch, zxid
            return results

        return self._write(apply)

    def _apply(self, nodes: dict[str, Node], op: tuple, session: int, zxid: int) -> Any:
        _check_path(op[1])
        match op:
            case ("check", path, version):
                self._existing(nodes, path, version)
                return True
            case ("create", path, value, ephemeral):
                return self._create(nodes, path, value, session if ephemeral else 0, zxid)
            case ("delete", path, version):
                self._existing(nodes, path, version)
                if _children(nodes, path):
                    raise NotEmptyError()
                self._delete(nodes, path, zxid)
                return True
            case ("set", path, value, version):
                node = self._existing(nodes, path, version)
                node.stat = node.stat._replace(version=node.stat.version + 1, mzxid=zxid, mtime=self.clock_ms())
                node.data = value
                return _stat(nodes, path)
        raise AssertionError(op)

    @staticmethod
    def _existing(nodes: dict[str, Node], path: str, version: int) -> Node:
        node = nodes.get(path)
        if node is None:
            raise NoNodeError()
        if version != ANY_VERSION and node.stat.version != version:
            raise BadVersionError()
        return node

    def _create(self, nodes: dict[str, Node], path: str, data: bytes, owner: int, zxid: int) -> str:
        if path in nodes:
            raise NodeExistsError()
        parent = nodes.get(parent_of(path))
        if parent is None:
            raise NoNodeError()
        if parent.stat.ephemeralOwner:
            raise NoChildrenForEphemeralsError()
        now = self.clock_ms()
        nodes[path] = Node(data, ZnodeStat(zxid, zxid, now, now, 0, 0, 0, owner, 0, 0, zxid))
        self._child_changed(nodes, path, zxid)
        return path

    def _delete(self, nodes: dict[str, Node], path: str, zxid: int) -> None:
        del nodes[path]
        self._child_changed(nodes, path, zxid)

    @staticmethod
    def _child_changed(nodes: dict[str, Node], path: str, zxid: int) -> None:
        parent = nodes[parent_of(path)]
        parent.stat = parent.stat._replace(cversion=parent.stat.cversion + 1, pzxid=zxid)

    # --- watches ----------------------------------------------------------------------------

    def _identity(self) -> dict[str, tuple[int, int]]:
        return {p: (n.stat.czxid, n.stat.version) for p, n in self.nodes.items()}

    def _write(self, op: Callable[[], Any]) -> Any:
        """Run `op` and fire the watches of every client its changes trigger, as ZooKeeper would."""
        with self.lock:
            before = self._identity()
            result = op()
            after = self._identity()
            triggers: list[tuple[str, str, str]] = []  # (which watches, path, event type)
            gone = [p for p in before if p not in after or after[p][0] != before[p][0]]
            for path in sorted(gone, key=lambda p: (-p.count("/"), p)):
                triggers += [
                    ("data", path, EventType.DELETED),
                    ("child", path, EventType.DELETED),
                    ("child", parent_of(path), EventType.CHILD),
                ]
            born = [p for p in after if p not in before or after[p][0] != before[p][0]]
            for path in sorted(born, key=lambda p: (p.count("/"), p)):
                triggers += [("data", path, EventType.CREATED), ("child", parent_of(path), EventType.CHILD)]
            changed = [p for p in after if p in before and after[p][0] == before[p][0] and after[p][1] != before[p][1]]
            triggers += [("data", path, EventType.CHANGED) for path in sorted(changed)]
            fired = [
                (client, watch, WatchedEvent(kind, KeeperState.CONNECTED, path))
                for client in self.clients
                for table, path, kind in triggers
                for watch in client._take(table, path)
            ]
        self._deliver(fired)
        return result

    def _deliver(
        self, fired: list[tuple[FakeClient, Callable[[WatchedEvent], None], WatchedEvent]], force: bool = False
    ) -> None:
        with self.lock:
            if self._holding and not force:
                self._held.extend(fired)
                return
        for _client, watch, event in fired:
            watch(event)


class FakeClient:
    """KazooClient on one session of a FakeEnsemble."""

    def __init__(self, ensemble: FakeEnsemble, session: int) -> None:
        self.ensemble = ensemble
        self.state = KazooState.CONNECTED
        self.client_id: tuple[int, bytes] | None = None
        self.requests: list[Request] = []
        self._listeners: list[Callable[[str], Any]] = []
        self._watches: dict[str, dict[str, list[Callable[[WatchedEvent], None]]]] = {"data": {}, "child": {}}
        ensemble.open_session(self, session)

    @property
    def connected(self) -> bool:
        return self.state == KazooState.CONNECTED

    @property
    def reads(self) -> int:
        """Node data reads sent (get, get_async)."""
        return sum(1 for r in self.requests if r.op == "get")

    @property
    def transactions(self) -> int:
        """Transactions committed (one round trip each, whatever their outcome)."""
        return sum(1 for r in self.requests if r.op == "multi")

    @property
    def _session(self) -> int:
        return self.client_id[0] if self.client_id else 0

    # --- kazoo's API ------------------------------------------------------------------------

    def add_listener(self, listener):
        if listener not in self._listeners:  # kazoo keeps a set
            self._listeners.append(listener)

    def remove_listener(self, listener):
        if listener in self._listeners:
            self._listeners.remove(listener)

    def get(self, path, watch=None):
        self.ensemble._reading(path)
        with self.ensemble.lock:
            self.ensemble._request(self, "get", path)
            node = self.ensemble.nodes.get(path)
            if node is None:
                raise NoNodeError()  # no watch is left, as with ZooKeeper's get
            if watch:
                self._arm("data", path, watch)
            return node.data, self.ensemble.stat(path)

    def get_async(self, path, watch=None):
        return _resolved(lambda: self.get(path, watch))

    def exists(self, path, watch=None):
        with self.ensemble.lock:
            self.ensemble._request(self, "exists", path)
            if watch:  # an exists watch is left on a missing node too: it fires at its creation
                self._arm("data", path, watch)
            return self.ensemble.stat(path)

    def exists_async(self, path, watch=None):
        return _resolved(lambda: self.exists(path, watch))

    def get_children(self, path, watch=None, include_data=False):
        with self.ensemble.lock:
            self.ensemble._request(self, "get_children", path)
            if path not in self.ensemble.nodes:
                raise NoNodeError()
            if watch:
                self._arm("child", path, watch)
            children = self.ensemble.children(path)
            return (children, self.ensemble.stat(path)) if include_data else children

    def get_children_async(self, path, watch=None, include_data=False):
        return _resolved(lambda: self.get_children(path, watch, include_data))

    def create(self, path, value=b"", acl=None, ephemeral=False, sequence=False, makepath=False, include_data=False):
        _not_modelled(acl=acl is not None, sequence=bool(sequence))
        _require_bytes(value)

        def create_here() -> str:
            self.ensemble._request(self, "create", path)
            return self.ensemble._single(("create", path, value, bool(ephemeral)), self._session)

        try:
            created = create_here()
        except NoNodeError:
            if not makepath:
                raise
            self.ensure_path(parent_of(path))  # kazoo's makepath: the parents, then the node again
            created = create_here()
        return (created, self.ensemble.stat(created)) if include_data else created

    def set(self, path, value, version=-1):
        _require_bytes(value)
        self.ensemble._request(self, "set", path, version)
        return self.ensemble._single(("set", path, value, version), self._session)

    def delete(self, path, version=-1, recursive=False):
        if not isinstance(recursive, bool):
            raise TypeError("Invalid type for 'recursive' (bool expected)")
        if recursive:  # as kazoo does it: children first, one request each, the version ignored
            try:
                children = self.get_children(path)
            except NoNodeError:
                return True
            for child in children:
                self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
            try:
                self.delete(path)
            except NoNodeError:
                pass
            return None
        self.ensemble._request(self, "delete", path, version)
        return self.ensemble._single(("delete", path, version), self._session)

    def ensure_path(self, path, acl=None):
        _not_modelled(acl=acl is not None)
        if self.exists(path) is not None:
            return True
        parent = parent_of(path)
        if parent != "/":
            self.ensure_path(parent)
        try:
            self.create(path)
        except NodeExistsError:
            pass
        return True

    def transaction(self):
        return FakeTransaction(self)

    # --- for FakeEnsemble -------------------------------------------------------------------

    def _arm(self, table: str, path: str, watch: Callable[[WatchedEvent], None]) -> None:
        found = self._watches[table].setdefault(path, [])
        if watch not in found:  # kazoo keeps a set per path
            found.append(watch)

    def _take(self, table: str, path: str) -> list[Callable[[WatchedEvent], None]]:
        return self._watches[table].pop(path, [])

    def _forget_watches(self) -> None:
        for table in self._watches.values():
            table.clear()

    def _change_state(self, state: str) -> None:
        self.state = state
        for listener in list(self._listeners):
            listener(state)


class FakeTransaction:
    """kazoo's TransactionRequest on a FakeClient."""

    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.operations: list[tuple] = []
        self.committed = False

    def check(self, path, version):
        self._add(("check", path, version))

    def create(self, path, value=b"", acl=None, ephemeral=False, sequence=False):
        _not_modelled(acl=acl is not None, sequence=bool(sequence))
        _require_bytes(value)
        self._add(("create", path, value, bool(ephemeral)))

    def delete(self, path, version=-1):
        self._add(("delete", path, version))

    def set_data(self, path, value, version=-1):
        _require_bytes(value)
        self._add(("set", path, value, version))

    def commit_async(self):
        self._check_tx_state()
        self.committed = True
        ensemble = self.client.ensemble
        ensemble._request(self.client, "multi")
        return Done(ensemble._multi(self.operations, self.client._session))

    def commit(self):
        return self.commit_async().get()

    def _add(self, op: tuple) -> None:
        self._check_tx_state()
        self.operations.append(op)

    def _check_tx_state(self) -> None:
        if self.committed:
            raise ValueError("Transaction already committed")
