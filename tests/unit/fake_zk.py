"""fakezk's in-memory ZooKeeper with what TreeWatcher and ServiceCache also need: one-shot watches
that fire as ZooKeeper's do (data watches on set/delete/create, child watches on a child's
create/delete and on the node's own delete), state listeners, and a session loss that drops
every watch (as an expired session does)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from kazoo.exceptions import NotEmptyError

from tests.unit.fakezk import FakeClient, FakeEnsemble


@dataclass
class WatchedEvent:
    type: str
    path: str


class FakeZk(FakeClient):
    """A FakeClient on a fresh ensemble whose reads take watches and whose writes fire them."""

    def __init__(self) -> None:
        super().__init__(FakeEnsemble(), session=1)
        self.listeners: list[Callable[[str], None]] = []
        self.data_watches: dict[str, list[Callable]] = {}
        self.child_watches: dict[str, list[Callable]] = {}
        self.lock = threading.RLock()  # the watcher reads on its own thread

    # --- reads take watches ------------------------------------------------------------------

    def add_listener(self, callback: Callable[[str], None]) -> None:
        self.listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self.listeners:
            self.listeners.remove(callback)

    def get(self, path, watch=None):
        with self.lock:
            found = super().get(path)  # NoNodeError: no watch is left, as with ZooKeeper's get
            if watch:
                self.data_watches.setdefault(path, []).append(watch)
            return found

    def get_children(self, path, watch=None):
        with self.lock:
            found = super().get_children(path)
            if watch:
                self.child_watches.setdefault(path, []).append(watch)
            return found

    def exists(self, path, watch=None):
        with self.lock:
            if watch:  # an exists watch is left on a missing node too: it fires at its creation
                self.data_watches.setdefault(path, []).append(watch)
            return super().exists(path)

    # --- writes fire them --------------------------------------------------------------------

    def create(self, path, value=b"", ephemeral=False, makepath=False):
        with self.lock:
            before = set(self.ensemble.nodes)
            super().create(path, value, ephemeral=ephemeral, makepath=makepath)
            fired = []
            for created in sorted(set(self.ensemble.nodes) - before, key=len):
                fired += self._take(self.data_watches, created, "CREATED") + self._take(self.child_watches, self._parent(created), "CHILD")
        self._fire(fired)

    def set(self, path, value, version=-1):
        with self.lock:
            stat = super().set(path, value, version)
            fired = self._take(self.data_watches, path, "CHANGED")
        self._fire(fired)
        return stat

    def delete(self, path, version=-1, recursive=False):
        with self.lock:
            if recursive:
                for child in self.ensemble.children(path):
                    self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
            elif self.ensemble.children(path):
                raise NotEmptyError()
            super().delete(path, version)
            fired = (self._take(self.data_watches, path, "DELETED") + self._take(self.child_watches, path, "DELETED")
                     + self._take(self.child_watches, self._parent(path), "CHILD"))
        self._fire(fired)

    def lose_session(self, while_lost: Callable[[], None] = lambda: None) -> None:
        """The session expires (every watch is gone), `while_lost` changes the tree meanwhile,
        unseen, then a new session connects."""
        with self.lock:
            self.data_watches.clear()
            self.child_watches.clear()
        self._state("LOST")
        while_lost()
        with self.lock:
            self.data_watches.clear()
            self.child_watches.clear()
        self._state("CONNECTED")

    # --- internals ---------------------------------------------------------------------------

    @staticmethod
    def _parent(path: str) -> str:
        return path.rsplit("/", 1)[0] or "/"

    @staticmethod
    def _take(watches: dict[str, list[Callable]], path: str, kind: str) -> list[tuple[Callable, WatchedEvent]]:
        return [(w, WatchedEvent(kind, path)) for w in watches.pop(path, [])]

    @staticmethod
    def _fire(fired: list[tuple[Callable, WatchedEvent]]) -> None:
        for watch, event in fired:
            watch(event)

    def _state(self, state: str) -> None:
        for listener in list(self.listeners):
            listener(state)
