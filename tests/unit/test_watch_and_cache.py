"""TreeWatcher and ServiceCache against an in-memory ZooKeeper whose watches fire one-shot, as
ZooKeeper's do: the stream re-arms, survives the watched node's deletion and re-creation, and
reports what changed while the session was lost; the cache follows it and picks round-robin."""

from __future__ import annotations

import json
import queue
import time

import pytest

from svcctl.consumer.cache import CacheChange, ServiceCache
from svcctl.zk import watch as w
from tests.unit.fakezk import FakeClient, FakeEnsemble


class Stream:
    """A started TreeWatcher's events, read with a deadline (the watcher runs on its own thread)."""

    def __init__(self, zk: FakeClient, root: str, depth: int | None = 0) -> None:
        self.events: queue.Queue[w.ZkEvent] = queue.Queue()
        self.watcher = w.TreeWatcher(zk, root, self.events.put, depth=depth)
        self.watcher.start(timeout=5)

    def next(self, count: int, timeout: float = 5.0) -> list[tuple[str, str]]:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"only {got} of {count} events") from None
            got.append((event.kind, event.path))
        return got

    def quiet(self, wait: float = 0.2) -> bool:
        time.sleep(wait)
        return self.events.empty()


@pytest.fixture
def zk():
    zk = FakeClient(FakeEnsemble(), 1)
    zk.create("/services", makepath=True)
    return zk


def test_watcher_reports_children_and_data_and_re_arms(zk):
    zk.create("/services/a")
    stream = Stream(zk, "/services")
    assert stream.quiet()  # the baseline is not reported
    zk.create("/services/b", b"x")
    assert stream.next(1) == [(w.ZkEventKind.CHILD_ADDED, "/services/b")]
    zk.create("/services/c")  # the watch fired once: it must have been re-armed to see this
    assert stream.next(1) == [(w.ZkEventKind.CHILD_ADDED, "/services/c")]
    zk.delete("/services/a")
    assert stream.next(1) == [(w.ZkEventKind.CHILD_REMOVED, "/services/a")]
    zk.set("/services", b"v1")
    zk.set("/services", b"v2")
    kinds = [k for k, _ in stream.next(1)]
    assert kinds == [w.ZkEventKind.DATA_CHANGED]
    stream.watcher.stop()


def test_watcher_survives_the_root_being_deleted_and_re_created(zk):
    zk.create("/services/a")
    stream = Stream(zk, "/services")
    zk.delete("/services", recursive=True)
    assert stream.next(1) == [(w.ZkEventKind.NODE_DELETED, "/services")]
    zk.create("/services/b", makepath=True)
    assert stream.next(2) == [(w.ZkEventKind.NODE_CREATED, "/services"), (w.ZkEventKind.CHILD_ADDED, "/services/b")]
    zk.create("/services/c")
    assert stream.next(1) == [(w.ZkEventKind.CHILD_ADDED, "/services/c")]
    stream.watcher.stop()


def test_watcher_reports_what_changed_while_the_session_was_lost(zk):
    zk.create("/services/a")
    stream = Stream(zk, "/services")

    def meanwhile() -> None:
        zk.delete("/services/a")
        zk.create("/services/b")

    zk.ensemble.lose_session(zk, meanwhile)
    got = stream.next(4)
    assert got[:2] == [(w.ZkEventKind.SESSION_LOST, "/services"), (w.ZkEventKind.SESSION_RECONNECTED, "/services")]
    assert sorted(got[2:]) == [(w.ZkEventKind.CHILD_ADDED, "/services/b"), (w.ZkEventKind.CHILD_REMOVED, "/services/a")]
    zk.create("/services/c")  # watches were set again on the new session
    assert stream.next(1) == [(w.ZkEventKind.CHILD_ADDED, "/services/c")]
    stream.watcher.stop()


