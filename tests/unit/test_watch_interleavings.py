"""TreeWatcher and ServiceCache when a firing and a change cross: a node deleted and re-created
(same name) at every depth while its firing is in flight, a registrator's one-multi-op takeover,
a session moved to another member, an expired session, a lost notification, and random
interleavings of all of these. Each ends with the local copy equal to what the fake ZooKeeper
holds (compared by czxid), and the cache never missing an instance that never stopped."""

from __future__ import annotations

import json
import random
import time

import pytest

from svcctl.consumer.cache import ServiceCache
from svcctl.wait import poll_until
from svcctl.zk import watch as w
from tests.unit.fakezk import FakeClient, FakeEnsemble
from tests.unit.test_watch_and_cache import registration as owned_registration
from tests.unit.test_watch_and_cache import settled


def registration(port: int, name: str = "svc", owner: str = "r1") -> bytes:
    return owned_registration(port, name, owner)


def inst(port: int, name: str = "svc") -> str:
    return f"/services/{name}/127.0.0.1:{port}"


def truth(zk: FakeClient, root: str = "/services", depth: int | None = None) -> dict[str, int]:
    """path → czxid of what the fake holds under root (within depth)."""
    prefix = root + "/"
    out = {}
    with zk.ensemble.lock:  # a before_read action may be writing on the watcher's thread
        nodes = list(zk.ensemble.nodes.items())
    for path, node in nodes:
        if path == root or path.startswith(prefix):
            level = 0 if path == root else path[len(prefix) :].count("/") + 1
            if depth is None or level <= depth:
                out[path] = node.stat.czxid
    return out


def replace(zk: FakeClient, path: str, value: bytes) -> None:
    """Delete and re-create `path` in one multi-op, as a registrator taking a node over does."""
    tx = zk.transaction()
    tx.delete(path)
    tx.create(path, value, ephemeral=True)
    results = tx.commit()
    assert not any(isinstance(r, Exception) for r in results), results


def copy_of(watcher: w.TreeWatcher) -> dict[str, int]:
    # dict() copies in one step (no Python code runs meanwhile): the watcher's thread changes it.
    return {p: s.czxid for p, s in dict(watcher.nodes).items()}


def converge(condition, what: str) -> None:
    assert poll_until(condition, bool, time.monotonic() + 10, 0.01), what


def cache_view(cache: ServiceCache) -> dict[str, set[int]]:
    return {name: {i.port for i in found} for name, found in cache.services().items()}


def zk_view(zk: FakeClient) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    with zk.ensemble.lock:
        paths = list(zk.ensemble.nodes)
    for path in paths:
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "services":
            out.setdefault(parts[2], set())
        if len(parts) == 4 and parts[1] == "services":
            out.setdefault(parts[2], set()).add(int(parts[3].rsplit(":", 1)[1]))
    return out


class Recorder:
    """Every event the cache applied after start, and the smallest set of ports it held for
    `service` after any of them."""

    def __init__(self, cache: ServiceCache, service: str = "svc") -> None:
        self.cache, self.service = cache, service
        self.lowest: set[int] | None = None
        self.kinds: list[str] = []
        self._apply = cache.watcher.on_event
        cache.watcher.on_event = self._on_event

    def _on_event(self, event: w.ZkEvent) -> None:
        self._apply(event)
        self.kinds.append(event.kind)
        ports = {i.port for i in self.cache.table.instances(self.service)}
        if self.lowest is None or len(ports) < len(self.lowest):
            self.lowest = ports


@pytest.fixture
def zk():
    zk = FakeClient(FakeEnsemble(), 1)
    zk.create("/services", makepath=True)
    for port in (1001, 1002):
        zk.create(inst(port), registration(port), ephemeral=True, makepath=True)
    return zk


@pytest.fixture
def cache(zk):
    cache = ServiceCache(zk)
    cache.start(timeout=5)
    yield cache
    cache.stop()


