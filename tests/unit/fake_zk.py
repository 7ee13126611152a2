"""An in-memory stand-in for the part of kazoo's client that TreeWatcher and ServiceCache use:
get / get_children / exists with one-shot watches that fire as ZooKeeper's do, state listeners,
and a session loss that drops every watch (as an expired session does)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from kazoo.exceptions import NoNodeError, NodeExistsError, NotEmptyError


@dataclass
class FakeStat:
    version: int
    czxid: int
    ephemeralOwner: int = 0


@dataclass
class WatchedEvent:
    type: str
    path: str


@dataclass
class _Node:
    data: bytes
    stat: FakeStat


class FakeZk:
    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {"/": _Node(b"", FakeStat(0, 0))}
        self.listeners: list[Callable[[str], None]] = []
        self.data_watches: dict[str, list[Callable]] = {}
        self.child_watches: dict[str, list[Callable]] = {}
        self.zxid = 0
        self.lock = threading.RLock()

    # --- what the watcher calls ------------------------------------------------------------

    def add_listener(self, callback: Callable[[str], None]) -> None:
        self.listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self.listeners:
            self.listeners.remove(callback)

    def get(self, path: str, watch: Callable | None = None) -> tuple[bytes, FakeStat]:
        with self.lock:
            node = self.nodes.get(path)
            if node is None:
                raise NoNodeError(path)
            if watch:
                self.data_watches.setdefault(path, []).append(watch)
            return node.data, node.stat

    def get_children(self, path: str, watch: Callable | None = None) -> list[str]:
        with self.lock:
            if path not in self.nodes:
                raise NoNodeError(path)
            if watch:
                self.child_watches.setdefault(path, []).append(watch)
            return sorted(self._children(path))

    def exists(self, path: str, watch: Callable | None = None) -> FakeStat | None:
        with self.lock:
            if watch:
                self.data_watches.setdefault(path, []).append(watch)
            node = self.nodes.get(path)
            return node.stat if node else None

    # --- what the test does ----------------------------------------------------------------

    def create(self, path: str, data: bytes = b"", makepath: bool = False, ephemeral_owner: int = 0) -> None:
        with self.lock:
            parent = path.rsplit("/", 1)[0] or "/"
            if parent not in self.nodes:
                if not makepath:
                    raise NoNodeError(parent)
                self.create(parent, makepath=True)
            if path in self.nodes:
                raise NodeExistsError(path)
            self.zxid += 1
            self.nodes[path] = _Node(data, FakeStat(0, self.zxid, ephemeral_owner))
            fired = self._take(self.data_watches, path, "CREATED") + self._take(self.child_watches, parent, "CHILD")
        self._fire(fired)

    def set(self, path: str, data: bytes) -> None:
        with self.lock:
            node = self.nodes[path]
            node.data, node.stat = data, FakeStat(node.stat.version + 1, node.stat.czxid, node.stat.ephemeralOwner)
            fired = self._take(self.data_watches, path, "CHANGED")
        self._fire(fired)

    def delete(self, path: str, recursive: bool = False) -> None:
        with self.lock:
            if self._children(path):
                if not recursive:
                    raise NotEmptyError(path)
                for child in sorted(self._children(path)):
                    self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
            del self.nodes[path]
            parent = path.rsplit("/", 1)[0] or "/"
            fired = (self._take(self.data_watches, path, "DELETED") + self._take(self.child_watches, path, "DELETED")
                     + self._take(self.child_watches, parent, "CHILD"))
        self._fire(fired)

    def lose_session(self, while_lost: Callable[[], None] = lambda: None) -> None:
        """The session expires (every watch is gone), `while_lost` changes the tree meanwhile,
        then a new session connects."""
        with self.lock:
            self.data_watches.clear()
            self.child_watches.clear()
        self._state("LOST")
        while_lost()
        with self.lock:  # what happened while lost fires nothing: nobody was watching
            self.data_watches.clear()
            self.child_watches.clear()
        self._state("CONNECTED")

    # --- internals ---------------------------------------------------------------------------

    def _children(self, path: str) -> list[str]:
        prefix = "/" if path == "/" else path.rstrip("/") + "/"
        return [p[len(prefix):] for p in self.nodes if p != path and p.startswith(prefix) and "/" not in p[len(prefix):]]

    @staticmethod
    def _take(watches: dict[str, list[Callable]], path: str, kind: str) -> list[tuple[Callable, WatchedEvent]]:
        return [(w, WatchedEvent(kind, path)) for w in watches.pop(path, [])]

    @staticmethod
    def _fire(fired: list[tuple[Callable, Any]]) -> None:
        for watch, event in fired:
            watch(event)

    def _state(self, state: str) -> None:
        for listener in list(self.listeners):
            listener(state)