def test_recursive_watcher_follows_every_level(zk):
    stream = Stream(zk, "/services", depth=None)
    zk.create("/services/svc")
    zk.create("/services/svc/127.0.0.1:1", b"{}")
    added = w.ZkEventKind.CHILD_ADDED
    assert stream.next(2) == [(added, "/services/svc"), (added, "/services/svc/127.0.0.1:1")]
    zk.set("/services/svc/127.0.0.1:1", b'{"a": 1}')
    assert stream.next(1) == [(w.ZkEventKind.DATA_CHANGED, "/services/svc/127.0.0.1:1")]
    stream.watcher.stop()


def registration(port: int, name: str = "svc", owner: str | None = None) -> bytes:
    """A registration as the registrator writes it, cut to the keys the watcher and cache read
    (`owner`: the registrator id, which only some tests look at)."""
    ours = {"container_name": f"{name}-{port}", **({"registrator": owner} if owner else {})}
    body = {"Name": name, "IP": "127.0.0.1", "PublicPort": port, "PrivatePort": 80, "ContainerID": f"c{port}"}
    return json.dumps({**body, "svcctl": ours}).encode()


def wait_until(condition, what: str, timeout: float = 5.0) -> None:
    from svcctl.wait import poll_until

    assert poll_until(condition, bool, time.monotonic() + timeout, 0.01), what


def settled(watcher: w.TreeWatcher, timeout: float = 10.0) -> None:
    """Wait until the watcher's thread has handled everything queued so far: the events of the
    reads done are applied and their listeners told. Its local copy (`watcher.nodes`) and the
    cache's table change before the listeners hear of it, so seeing either is not enough."""
    import threading

    handled = threading.Event()
    watcher.call_soon(handled.set)  # runs after every item queued before it
    assert handled.wait(timeout), "the watcher to handle what was queued"


def test_cache_follows_one_service_and_picks_round_robin(zk):
    zk.create("/services/svc/127.0.0.1:1001", registration(1001), makepath=True)
    cache = ServiceCache(zk, "svc")
    changes: list[CacheChange] = []
    cache.add_listener(changes.append)
    cache.start(timeout=5)
    try:
        assert [i.address for i in cache.instances("svc")] == ["127.0.0.1:1001"]
        zk.create("/services/svc/127.0.0.1:1002", registration(1002))
        wait_until(lambda: len(cache.instances("svc")) == 2, "the second instance")
        settled(cache.watcher)  # the listener told too
        picks = [cache.pick("svc").port for _ in range(4)]
        assert picks == [1001, 1002, 1001, 1002]
        assert cache.pick("svc", exclude={"127.0.0.1:1001"}).port == 1002
        added = [c for c in changes if c.added and not c.event.initial]
        assert [i.label for c in added for i in c.added] == ["127.0.0.1:1002 (svc-1002)"]

        # The service node goes with its last instance, and comes back: still known as seen.
        zk.delete("/services/svc", recursive=True)
        wait_until(lambda: not cache.known("svc"), "the service to go")
        assert cache.instances("svc") == [] and cache.pick("svc") is None and cache.ever_seen("svc")
        zk.create("/services/svc/127.0.0.1:1003", registration(1003), makepath=True)
        wait_until(lambda: [i.port for i in cache.instances("svc")] == [1003], "the service to come back")
    finally:
        cache.stop()


def test_cache_of_every_service_and_the_random_strategy(zk):
    zk.create("/services/a/127.0.0.1:1", registration(1, "a"), makepath=True)
    zk.create("/services/b/127.0.0.1:2", registration(2, "b"), makepath=True)
    with ServiceCache(zk, strategy="random") as cache:
        assert {name: [i.port for i in found] for name, found in cache.services().items()} == {"a": [1], "b": [2]}
        zk.delete("/services/a/127.0.0.1:1")
        wait_until(lambda: cache.instances("a") == [], "a's instance to go")
        assert cache.pick("b").port == 2