def test_takeover_in_one_multi_op_is_a_replacement_and_no_instance_goes_missing(zk, cache):
    recorder = Recorder(cache)
    before = {i.address: i for i in cache.instances("svc")}
    for port in (1001, 1002):
        replace(zk, inst(port), registration(port, owner="r2"))
    converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), "the copy to follow the new czxids")
    settled(cache.watcher)
    assert cache_view(cache) == {"svc": {1001, 1002}}
    assert recorder.lowest == {1001, 1002}  # never fewer, at any step
    assert set(recorder.kinds) == {w.ZkEventKind.NODE_REPLACED}
    assert {i.address for i in cache.instances("svc")} == set(before)


def test_deleted_and_re_created_while_its_firing_is_held(zk, cache):
    recorder = Recorder(cache)
    with zk.ensemble.held():
        zk.delete(inst(1001))
        zk.create(inst(1001), registration(1001, owner="r2"), ephemeral=True)
    zk.ensemble.release()
    converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), "the copy to follow")
    settled(cache.watcher)
    assert cache_view(cache) == {"svc": {1001, 1002}}
    assert recorder.kinds == [w.ZkEventKind.NODE_REPLACED]


def test_re_created_after_its_deletion_was_read_but_before_the_parent_was(zk, cache):
    # The instance's own firing finds it gone; it comes back before the parent's child list is
    # re-read, under the same name: the parent lists a name we no longer track.
    zk.ensemble.before_read(
        "/services/svc", lambda: zk.create(inst(1001), registration(1001, owner="r2"), ephemeral=True)
    )
    zk.delete(inst(1001))
    converge(lambda: cache_view(cache) == {"svc": {1001, 1002}}, "1001 to be back")
    converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), "the copy to follow")


def test_replaced_between_a_data_firing_and_its_re_read(zk, cache):
    def swap() -> None:
        zk.delete(inst(1002))
        zk.create(inst(1002), registration(1002, owner="r3"), ephemeral=True)

    zk.ensemble.before_read(inst(1002), swap)
    zk.set(inst(1002), registration(1002, owner="r2"))
    converge(
        lambda: json.loads(cache.watcher.nodes[inst(1002)].data)["svcctl"]["registrator"] == "r3",
        "the re-created node's data",
    )
    settled(cache.watcher)
    assert copy_of(cache.watcher) == truth(zk, depth=2)
    assert cache_view(cache) == {"svc": {1001, 1002}}


def test_service_node_deleted_and_re_created_with_other_instances_while_held(zk, cache):
    with zk.ensemble.held():
        zk.delete("/services/svc", recursive=True)
        zk.create(inst(1003), registration(1003), ephemeral=True, makepath=True)
        zk.create(inst(1001), registration(1001), ephemeral=True)
    zk.ensemble.release()
    converge(lambda: cache_view(cache) == {"svc": {1001, 1003}}, "the new service node's instances")
    converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), "the copy to follow")


def test_root_deleted_and_re_created_while_held(zk, cache):
    with zk.ensemble.held():
        zk.delete("/services", recursive=True)
        zk.create(inst(1002, "other"), registration(1002, "other"), makepath=True)
    zk.ensemble.release()
    converge(lambda: cache_view(cache) == {"other": {1002}}, "the new registry")
    zk.create(inst(1004, "other"), registration(1004, "other"))  # watches re-armed on the new root
    converge(lambda: cache_view(cache) == {"other": {1002, 1004}}, "a later instance")


def test_two_instances_registered_back_to_back_on_a_new_service(zk, cache):
    zk.ensemble.before_read(
        "/services/new", lambda: zk.create(inst(2002, "new"), registration(2002, "new"), ephemeral=True)
    )
    zk.create(inst(2001, "new"), registration(2001, "new"), ephemeral=True, makepath=True)
    converge(lambda: cache_view(cache).get("new") == {2001, 2002}, "both instances")


