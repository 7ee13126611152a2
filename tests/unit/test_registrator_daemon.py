"""The registrator daemon's hand-over, signal safety and write fencing, against an in-memory
stand-in for kazoo (the real ensemble is exercised by tests/e2e/test_registrator.py)."""

from __future__ import annotations

import json
import queue
from dataclasses import dataclass

import pytest
from kazoo.exceptions import NodeExistsError, NoNodeError, RolledBackError, RuntimeInconsistency
from kazoo.protocol.states import KazooState
from svcctl.config import parse_registry_uri
from svcctl.registration import Op, Options, Registration
from svcctl.registrator.daemon import Config, NotElected, Registrator, fenced_result

ELECTION = "/svcctl/registrators/E"
OURS, SUCCESSOR = 0x111, 0x222


@dataclass
class Stat:
    ephemeralOwner: int
    version: int = 0
    numChildren: int = 0
    ctime: int = 0


class Done:
    def __init__(self, value):
        self.value = value

    def get(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class FakeZk:
    """Nodes as path → (data, owner); transactions applied atomically, like ZooKeeper's multi."""

    def __init__(self, session: int) -> None:
        self.nodes: dict[str, tuple[bytes, int]] = {}
        self.client_id = (session, b"")
        self.state = KazooState.CONNECTED
        self.connected = True
        self.on_exists = None  # hook: called on each exists_async (the successor acting meanwhile)

    def add(self, path: str, data: bytes = b"", owner: int = 0) -> None:
        self.nodes[path] = (data, owner)

    def exists(self, path):
        found = self.nodes.get(path)
        return Stat(found[1]) if found else None

    def exists_async(self, path):
        if self.on_exists:
            self.on_exists(path)
        return Done(self.exists(path))

    def get(self, path):
        if path not in self.nodes:
            raise NoNodeError()
        data, owner = self.nodes[path]
        return data, Stat(owner)

    def get_children(self, path):
        prefix = path.rstrip("/") + "/"
        return [p[len(prefix):] for p in self.nodes if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def ensure_path(self, path):
        self.nodes.setdefault(path, (b"", 0))

    def transaction(self):
        return FakeTx(self)


class FakeTx:
    def __init__(self, zk: FakeZk) -> None:
        self.zk, self.ops = zk, []

    def check(self, path, version):
        self.ops.append(("check", path))

    def create(self, path, data, ephemeral=False):
        self.ops.append(("create", path, data))

    def delete(self, path, version=-1):
        self.ops.append(("delete", path))

    def set_data(self, path, data, version=-1):
        self.ops.append(("set", path, data))

    def commit_async(self):
        nodes = dict(self.zk.nodes)
        results = []
        for op in self.ops:
            kind, path = op[0], op[1]
            error = None
            if kind in ("check", "delete", "set") and path not in nodes:
                error = NoNodeError()
            elif kind == "create" and path in nodes:
                error = NodeExistsError()
            elif kind == "create" and path.rsplit("/", 1)[0] not in nodes:
                error = NoNodeError()
            if error:  # ops before: rolled back; after: not run
                return Done([RolledBackError()] * len(results) + [error] + [RuntimeInconsistency()] * (len(self.ops) - len(results) - 1))
            if kind == "create":
                nodes[path] = (op[2], self.zk.client_id[0])
            elif kind == "delete":
                del nodes[path]
            elif kind == "set":
                nodes[path] = (op[2], nodes[path][1])
            results.append(True)
        self.zk.nodes = nodes
        return Done(results)

    def commit(self):
        return self.commit_async().get()


class FakeEngine:
    def info(self):
        return {"ID": "E"}


def registrator(zk: FakeZk, active: bool = True) -> Registrator:
    config = Config(uri=parse_registry_uri("zookeeper://127.0.0.1:2181/services"), options=Options(), registrator_id="r1", handover_wait=5.0)
    r = Registrator(config, engine=FakeEngine())
    r.zk = zk
    zk.add("/services")
    zk.add(ELECTION)
    if active:
        zk.add(f"{ELECTION}/x__lock__0000000001", json.dumps({"id": "r1", "role": "active"}).encode(), OURS)
        r.lead_node, r.lead_session, r.active = f"{ELECTION}/x__lock__0000000001", OURS, True
    return r


def registration(port: int) -> Registration:
    return Registration("svc", "127.0.0.1", port, 8080, "tcp", "c" * 64, "cccc", "svc-1")


@pytest.mark.unit
def test_queue_put_is_safe_from_a_signal_handler():
    # queue.Queue's put takes a non-reentrant lock the main thread may hold inside get().
    assert isinstance(registrator(FakeZk(OURS)).queue, queue.SimpleQueue)


@pytest.mark.unit
def test_demoted_clears_owned_only_when_not_stopping():
    r = registrator(FakeZk(OURS))
    r.owned = {"c": {"/services/svc/127.0.0.1:1"}}
    r._handle(("demoted", None))
    assert r.owned == {}
    r.owned = {"c": {"/services/svc/127.0.0.1:1"}}
    r.stop("signal SIGTERM")
    r._handle(("demoted", None))  # the election thread queued it before ("stop")
    assert r.owned == {"c": {"/services/svc/127.0.0.1:1"}}


@pytest.mark.unit
def test_handover_waits_until_the_successor_owns_every_path():
    zk = FakeZk(OURS)
    r = registrator(zk)
    paths = [f"/services/svc/127.0.0.1:{p}" for p in (1, 2)]
    zk.add("/services/svc")
    for p in paths:
        zk.add(p, b"{}", OURS)
    r.owned = {"c": set(paths)}
    r.stop("signal SIGTERM")
    r._handle(("demoted", None))  # the race of the issue: demoted handled before stop
    r._handle(("stop", "signal SIGTERM"))
    # The successor already calls itself active (it publishes that before its resync) ...
    del zk.nodes[r.lead_node]
    zk.add(f"{ELECTION}/y__lock__0000000002", json.dumps({"id": "r2", "role": "active"}).encode(), SUCCESSOR)
    polls = []

    def successor_resyncs(path):  # ... and replaces one node per poll round, a little later
        polls.append(path)
        taken = {5: paths[0], 9: paths[1]}.get(len(polls))
        if taken:
            zk.nodes[taken] = (b"{}", SUCCESSOR)

    zk.on_exists = successor_resyncs
    r._wait_for_handover()
    assert all(zk.nodes[p][1] == SUCCESSOR for p in paths)
    assert len(polls) >= 9


@pytest.mark.unit
def test_fenced_result():
    with pytest.raises(NotElected):
        fenced_result([NoNodeError(), RuntimeInconsistency()])
    error = NoNodeError()
    assert fenced_result([RolledBackError(), error]) == [error]  # the check passed, the write failed
    assert fenced_result([True, "/p"]) == ["/p"]


@pytest.mark.unit
def test_writes_go_out_only_while_the_lock_node_lives():
    zk = FakeZk(OURS)
    r = registrator(zk)
    op = Op("create", "/services/svc/127.0.0.1:1", registration(1))
    r.dirty = False
    assert r.apply([op], cause="start", started=0)["create"] == 1
    assert zk.nodes[op.path][1] == OURS and not r.dirty
    # The session expired (its lock node went with it) and kazoo opened a new one on the same
    # client; client_id still matching is not enough: the write must fail as a whole.
    del zk.nodes[r.lead_node]
    zk.client_id = (OURS, b"")
    op2 = Op("create", "/services/svc/127.0.0.1:2", registration(2))
    counts = r.apply([op2], cause="start", started=0)
    assert counts["failed"] == 1 and op2.path not in zk.nodes and r.dirty
    # A create whose parent is missing retries through _create, fenced as well.
    op3 = Op("create", "/services/other/127.0.0.1:3", registration(3))
    assert r.apply([op3], cause="start", started=0)["failed"] == 1
    assert "/services/other/127.0.0.1:3" not in zk.nodes


@pytest.mark.unit
def test_no_write_when_the_session_is_not_the_elected_one():
    zk = FakeZk(OURS)
    r = registrator(zk)
    zk.client_id = (0x999, b"")  # a new session: can_write() is false, nothing is sent
    op = Op("create", "/services/svc/127.0.0.1:1", registration(1))
    assert r.apply([op], cause="start", started=0)["failed"] == 1
    assert op.path not in zk.nodes and r.dirty


class FakeLock:
    def __init__(self, node):
        self.path, self.node = ELECTION, node


class FakeElection:
    def __init__(self, node):
        self.lock = FakeLock(node)


@pytest.mark.unit
def test_lead_records_the_session_owning_the_lock_node_via_the_elections_client():
    old = FakeZk(OURS)
    r = registrator(old, active=False)
    old.add(f"{ELECTION}/x__lock__0000000001", b"{}", OURS)
    election = FakeElection("x__lock__0000000001")
    r.election = election
    # _check_stuck swapped self.zk for a new client meanwhile: the term is void.
    r.zk = FakeZk(0x333)
    r._lead(old, election)
    assert not r.active and r.lead_session == 0 and r.lead_node == ""
    # The election's client is the current one and owns the lock node: elected.
    r.zk = old
    r.demote.set()  # end the term at once
    r._lead(old, election)
    assert r.lead_session == OURS and r.lead_node == f"{ELECTION}/x__lock__0000000001"
    assert r.queue.get_nowait() == ("elected", OURS)
