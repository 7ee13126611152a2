"""A live change stream over a znode subtree, re-armed on every firing, reconciled by identity.

ZooKeeper watches are one-shot and say only *that* something changed, so every firing re-reads
the node (data + children, re-arming both watches in the same calls) and diffs against a local
copy. The diff compares identity, not names: a node is the same node only while its czxid is the
same. A node deleted and re-created under the same name between a firing and the re-read (a
registrator handing over replaces every registration so) is reported as `node_replaced` with its
new data, and its subtree is re-read whole; a child that went and came back before its parent was
re-read is found by its own watch (its data watch fires on the deletion) or, if we had forgotten
it, because the parent lists a name we no longer track. A bounded periodic full re-read, and one
after every reconnection, diffs the whole tree as a safety net: whatever a firing missed is
reported within `resync_interval`.

The watched root may disappear: then an `exists` watch waits for it to come back (kazoo's
ChildrenWatch recipe stops for good in that case, the classic demo's gateway bug).

All ZooKeeper reads happen on one worker thread fed by a queue; kazoo's watch and state
callbacks only enqueue, so they never block kazoo's own threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from svcctl.zk.tree import join_path
from svcctl.zk.znode import ZnodeSnapshot

if TYPE_CHECKING:
    from kazoo.client import KazooClient


class ZkEventKind(StrEnum):
    """What an event says happened (the strings `zk watch` prints)."""

    NODE_CREATED = "node_created"  # the watched root appeared (or re-appeared)
    NODE_DELETED = "node_deleted"
    NODE_REPLACED = "node_replaced"  # deleted and re-created under the same name (a new czxid); data is the new node's
    CHILD_ADDED = "child_added"  # path is the child's full path
    CHILD_REMOVED = "child_removed"
    DATA_CHANGED = "data_changed"
    SESSION_SUSPENDED = "session_suspended"  # connection to the current member lost; kazoo tries the others
    SESSION_RESUMED = "session_resumed"  # same session, another (or the same) member
    SESSION_LOST = "session_lost"  # the session expired: every ephemeral node it owned is gone
    SESSION_RECONNECTED = "session_reconnected"  # a new session; the tree was re-read and diffed
    WATCH_ERROR = "watch_error"  # an unexpected failure while re-reading; the stream goes on


# The safety net's period: a full re-read and diff of the watched tree.
RESYNC_INTERVAL_S = 30.0


@dataclass
class ZkEvent:
    kind: ZkEventKind
    path: str
    ts: float = field(default_factory=time.time)
    data: bytes | None = None  # the node's data when known (added children within depth, data changes)
    version: int | None = None
    ephemeral_owner: int | None = None
    initial: bool = False  # part of the first read (the baseline), not a change

    def to_dict(self) -> dict[str, Any]:
        from svcctl.zk.znode import decode_json

        text, parsed = decode_json(self.data)
        out: dict[str, Any] = {"ts": self.ts, "kind": self.kind, "path": self.path}
        if self.version is not None:
            out["version"] = self.version
        if self.data is not None:
            out["data"] = parsed if parsed is not None else text
        if self.ephemeral_owner is not None:
            out["ephemeral_owner"] = hex(self.ephemeral_owner)
        return out


_RESYNC = object()  # queue marker: re-read the whole tree and diff (reconnected, or the safety net)
_STOP = object()


class TreeWatcher:
    """Watch `root` and, down to `depth` levels below it, every descendant's data and children.

    depth 0 watches the root's data and child list; 1 also each child's data and children;
    None is unlimited. `on_event` runs on the worker thread, in order. Every `resync_interval`
    seconds (0: never) the whole tree is re-read and diffed.
    """

    def __init__(
        self,
        client: KazooClient,
        root: str,
        on_event: Callable[[ZkEvent], None],
        depth: int | None = 0,
        emit_initial: bool = False,
        resync_interval: float = RESYNC_INTERVAL_S,
    ) -> None:
        self.client = client
        self.root = root
        self.depth = depth
        self.on_event = on_event
        self.emit_initial = emit_initial
        self.resync_interval = resync_interval
        self.nodes: dict[str, ZnodeSnapshot] = {}
        self.resyncs = 0  # full re-reads done (the baseline is not one)
        self.item_started = (
            0.0  # time.monotonic() when the firing being handled was taken: reads after it see its change
        )
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._last_state: str | None = None
        self._initial = True
        self._next_resync = float("inf")

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

    def resync(self) -> None:
        """Ask for a full re-read and diff now (it runs on the worker thread)."""
        self._queue.put(_RESYNC)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the worker thread, in order with the events (a consumer's timer
        keeps the one-thread contract of its listeners so)."""
        self._queue.put(callback)

    # --- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            wait = None if self._next_resync == float("inf") else max(0.0, self._next_resync - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = _RESYNC
            if item is _STOP:
                return
            self.item_started = time.monotonic()
            try:
                if isinstance(item, tuple):
                    self._state_change(item[1])
                elif item is _RESYNC:
                    self._full_resync()
                elif callable(item):
                    item()
                else:
                    self._sync(item)
            except Exception as exc:
                # A connection drop mid-read: the state listener resyncs once connected again.
                # Anything else must not kill the stream silently: report it and go on (the
                # next full re-read repairs what this read missed).
                if not self._is_connection_error(exc):
                    try:
                        error = f"{type(exc).__name__}: {exc}".encode()
                        self._emit(ZkEvent(ZkEventKind.WATCH_ERROR, self.root, data=error))
                    except Exception:  # noqa: BLE001 - a consumer that fails on the report too: the stream still goes on
                        pass
                if self.resync_interval > 0:
                    self._next_resync = min(self._next_resync, time.monotonic() + min(1.0, self.resync_interval))
            finally:
                if item == self.root and not self._ready.is_set():
                    self._initial = False
                    self._ready.set()
                    if self.resync_interval > 0:
                        self._next_resync = time.monotonic() + self.resync_interval

    @staticmethod
    def _is_connection_error(exc: Exception) -> bool:
        from kazoo.exceptions import ConnectionClosedError, ConnectionLoss, SessionExpiredError

        return isinstance(exc, (ConnectionLoss, SessionExpiredError, ConnectionClosedError))

    def _state_change(self, state: str) -> None:
        previous, self._last_state = self._last_state, state
        if state == "SUSPENDED":
            self._emit(ZkEvent(ZkEventKind.SESSION_SUSPENDED, self.root))
        elif state == "LOST":
            self._emit(ZkEvent(ZkEventKind.SESSION_LOST, self.root))
        elif state == "CONNECTED":
            # kazoo re-arms watches itself on a resumed session, but a lost session lost them:
            # re-read everything either way, the diff reports what changed in between.
            if previous == "LOST":
                self._emit(ZkEvent(ZkEventKind.SESSION_RECONNECTED, self.root))
            elif previous == "SUSPENDED":
                self._emit(ZkEvent(ZkEventKind.SESSION_RESUMED, self.root))
            self._queue.put(_RESYNC)

    def _emit(self, event: ZkEvent) -> None:
        event.initial = self._initial
        if event.initial and not self.emit_initial:
            return
        try:
            self.on_event(event)
        except Exception as exc:
            # The local copy already holds this change: a consumer failing on one event must
            # not lose the events after it in the same diff. It hears of its own failure once.
            if event.kind == ZkEventKind.WATCH_ERROR:
                return
            error = f"consumer failed on {event.kind}: {type(exc).__name__}: {exc}".encode()
            self._emit(ZkEvent(ZkEventKind.WATCH_ERROR, event.path, data=error))

    def _level(self, path: str) -> int:
        if path == self.root:
            return 0
        rel = path[len(self.root) :] if self.root != "/" else path
        return rel.strip("/").count("/") + 1

    def _within(self, path: str) -> bool:
        if path == self.root:
            return True
        prefix = self.root.rstrip("/") + "/"
        return path.startswith(prefix) and (self.depth is None or self._level(path) <= self.depth)

    def _subtree(self, path: str, nodes: dict[str, ZnodeSnapshot] | None = None) -> list[str]:
        """`path` and its known descendants, parents first."""
        nodes = self.nodes if nodes is None else nodes
        prefix = path.rstrip("/") + "/"
        return sorted((p for p in nodes if p == path or p.startswith(prefix)), key=lambda p: (p.count("/"), p))

    # --- reading -------------------------------------------------------------------------------

    def _read(self, path: str) -> ZnodeSnapshot | None:
        """One node with both watches re-armed; None when it does not exist."""
        from kazoo.exceptions import NoNodeError

        try:
            data, stat = self.client.get(path, watch=self._on_watch)
            kids = self.client.get_children(path, watch=self._on_watch)
        except NoNodeError:
            return None
        return ZnodeSnapshot.from_kazoo(path, data, stat, kids)

    def _read_tree(self, path: str) -> dict[str, ZnodeSnapshot]:
        """`path` and every descendant within depth, read now (nodes that vanish while we read
        are left out: their parent's watch reports them)."""
        out: dict[str, ZnodeSnapshot] = {}
        pending = [path]
        while pending:
            current = pending.pop()
            state = self._read(current)
            if state is None:
                continue
            out[current] = state
            pending.extend(
                child
                for name in sorted(state.children, reverse=True)
                if self._within(child := join_path(current, name))
            )
        return out

    # --- diffing -------------------------------------------------------------------------------

    def _apply(self, path: str, old: dict[str, ZnodeSnapshot], new: dict[str, ZnodeSnapshot]) -> None:
        """Make the local copy of `path`'s subtree `new` (it was `old`) and report the difference:
        removals deepest first, then replacements, additions and data changes parents first."""
        for p in old:
            self.nodes.pop(p, None)
        self.nodes.update(new)
        for p in sorted(set(old) - set(new), key=lambda p: (-p.count("/"), p)):
            self._report_removed(p, old, new)
        for p in sorted(new, key=lambda p: (p.count("/"), p)):
            state, before = new[p], old.get(p)
            if before is None:
                kind = ZkEventKind.NODE_CREATED if p == self.root else ZkEventKind.CHILD_ADDED
            elif before.czxid != state.czxid:
                kind = ZkEventKind.NODE_REPLACED
            elif before.version != state.version:
                kind = ZkEventKind.DATA_CHANGED
            else:
                kind = None
            if kind is not None:
                self._emit(
                    ZkEvent(kind, p, data=state.data, version=state.version, ephemeral_owner=state.ephemeral_owner)
                )
            if not self._within_children(p):
                # Beyond depth only the names are followed.
                before_kids = before.children if before is not None else set()
                for name in sorted(before_kids - state.children):
                    self._emit(ZkEvent(ZkEventKind.CHILD_REMOVED, join_path(p, name)))
                for name in sorted(state.children - before_kids):
                    self._emit(ZkEvent(ZkEventKind.CHILD_ADDED, join_path(p, name)))

    def _within_children(self, path: str) -> bool:
        return self.depth is None or self._level(path) < self.depth

    def _report_removed(self, path: str, old: dict[str, ZnodeSnapshot], new: dict[str, ZnodeSnapshot]) -> None:
        # Called once the local copy is updated: a node whose parent is still there is a child
        # removed (whichever firing found it gone first); the root, or a node whose parent
        # went too, is deleted.
        parent = path.rsplit("/", 1)[0] or "/"
        if path != self.root and parent in self.nodes:
            self._emit(ZkEvent(ZkEventKind.CHILD_REMOVED, path))
        else:
            self._emit(ZkEvent(ZkEventKind.NODE_DELETED, path))

    def _sync(self, path: str) -> None:
        """A firing for `path`: re-read it; a new identity re-reads its subtree; a changed child
        list reads the new children and forgets the gone ones."""
        if not self._within(path):
            return
        is_root = path == self.root
        parent = path.rsplit("/", 1)[0] or "/"
        if not is_root and parent not in self.nodes:
            return  # its parent is not known (yet): the parent's own read will find it
        state = self._read(path)
        if state is None:
            old = {p: self.nodes[p] for p in self._subtree(path)}
            if not is_root and parent in self.nodes:
                self._child_listed(parent, path.rsplit("/", 1)[1], False)
            self._apply(path, old, {})
            if is_root and self.client.exists(path, watch=self._on_watch) is not None:
                self._sync(path)  # re-created between the two calls
            return
        prev = self.nodes.get(path)
        if prev is None or prev.czxid != state.czxid:
            # New here, or a new node under the old name: everything below is new too.
            old = {p: self.nodes[p] for p in self._subtree(path)}
            new = {path: state}
            for name in sorted(state.children):
                child = join_path(path, name)
                if self._within(child):
                    new.update(self._read_tree(child))
            if not is_root:
                self._child_listed(parent, path.rsplit("/", 1)[1], True)
            self._apply(path, old, new)
            return
        # The same node: its data, and its child list by identity of what we track.
        old = {path: prev}
        new = {path: state}
        for name in prev.children - state.children:
            for p in self._subtree(join_path(path, name)):
                old[p] = self.nodes[p]
        for name in sorted(state.children):
            child = join_path(path, name)
            if self._within(child) and child not in self.nodes:
                # Listed but not tracked: new, or gone and back before we looked.
                new.update(self._read_tree(child))
        if not self._within_children(path):
            self._apply(path, old, new)
            return
        # Children that were listed but vanished while we read: drop them from the list too.
        listed = (n for n in state.children if join_path(path, n) in new or join_path(path, n) in self.nodes)
        new[path] = state.with_children(listed)
        self._apply(path, old, new)

    def _child_listed(self, parent: str, name: str, listed: bool) -> None:
        """The local copy of `parent` lists `name` among its children, or no longer does."""
        known = self.nodes[parent].children or frozenset()
        self.nodes[parent] = self.nodes[parent].with_children(known | {name} if listed else known - {name})

    def _full_resync(self) -> None:
        """The whole tree re-read and diffed against the local copy."""
        from kazoo.exceptions import NoNodeError

        self.resyncs += 1
        if self.resync_interval > 0:
            self._next_resync = time.monotonic() + self.resync_interval
        new = self._read_tree(self.root)
        old = dict(self.nodes)
        self._apply(self.root, old, new)
        if self.root not in new:
            try:
                if self.client.exists(self.root, watch=self._on_watch) is not None:
                    self._sync(self.root)
            except NoNodeError:
                pass


def describe(event: ZkEvent, summarize: Callable[[bytes | str | None, int], str] | None = None) -> str:
    """One human line for an event (the CLI prints it after a timestamp); its data summarized by
    `summarize` (default: tree.data_summary)."""
    from svcctl.zk.tree import data_summary

    extra = ""
    with_data = (ZkEventKind.DATA_CHANGED, ZkEventKind.CHILD_ADDED, ZkEventKind.NODE_CREATED, ZkEventKind.NODE_REPLACED)
    if event.kind in with_data and event.data:
        extra = "  " + (summarize or data_summary)(event.data, 80)
    if event.version is not None and event.kind == ZkEventKind.DATA_CHANGED:
        extra = f"  v{event.version}" + extra
    return f"{event.kind:<20} {event.path}{extra}"