def test_session_moved_to_another_member_with_changes_meanwhile(zk, cache):
    recorder = Recorder(cache)

    def meanwhile() -> None:
        replace(zk, inst(1001), registration(1001, owner="r2"))
        zk.create(inst(1003), registration(1003), ephemeral=True)
        zk.delete(inst(1002))

    zk.ensemble.move_session(zk, meanwhile)
    converge(lambda: cache_view(cache) == {"svc": {1001, 1003}}, "the changes made while moving")
    converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), "the copy to follow")
    assert 1001 in recorder.lowest


def test_session_expired_and_a_new_one_with_replacements_meanwhile(zk, cache):
    def meanwhile() -> None:
        replace(zk, inst(1001), registration(1001, owner="r2"))
        zk.delete(inst(1002))
        zk.create(inst(1002), registration(1002, owner="r2"), ephemeral=True)

    zk.ensemble.lose_session(zk, meanwhile)
    converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), "the copy to follow")
    settled(cache.watcher)
    assert cache_view(cache) == {"svc": {1001, 1002}}
    zk.create(inst(1005), registration(1005), ephemeral=True)  # watches armed on the new session
    converge(lambda: cache_view(cache) == {"svc": {1001, 1002, 1005}}, "a later instance")


def test_a_lost_notification_is_repaired_by_the_periodic_re_read(zk):
    with ServiceCache(zk) as cache:
        cache.watcher.resync_interval = 0.2
        cache.watcher.resync()
        with zk.ensemble.held():
            zk.delete(inst(1002))
            zk.create(inst(1003), registration(1003), ephemeral=True)
        assert zk.ensemble.drop() > 0  # those firings never arrive
        converge(lambda: cache_view(cache) == {"svc": {1001, 1003}}, "the safety net to find both changes")
        assert cache.watcher.resyncs >= 1


def test_zk_watch_stream_reports_a_replacement_as_one_event(zk):
    import queue

    events: queue.Queue = queue.Queue()
    watcher = w.TreeWatcher(zk, "/services", events.put, depth=None)
    watcher.start(timeout=5)
    try:
        replace(zk, inst(1001), registration(1001, owner="r2"))
        event = events.get(timeout=5)
        assert (event.kind, event.path) == (w.ZkEventKind.NODE_REPLACED, inst(1001))
        assert json.loads(event.data)["svcctl"]["registrator"] == "r2"
        with zk.ensemble.held():
            zk.delete(inst(1002))
            zk.create(inst(1002), registration(1002, owner="r2"), ephemeral=True)
        zk.ensemble.release()
        event = events.get(timeout=5)
        assert (event.kind, event.path) == (w.ZkEventKind.NODE_REPLACED, inst(1002))
        converge(lambda: copy_of(watcher) == truth(zk), "the copy to follow")
        settled(watcher)
        assert events.empty()
    finally:
        watcher.stop()


def _random_step(zk: FakeClient, rng: random.Random, owners: list[str]) -> None:
    """One change of the tree, read-decide-write in one step: a before_read action runs a step on
    the watcher's thread while the test's thread may be in another."""
    with zk.ensemble.lock:
        _random_change(zk, rng, owners)


def _random_change(zk: FakeClient, rng: random.Random, owners: list[str]) -> None:
    present = [p for p in zk.ensemble.nodes if p.count("/") == 3 and p.startswith("/services/")]
    roll = rng.random()
    service = rng.choice(["svc", "b"])
    port = rng.randint(1, 6) + 1000
    path = inst(port, service)
    if roll < 0.3 and present:
        victim = rng.choice(present)
        replace(zk, victim, registration(int(victim.rsplit(":", 1)[1]), victim.split("/")[2], owner=rng.choice(owners)))
    elif roll < 0.5 and present:
        victim = rng.choice(present)
        zk.delete(victim)
        if rng.random() < 0.6:
            zk.create(
                victim,
                registration(int(victim.rsplit(":", 1)[1]), victim.split("/")[2], owner=rng.choice(owners)),
                ephemeral=True,
            )
        parent = victim.rsplit("/", 1)[0]
        if not zk.ensemble.children(parent) and rng.random() < 0.5:
            zk.delete(parent)  # the registrator removes a service node with its last instance
    elif roll < 0.8:
        if path not in zk.ensemble.nodes:
            zk.create(path, registration(port, service), ephemeral=True, makepath=True)
    elif present:
        victim = rng.choice(present)
        zk.set(victim, registration(int(victim.rsplit(":", 1)[1]), victim.split("/")[2], owner=rng.choice(owners)))


