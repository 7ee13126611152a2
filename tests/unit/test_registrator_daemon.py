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
from svcctl.registrator.daemon import Config, NotElected, Registrator, fenced_result, signal_number, terminating_kill

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
        return Stat(found[1], numChildren=len(self.get_children(path))) if found else None

    def exists_async(self, path):
        if self.on_exists:
            self.on_exists(path)
        return Done(self.exists(path))

    def get(self, path):
        if path not in self.nodes:
            raise NoNodeError()
        data, owner = self.nodes[path]
        return data, Stat(owner)

    def get_async(self, path):
        try:
            return Done(self.get(path))
        except NoNodeError as exc:
            return Done(exc)

    def get_children(self, path):
        prefix = path.rstrip("/") + "/"
        return [p[len(prefix):] for p in self.nodes if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def get_children_async(self, path):
        return Done(self.get_children(path) if path in self.nodes else NoNodeError())

    def delete(self, path, version=-1):
        if path not in self.nodes:
            raise NoNodeError()
        del self.nodes[path]

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


# --- draining: deregistered at a terminating signal, not at die ------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    "signal, stop_signal, expected",
    [
        # Terminating by default, as numbers (engines up to now) and as names (in any spelling).
        ("15", None, True), ("SIGTERM", None, True), ("TERM", None, True), ("sigterm", None, True), (" 15 ", None, True),
        ("9", None, True), ("SIGKILL", None, True), ("2", None, True), ("SIGINT", None, True),
        ("3", None, True), ("SIGQUIT", None, True),
        # Reload / housekeeping signals: the server goes on serving.
        ("1", None, False), ("SIGHUP", None, False), ("10", None, False), ("SIGUSR1", None, False),
        ("12", None, False), ("SIGUSR2", None, False), ("28", None, False), ("SIGWINCH", None, False),
        ("18", None, False), ("SIGCONT", None, False),
        # The container's own STOPSIGNAL is what `docker stop` sends: Apache's graceful stop.
        ("28", "SIGWINCH", True), ("SIGWINCH", "28", True), ("28", "WINCH", True), ("1", "SIGWINCH", False),
        ("37", "SIGRTMIN+3", True), ("SIGRTMIN+3", "SIGRTMIN+3", True), ("36", "SIGRTMIN+3", False),
        ("15", "SIGWINCH", True),  # a TERM still terminates whatever the image's stop signal
        # Nothing usable: keep the registration (die still follows when the container ends).
        (None, None, False), ("", None, False), ("SIGBOGUS", None, False), ("0", None, False), ("99", None, False),
        ("bogus", "bogus", False), (None, "SIGTERM", False),
    ],
)
def test_terminating_kill_classification(signal, stop_signal, expected):
    assert terminating_kill(signal, stop_signal) is expected


@pytest.mark.unit
def test_signal_number():
    assert [signal_number(v) for v in ("15", "SIGTERM", "term", "SIGRTMIN", "SIGRTMIN+3", "SIGRTMAX-1", "SIGRTMAX+1", "x", None)] == [
        15, 15, 15, 34, 37, 63, None, None, None]


CID, OTHER = "a" * 64, "b" * 64


