"""fakezk's in-memory ZooKeeper with what TreeWatcher and ServiceCache also need: one-shot watches
that fire as ZooKeeper's do (data watches on set/delete/create, child watches on a child's
create/delete and on the node's own delete; a watch set twice on a path fires once), for plain
writes and multi-op transactions alike; state listeners; a session loss that drops every watch
(as an expired session does); and control over *when* a firing is delivered, so a test can put
a deletion and re-creation between a firing and the watcher's re-read:

- `held()` queues firings instead of delivering them; `release()` delivers them in order (or
  `drop()` loses them, a notification that never came);
- `before_read(path, action)` runs `action` once, just before the next read of `path`;
- `move_session(meanwhile)` is a session moved to another member: SUSPENDED, the tree changes,
  CONNECTED, and the held firings delivered then (as SetWatches makes the new member do).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from kazoo.exceptions import NotEmptyError

from tests.unit.fakezk import FakeClient, FakeEnsemble, FakeTransaction


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
        self._holding = 0
        self._held: list[tuple[Callable, WatchedEvent]] = []
        self._before_read: dict[str, list[Callable[[], None]]] = {}
        self.read_count = 0

    # --- reads take watches ------------------------------------------------------------------

    def add_listener(self, callback: Callable[[str], None]) -> None:
        self.listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self.listeners:
            self.listeners.remove(callback)

    def before_read(self, path: str, action: Callable[[], None]) -> None:
        self._before_read.setdefault(path, []).append(action)

    def _hook(self, path: str) -> None:
        for action in self._before_read.pop(path, []):
            action()

    def get(self, path, watch=None):
        self._hook(path)
        with self.lock:
            self.read_count += 1
            found = super().get(path)  # NoNodeError: no watch is left, as with ZooKeeper's get
            if watch:
                self._arm(self.data_watches, path, watch)
            return found

    def get_children(self, path, watch=None):
        with self.lock:
            found = super().get_children(path)
            if watch:
                self._arm(self.child_watches, path, watch)
            return found

    def exists(self, path, watch=None):
        with self.lock:
            if watch:  # an exists watch is left on a missing node too: it fires at its creation
                self._arm(self.data_watches, path, watch)
            return super().exists(path)

    @staticmethod
    def _arm(watches: dict[str, list[Callable]], path: str, watch: Callable) -> None:
        found = watches.setdefault(path, [])
        if watch not in found:  # kazoo keeps a set per path
            found.append(watch)

    # --- writes fire them --------------------------------------------------------------------

    def _identity(self) -> dict[str, tuple[int, int]]:
        return {p: (n.stat.czxid, n.stat.version) for p, n in self.ensemble.nodes.items()}

    def _write(self, op: Callable[[], object]) -> object:
        with self.lock:
            before = self._identity()
            result = op()
            after = self._identity()
            fired = []
            gone = [p for p in before if p not in after or after[p][0] != before[p][0]]
            for path in sorted(gone, key=lambda p: (-p.count("/"), p)):
                fired += (self._take(self.data_watches, path, "DELETED") + self._take(self.child_watches, path, "DELETED")
                          + self._take(self.child_watches, self._parent(path), "CHILD"))
            born = [p for p in after if p not in before or after[p][0] != before[p][0]]
            for path in sorted(born, key=lambda p: (p.count("/"), p)):
                fired += self._take(self.data_watches, path, "CREATED") + self._take(self.child_watches, self._parent(path), "CHILD")
            for path in sorted(p for p in after if p in before and after[p][0] == before[p][0] and after[p][1] != before[p][1]):
                fired += self._take(self.data_watches, path, "CHANGED")
        self._fire(fired)
        return result

    def create(self, path, value=b"", ephemeral=False, makepath=False):
        return self._write(lambda: FakeClient.create(self, path, value, ephemeral=ephemeral, makepath=makepath))

    def set(self, path, value, version=-1):
        return self._write(lambda: FakeClient.set(self, path, value, version))

    def delete(self, path, version=-1, recursive=False):
        def op() -> None:
            if recursive:
                for child in self.ensemble.children(path):
                    self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
            elif self.ensemble.children(path):
                raise NotEmptyError()
            FakeClient.delete(self, path, version)

        return self._write(op)

    def transaction(self):
        return _FiringTransaction(self)

    def create_as(self, session: int, path: str, value: bytes = b"") -> None:
        """An ephemeral node of another client's session (a registrator's)."""
        self.ensemble.sessions.add(session)
        self._write(lambda: self.ensemble.create(self.ensemble.nodes, path, value, session))

    def expire_session(self, session: int) -> None:
        """Another client's session ends: its ephemeral nodes go in one step, as ZooKeeper does."""
        self._write(lambda: self.ensemble.expire(session))

    def replace(self, path: str, value: bytes, ephemeral: bool = True) -> None:
        """Delete and re-create `path` in one multi-op, as a registrator taking a node over does."""
        tx = self.transaction()
        tx.delete(path)
        tx.create(path, value, ephemeral=ephemeral)
        results = tx.commit()
        assert not any(isinstance(r, Exception) for r in results), results

    # --- when firings arrive -------------------------------------------------------------------

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
        self._fire(fired, force=True)

    def drop(self) -> int:
        with self.lock:
            dropped, self._held = len(self._held), []
        return dropped

    def lose_session(self, while_lost: Callable[[], None] = lambda: None) -> None:
        """The session expires (every watch is gone), `while_lost` changes the tree meanwhile,
        unseen, then a new session connects."""
        with self.lock:
            self.data_watches.clear()
            self.child_watches.clear()
            self._held = []
        self._state("LOST")
        while_lost()
        with self.lock:
            self.data_watches.clear()
            self.child_watches.clear()
        self._state("CONNECTED")

    def move_session(self, meanwhile: Callable[[], None] = lambda: None) -> None:
        """The connection drops and the same session resumes on another member; the changes made
        meanwhile fire once it is connected again."""
        self._state("SUSPENDED")
        with self.held():
            meanwhile()
        self._state("CONNECTED")
        self.release()

    # --- internals ---------------------------------------------------------------------------

    @staticmethod
    def _parent(path: str) -> str:
        return path.rsplit("/", 1)[0] or "/"

    @staticmethod
    def _take(watches: dict[str, list[Callable]], path: str, kind: str) -> list[tuple[Callable, WatchedEvent]]:
        return [(w, WatchedEvent(kind, path)) for w in watches.pop(path, [])]

    def _fire(self, fired: list[tuple[Callable, WatchedEvent]], force: bool = False) -> None:
        with self.lock:
            if self._holding and not force:
                self._held.extend(fired)
                return
        for watch, event in fired:
            watch(event)

    def _state(self, state: str) -> None:
        for listener in list(self.listeners):
            listener(state)


class _FiringTransaction(FakeTransaction):
    def commit_async(self):
        client: FakeZk = self.client  # type: ignore[assignment]
        box = {}
        client._write(lambda: box.setdefault("done", FakeTransaction.commit_async(self)))
        return box["done"]