@pytest.mark.parametrize("seed", range(40))
def test_random_interleavings_converge_to_what_zookeeper_holds(seed):
    rng = random.Random(seed)
    zk = FakeClient(FakeEnsemble(), 1)
    zk.create("/services", makepath=True)
    zk.create(inst(1001), registration(1001), ephemeral=True, makepath=True)
    owners = ["r1", "r2", "r3"]
    with ServiceCache(zk) as cache:
        for _ in range(30):
            mode = rng.random()
            if mode < 0.4:
                with zk.ensemble.held():
                    for _ in range(rng.randint(1, 4)):
                        _random_step(zk, rng, owners)
                zk.ensemble.release()
            elif mode < 0.55:
                with zk.ensemble.lock:
                    target = rng.choice(
                        ["/services", "/services/svc", "/services/b"]
                        + [p for p in zk.ensemble.nodes if p.count("/") == 3]
                    )
                zk.ensemble.before_read(target, lambda: _random_step(zk, rng, owners))
                _random_step(zk, rng, owners)
            elif mode < 0.62:
                zk.ensemble.move_session(zk, lambda: _random_step(zk, rng, owners))
            elif mode < 0.67:
                zk.ensemble.lose_session(zk, lambda: _random_step(zk, rng, owners))
            else:
                _random_step(zk, rng, owners)
        zk.ensemble.cancel_before_reads()
        converge(lambda: copy_of(cache.watcher) == truth(zk, depth=2), f"seed {seed}: the copy to equal the tree")
        settled(cache.watcher)  # the copy is read before the cache applies what the reads found
        assert cache_view(cache) == zk_view(zk)


# --- registrations that go with their owner's session --------------------------------------------

ELECTION = "/svcctl/registrators/ENGINE"


def registrator_zk(owner: int = 7) -> FakeClient:
    """Two registrations owned by registrator session `owner`, which holds the election lock."""
    zk = FakeClient(FakeEnsemble(), 1)
    zk.create("/services/svc", makepath=True)
    zk.create(ELECTION, makepath=True)
    registrator = FakeClient(zk.ensemble, owner)
    registrator.create(f"{ELECTION}/x__lock__0000000001", ephemeral=True)
    for port in (1001, 1002):
        registrator.create(inst(port), registration(port), ephemeral=True)
    return zk


def test_registrations_gone_with_their_owners_session_stay_until_a_successor_writes_them():
    zk = registrator_zk()
    with ServiceCache(zk, orphan_grace=30) as cache:
        removed = []
        cache.add_listener(lambda change: removed.extend(change.removed))
        assert {i.owner_session for i in cache.instances("svc")} == {7}
        zk.ensemble.expire(7)  # the active registrator crashed: its lock and registrations go
        converge(lambda: cache.watcher.nodes.get(inst(1001)) is None, "the watcher to see them go")
        converge(
            lambda: "/services/svc" not in cache.watcher.nodes or not cache.table.instances("svc"),
            "the table to drop them",
        )
        assert {i.port for i in cache.instances("svc")} == {1001, 1002}  # still offered
        assert {i.port for i in cache.orphans()} == {1001, 1002}
        assert removed == []  # the gateway was not told to drain them
        successor = FakeClient(zk.ensemble, 8)
        successor.create(f"{ELECTION}/y__lock__0000000002", ephemeral=True)
        for port in (1001, 1002):  # the successor registers them again
            successor.create(inst(port), registration(port, owner="r2"), ephemeral=True)
        converge(lambda: not cache.orphans(), "the successor's registrations to replace them")
        assert {(i.port, i.owner_session) for i in cache.instances("svc")} == {(1001, 8), (1002, 8)}
        assert removed == []