def container_info(cid: str, port: int, stop_signal: str | None = None) -> dict:
    config = {"Image": "tiny", "Env": ["SERVICE_NAME=svc"], "Labels": {}, "Hostname": cid[:12]}
    if stop_signal:
        config["StopSignal"] = stop_signal
    return {"Id": cid, "Name": f"/c-{cid[:4]}", "State": {"Running": True}, "Config": config, "HostConfig": {},
            "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}}}


class FakeApi:
    """`docker ps` and `docker inspect` of the running containers."""

    def __init__(self) -> None:
        self.running: dict[str, dict] = {}
        self.inspects = 0

    def containers(self):
        return [{"Id": cid, "State": "running", "Ports": [{"PrivatePort": 8080, "Type": "tcp", "PublicPort": int(i["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])}]}
                for cid, i in self.running.items()]

    def inspect_container(self, cid):
        import docker.errors

        self.inspects += 1
        if cid not in self.running:
            raise docker.errors.NotFound("gone")
        return self.running[cid]


class FakeDockerEngine(FakeEngine):
    def __init__(self) -> None:
        self.api = FakeApi()


def draining_registrator(**config) -> tuple[Registrator, FakeZk, FakeApi]:
    zk = FakeZk(OURS)
    engine = FakeDockerEngine()
    cfg = Config(uri=parse_registry_uri("zookeeper://127.0.0.1:2181/services"), options=Options(), registrator_id="r1", **config)
    r = Registrator(cfg, engine=engine)
    r.zk = zk
    zk.add("/services")
    zk.add(ELECTION)
    zk.add(f"{ELECTION}/x__lock__0000000001", b"{}", OURS)
    r.lead_node, r.lead_session, r.active = f"{ELECTION}/x__lock__0000000001", OURS, True
    return r, zk, engine.api


def event(r: Registrator, cid: str, action: str, signal: str | None = None) -> None:
    """One engine event through the main loop's handling (as _main_loop runs it)."""
    r._handle(("container", cid, action, 0.0, signal))
    r._expire_draining()
    if r.can_write() and r.dirty:
        r.full_resync("state change")


@pytest.mark.unit
def test_terminating_kill_deregisters_at_once_and_resync_does_not_re_add():
    r, zk, api = draining_registrator()
    api.running = {CID: container_info(CID, 32001), OTHER: container_info(OTHER, 32002)}
    r.full_resync("start")
    mine, other = "/services/svc/127.0.0.1:32001", "/services/svc/127.0.0.1:32002"
    assert mine in zk.nodes and other in zk.nodes and not r.dirty

    # A reload signal changes nothing.
    for signal in ("1", "SIGHUP", "10", "SIGUSR1"):
        event(r, CID, "kill", signal)
    assert mine in zk.nodes and r.draining == {}

    # SIGTERM: gone at once, although the container still runs (it is draining).
    event(r, CID, "kill", "15")
    assert mine not in zk.nodes and other in zk.nodes and CID in r.draining and CID not in r.owned
    # Neither a resync (it is still in `docker ps`) nor an unpause/update re-adds it.
    r.full_resync("periodic")
    event(r, CID, "update")
    event(r, CID, "unpause")
    assert mine not in zk.nodes and other in zk.nodes

    # die ends the drain (and removes nothing more); a later start registers again.
    del api.running[CID]
    event(r, CID, "die")
    assert r.draining == {} and mine not in zk.nodes
    api.running[CID] = container_info(CID, 32001)
    event(r, CID, "start")
    assert mine in zk.nodes


@pytest.mark.unit
def test_a_restart_ends_the_drain():
    r, zk, api = draining_registrator()
    api.running = {CID: container_info(CID, 32001)}
    r.full_resync("start")
    path = "/services/svc/127.0.0.1:32001"
    event(r, CID, "kill", "SIGTERM")
    assert path not in zk.nodes
    api.running[CID] = container_info(CID, 32003)  # a new host port after the restart
    event(r, CID, "start")
    assert r.draining == {} and "/services/svc/127.0.0.1:32003" in zk.nodes


@pytest.mark.unit
def test_a_container_ignoring_the_signal_is_registered_again_after_the_hold():
    r, zk, api = draining_registrator(drain_hold=60.0)
    api.running = {CID: container_info(CID, 32001)}
    r.full_resync("start")
    path = "/services/svc/127.0.0.1:32001"
    event(r, CID, "kill", "15")
    assert path not in zk.nodes
    r.full_resync("periodic")
    assert path not in zk.nodes
    r.draining[CID] -= 61  # the hold has passed and the container still runs
    r._expire_draining()
    assert r.dirty and r.draining == {}
    r.full_resync("state change")
    assert path in zk.nodes


@pytest.mark.unit
def test_the_containers_stop_signal_drains_too():
    r, zk, api = draining_registrator()
    api.running = {CID: container_info(CID, 32001, stop_signal="SIGWINCH"), OTHER: container_info(OTHER, 32002)}
    r.full_resync("start")
    # WINCH is only a stop signal for the container that declares it (Apache's graceful stop).
    event(r, OTHER, "kill", "28")
    assert "/services/svc/127.0.0.1:32002" in zk.nodes and r.draining == {}
    event(r, CID, "kill", "28")
    assert "/services/svc/127.0.0.1:32001" not in zk.nodes and CID in r.draining
    # Not in the inspect cache (e.g. a standby that just started): inspected at the kill.
    r.inspect_cache.clear()
    before = api.inspects
    event(r, OTHER, "kill", "SIGWINCH")
    assert api.inspects == before + 1 and OTHER not in r.draining


@pytest.mark.unit
def test_a_standby_remembers_the_drain_for_its_first_resync():
    r, zk, api = draining_registrator()
    api.running = {CID: container_info(CID, 32001)}
    r.active = False  # standing by: it cannot write, but it reads the events
    event(r, CID, "kill", "9")
    assert CID in r.draining
    r.active = True  # elected: its first resync leaves the draining container out
    r.full_resync("elected")
    assert "/services/svc/127.0.0.1:32001" not in zk.nodes
    # A container that is not running any more needs no entry.
    api.running.clear()
    r.full_resync("periodic")
    assert r.draining == {}
