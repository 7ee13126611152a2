"""A live change stream over a znode subtree, re-armed on every firing.

ZooKeeper watches are one-shot and say only *that* something changed, so every firing re-reads
the node (data + children, re-arming both watches in the same calls) and diffs against a local
copy. That one rule gives correct re-arming, catches changes made between a firing and the
re-read, and lets the same diff report what happened while the session was lost.

The watched root may disappear: then an `exists` watch waits for it to come back (kazoo's
ChildrenWatch recipe stops for good in that case, the classic demo's gateway bug).

All ZooKeeper reads happen on one worker thread fed by a queue; kazoo's watch and state
callbacks only enqueue, so they never block kazoo's own threads.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .tree import join_path

if TYPE_CHECKING:
    from kazoo.client import KazooClient

# Event kinds.
NODE_CREATED = "node_created"  # the watched root appeared (or re-appeared)
NODE_DELETED = "node_deleted"
CHILD_ADDED = "child_added"  # path is the child's full path
CHILD_REMOVED = "child_removed"
DATA_CHANGED = "data_changed"
SESSION_SUSPENDED = "session_suspended"  # connection to the current member lost; kazoo tries the others
SESSION_RESUMED = "session_resumed"  # same session, another (or the same) member
SESSION_LOST = "session_lost"  # the session expired: every ephemeral node it owned is gone
SESSION_RECONNECTED = "session_reconnected"  # a new session; the tree was re-read and diffed
WATCH_ERROR = "watch_error"  # an unexpected failure while re-reading; the stream goes on


@dataclass
class ZkEvent:
    kind: str
    path: str
    ts: float = field(default_factory=time.time)
    data: bytes | None = None  # the node's data when known (added children within depth, data changes)
    version: int | None = None
    ephemeral_owner: int | None = None
    initial: bool = False  # part of the first read (the baseline), not a change

    def to_dict(self) -> dict[str, Any]:
        from .tree import decode_json

        text, parsed = decode_json(self.data)
        out: dict[str, Any] = {"ts": self.ts, "kind": self.kind, "path": self.path}
        if self.version is not None:
            out["version"] = self.version
        if self.data is not None:
            out["data"] = parsed if parsed is not None else text
        if self.ephemeral_owner is not None:
            out["ephemeral_owner"] = hex(self.ephemeral_owner)
        return out


@dataclass
class NodeState:
    data: bytes
    version: int
    czxid: int
    ephemeral_owner: int
    children: set[str]


_RESYNC = object()  # queue marker: re-read everything known (after a session change)
_STOP = object()


class TreeWatcher:
    """Watch `root` and, down to `depth` levels below it, every descendant's data and children.

    depth 0 watches the root's data and child list; 1 also each child's data and children;
    None is unlimited. `on_event` runs on the worker thread, in order.
    """

    def __init__(self, client: "KazooClient", root: str, on_event: Callable[[ZkEvent], None], depth: int | None = 0, emit_initial: bool = False) -> None:
        self.client = client
        self.root = root
        self.depth = depth
        self.on_event = on_event
        self.emit_initial = emit_initial
        self.nodes: dict[str, NodeState] = {}
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._last_state: str | None = None
        self._initial = True

    # --- kazoo callbacks: enqueue only ---------------------------------------------------

    def _on_watch(self, event: Any) -> None:
        # kazoo also fires watchers with path None (event type NONE) when the session ends;
        # the state listener covers that.
        if event.path:
            self._queue.put(event.path)

    def _on_state(self, state: str) -> None:
        self._queue.put(("state", state))

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Read the baseline and start following changes; returns once the baseline is read."""
        self.client.add_listener(self._on_state)
        self._thread = threading.Thread(target=self._run, name=f"zk-watch {self.root}", daemon=True)
        self._thread.start()
        self._queue.put(self.root)
        self._ready.wait(timeout)

    def stop(self) -> None:
        self.client.remove_listener(self._on_state)
        self._queue.put(_STOP)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    # --- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, tuple):
                    self._state_change(item[1])
                elif item is _RESYNC:
                    for path in sorted(self.nodes, key=len) or [self.root]:
                        if path == self.root or path in self.nodes:
                            self._sync(path)
                    if self.root not in self.nodes:
                        self._sync(self.root)
                else:
                    self._sync(item)
            except Exception as exc:
                # A connection drop mid-read: the state listener resyncs once connected again.
                # Anything else must not kill the stream silently: report it and go on.
                if not self._is_connection_error(exc):
                    self._emit(ZkEvent(WATCH_ERROR, self.root, data=f"{type(exc).__name__}: {exc}".encode()))
            finally:
                if item == self.root and not self._ready.is_set():
                    self._initial = False
                    self._ready.set()

    @staticmethod
    def _is_connection_error(exc: Exception) -> bool:
        from kazoo.exceptions import ConnectionClosedError, ConnectionLoss, SessionExpiredError

        return isinstance(exc, (ConnectionLoss, SessionExpiredError, ConnectionClosedError))

    def _state_change(self, state: str) -> None:
        previous, self._last_state = self._last_state, state
        if state == "SUSPENDED":
            self._emit(ZkEvent(SESSION_SUSPENDED, self.root))
        elif state == "LOST":
            self._emit(ZkEvent(SESSION_LOST, self.root))
        elif state == "CONNECTED":
            # kazoo re-arms watches itself on a resumed session, but a lost session lost them:
            # re-read everything either way, the diff reports what changed in between.
            if previous == "LOST":
                self._emit(ZkEvent(SESSION_RECONNECTED, self.root))
            elif previous == "SUSPENDED":
                self._emit(ZkEvent(SESSION_RESUMED, self.root))
            self._queue.put(_RESYNC)

    def _emit(self, event: ZkEvent) -> None:
        event.initial = self._initial
        if event.initial and not self.emit_initial:
            return
        self.on_event(event)

    def _level(self, path: str) -> int:
        if path == self.root:
            return 0
        rel = path[len(self.root):] if self.root != "/" else path
        return rel.strip("/").count("/") + 1

    def _within(self, path: str) -> bool:
        if path == self.root:
            return True
        prefix = self.root.rstrip("/") + "/"
        return path.startswith(prefix) and (self.depth is None or self._level(path) <= self.depth)

    def _forget(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.nodes if p == path or p.startswith(prefix)]:
            del self.nodes[p]

    def _sync(self, path: str) -> None:
        from kazoo.exceptions import NoNodeError

        if not self._within(path):
            return
        is_root = path == self.root
        if not is_root and path not in self.nodes:
            # A late firing for a node already forgotten: its parent's child watch re-adds it.
            parent = path.rsplit("/", 1)[0] or "/"
            if parent not in self.nodes or path.rsplit("/", 1)[1] not in self.nodes[parent].children:
                return
        try:
            data, stat = self.client.get(path, watch=self._on_watch)
            kids = set(self.client.get_children(path, watch=self._on_watch))
        except NoNodeError:
            self._gone(path)
            if is_root and self.client.exists(path, watch=self._on_watch) is not None:
                self._sync(path)  # re-created between the two calls
            return
        prev = self.nodes.get(path)
        state = NodeState(data or b"", stat.version, stat.czxid, stat.ephemeralOwner, kids)
        if prev is not None and prev.czxid != stat.czxid:
            # Deleted and re-created between two reads: report both, then diff from empty.
            self._gone(path)
            prev = None
        self.nodes[path] = state
        if prev is None:
            if is_root:
                self._emit(ZkEvent(NODE_CREATED, path, data=state.data, version=stat.version, ephemeral_owner=stat.ephemeralOwner))
            old_kids: set[str] = set()
        else:
            if prev.version != stat.version:
                self._emit(ZkEvent(DATA_CHANGED, path, data=state.data, version=stat.version, ephemeral_owner=stat.ephemeralOwner))
            old_kids = prev.children
        for name in sorted(old_kids - kids):
            child = join_path(path, name)
            self._forget(child)
            self._emit(ZkEvent(CHILD_REMOVED, child))
        for name in sorted(kids - old_kids):
            child = join_path(path, name)
            if self._within(child):
                # Read the new child first so the event carries its payload, then its subtree.
                self._add_child(child)
            else:
                self._emit(ZkEvent(CHILD_ADDED, child))

    def _add_child(self, child: str) -> None:
        from kazoo.exceptions import NoNodeError

        try:
            data, stat = self.client.get(child, watch=self._on_watch)
            kids = set(self.client.get_children(child, watch=self._on_watch))
        except NoNodeError:
            return  # came and went before we looked; the parent's watch reports the removal
        self.nodes[child] = NodeState(data or b"", stat.version, stat.czxid, stat.ephemeralOwner, set())
        self._emit(ZkEvent(CHILD_ADDED, child, data=data or b"", version=stat.version, ephemeral_owner=stat.ephemeralOwner))
        # Diff its children from empty, so they are reported (and watched) too.
        self.nodes[child].children = set()
        for name in sorted(kids):
            grandchild = join_path(child, name)
            self.nodes[child].children.add(name)
            if self._within(grandchild):
                self._add_child(grandchild)
            else:
                self._emit(ZkEvent(CHILD_ADDED, grandchild))

    def _gone(self, path: str) -> None:
        if path in self.nodes:
            # ZooKeeper deletes leaves only, so every known descendant went first: report them
            # deepest first (their own firings may come later and then find nothing to report).
            prefix = path.rstrip("/") + "/"
            below = sorted((p for p in self.nodes if p.startswith(prefix)), key=lambda p: (-p.count("/"), p))
            self._forget(path)
            for p in below:
                self._emit(ZkEvent(NODE_DELETED, p))
            self._emit(ZkEvent(NODE_DELETED, path))


def describe(event: ZkEvent) -> str:
    """One human line for an event (the CLI prints it after a timestamp)."""
    from .tree import payload_summary

    extra = ""
    if event.kind in (DATA_CHANGED, CHILD_ADDED, NODE_CREATED) and event.data:
        extra = "  " + payload_summary(event.data)
    if event.version is not None and event.kind == DATA_CHANGED:
        extra = f"  v{event.version}" + extra
    return f"{event.kind:<20} {event.path}{extra}"