def test_a_live_owner_deleting_a_registration_is_obeyed_at_once():
    zk = registrator_zk()
    with ServiceCache(zk, orphan_grace=30) as cache:
        zk.delete(inst(1001))  # the kill-signal drain: the registrator is alive
        converge(lambda: {i.port for i in cache.instances("svc")} == {1002}, "1001 to leave at once")
        assert cache.orphans() == []


def test_an_orphan_nobody_registers_again_leaves_after_the_grace():
    zk = registrator_zk()
    with ServiceCache(zk, orphan_grace=0.3) as cache:
        removed = []
        cache.add_listener(lambda change: removed.extend(i.port for i in change.removed))
        zk.ensemble.expire(7)
        converge(lambda: cache.orphans(), "them to be kept")
        converge(lambda: cache.instances("svc") == [], "them to leave after the grace")
        settled(cache.watcher)  # the listener told too
        assert sorted(removed) == [1001, 1002] and cache.orphans() == []


def test_without_any_registrator_election_nothing_is_kept(zk, cache):
    zk.delete(inst(1001))
    converge(lambda: {i.port for i in cache.instances("svc")} == {1002}, "1001 to leave")
    assert cache.orphans() == []


def test_a_registration_of_a_client_that_is_no_registrator_leaves_at_once():
    zk = registrator_zk()
    hand_made = FakeClient(zk.ensemble, 42)  # a test's or a hand-made registration
    hand_made.create(inst(1003), registration(1003), ephemeral=True)
    with ServiceCache(zk, orphan_grace=30) as cache:
        zk.ensemble.expire(42)
        converge(lambda: {i.port for i in cache.instances("svc")} == {1001, 1002}, "1003 to leave at once")
        assert cache.orphans() == []


def test_a_removed_child_is_reported_once_as_child_removed_whichever_firing_comes_first(zk):
    import queue

    events: queue.Queue = queue.Queue()
    watcher = w.TreeWatcher(zk, "/services", events.put, depth=None)
    watcher.start(timeout=5)
    try:
        zk.delete(inst(1002))  # its own data watch fires before its parent's child watch
        assert (lambda e: (e.kind, e.path))(events.get(timeout=5)) == (w.ZkEventKind.CHILD_REMOVED, inst(1002))
        zk.delete(inst(1001))
        zk.delete("/services/svc")  # the service node after its last instance
        got = [(e.kind, e.path) for e in (events.get(timeout=5), events.get(timeout=5))]
        assert got == [(w.ZkEventKind.CHILD_REMOVED, inst(1001)), (w.ZkEventKind.CHILD_REMOVED, "/services/svc")]
        zk.delete("/services")
        assert (lambda e: (e.kind, e.path))(events.get(timeout=5)) == (w.ZkEventKind.NODE_DELETED, "/services")
        time.sleep(0.2)
        assert events.empty()
    finally:
        watcher.stop()


def test_a_consumer_that_raises_does_not_end_the_stream(zk):
    seen: list[tuple[str, str]] = []

    def fragile(event: w.ZkEvent) -> None:
        seen.append((event.kind, event.path))
        if event.kind != w.ZkEventKind.CHILD_ADDED or event.path != inst(1004):
            raise RuntimeError("consumer bug")

    watcher = w.TreeWatcher(zk, "/services", fragile, depth=None)
    watcher.start(timeout=5)
    try:
        zk.create(inst(1003), registration(1003), ephemeral=True)
        converge(lambda: (w.ZkEventKind.CHILD_ADDED, inst(1003)) in seen, "the first event")
        zk.create(inst(1004), registration(1004), ephemeral=True)
        converge(lambda: (w.ZkEventKind.CHILD_ADDED, inst(1004)) in seen, "the stream to go on")
    finally:
        watcher.stop()


def test_an_election_that_cannot_be_read_keeps_the_orphans_for_the_grace():
    from kazoo.exceptions import ConnectionLoss

    zk = registrator_zk()
    with ServiceCache(zk, orphan_grace=30) as cache:
        assert {i.port for i in cache.instances("svc")} == {1001, 1002}
        reads = zk.get_children_async

        def election_unreadable(path, *args, **kwargs):
            if path.startswith(ELECTION.rsplit("/", 1)[0]):
                raise ConnectionLoss()  # a failover in progress
            return reads(path, *args, **kwargs)

        zk.get_children_async = election_unreadable
        zk.ensemble.expire(7)
        converge(lambda: cache.watcher.nodes.get(inst(1001)) is None, "the watcher to see them go")
        # Its copy changes before the cache applies the removals: wait for both to be applied.
        converge(lambda: not cache.table.instances("svc"), "the table to drop them")
        # The change was not lost with the failed read: the instances are kept, not dropped.
        assert {i.port for i in cache.instances("svc")} == {1001, 1002}
        assert {i.port for i in cache.orphans()} == {1001, 1002}


def test_a_consumer_reading_while_the_election_is_read_sees_every_orphan():
    # The watcher reads the election to decide whether a removed registration is an orphan; a
    # consumer on another thread asking meanwhile must see each instance registered or kept.
    import threading

    from svcctl.registry.election import ELECTION_ROOT

    zk = registrator_zk()
    with ServiceCache(zk, orphan_grace=30) as cache:
        seen: list[set[int]] = []

        def consumer_reads_meanwhile() -> None:
            reader = threading.Thread(target=lambda: seen.append({i.port for i in cache.instances("svc")}))
            reader.start()
            reader.join(5)
            zk.ensemble.before_read(ELECTION_ROOT, consumer_reads_meanwhile)  # and at the next read

        zk.ensemble.before_read(ELECTION_ROOT, consumer_reads_meanwhile)
        zk.ensemble.expire(7)
        converge(lambda: not cache.table.instances("svc"), "the table to drop them")
        zk.ensemble.cancel_before_reads()
        assert seen and all(ports == {1001, 1002} for ports in seen), seen
        assert {i.port for i in cache.orphans()} == {1001, 1002}


def test_an_orphan_leaves_on_the_watchers_thread_and_not_after_stop():
    import threading

    zk = registrator_zk()
    threads = []
    with ServiceCache(zk, orphan_grace=0.2) as cache:
        cache.add_listener(lambda change: threads.append(threading.current_thread().name) if change.removed else None)
        zk.ensemble.expire(7)
        converge(lambda: cache.instances("svc") == [], "them to leave after the grace")
    assert threads and all(name.startswith("zk-watch") for name in threads)

    zk = registrator_zk()
    late = []
    cache = ServiceCache(zk, orphan_grace=0.3).start()
    cache.add_listener(lambda change: late.extend(change.removed))
    zk.ensemble.expire(7)
    converge(lambda: cache.orphans(), "them to be kept")
    cache.stop()
    time.sleep(0.5)
    assert late == []  # a stopped cache tells no one


def test_a_consumer_failing_on_one_event_still_gets_the_next_ones():
    zk = FakeClient(FakeEnsemble(), 1)
    zk.create("/services/svc", makepath=True)
    seen = []

    def consumer(event: w.ZkEvent) -> None:
        seen.append((event.kind, event.path))
        if event.path == inst(1001):
            raise RuntimeError("a consumer bug")

    watcher = w.TreeWatcher(zk, "/services", consumer, depth=2)
    watcher.start()
    try:
        transaction = zk.transaction()
        transaction.create(inst(1001), registration(1001))
        transaction.create(inst(1002), registration(1002))
        transaction.commit()
        converge(lambda: (w.ZkEventKind.CHILD_ADDED, inst(1002)) in seen, "the event after the failing one")
        assert any(kind == w.ZkEventKind.WATCH_ERROR for kind, _path in seen)
    finally:
        watcher.stop()
