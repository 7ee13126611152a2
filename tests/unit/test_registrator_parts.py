"""The registrator's parts, each alone, against an in-memory ZooKeeper that behaves like the real
one (tests/unit/fakezk.py) and a stand-in for the engine's API; the real engine and ensemble are
exercised by tests/e2e/test_registrator.py."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
from concurrent.futures import Future

import pytest

from svcctl.config.settings import parse_registry_uri
from svcctl.docker.labels import COMPOSE_PROJECT
from svcctl.errors import ZooKeeperUnavailableError
from svcctl.registrator.daemon import Config, Registrator
from svcctl.registrator.drain import DrainTracker
from svcctl.registrator.events import ContainerEvent, parse_event
from svcctl.registrator.inspector import ContainerInspector
from svcctl.registrator.leadership import Demoted, Elected, Leadership, predecessor_is_dead
from svcctl.registrator.reconciler import EMPTY_SERVICE_MIN_AGE_MS, Reconciler
from svcctl.registrator.session import RetryPolicy, SessionKeeper
from svcctl.registrator.writer import FencedWriter
from svcctl.registry.election import ElectionIdentity
from svcctl.registry.model import LabelFilter, Op, Options, Registration
from svcctl.registry.payload import RegistrationPayload
from tests.unit.fakezk import FakeClient, FakeEnsemble

ELECTION = "/svcctl/registrators/E"
LOCK = f"{ELECTION}/x__lock__0000000001"
OURS, SUCCESSOR = 0x111, 0x222
CID, OTHER = "a" * 64, "b" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elected_client(session: int = OURS) -> FakeClient:
    """A session that holds the election: our lock node exists, owned by it."""
    client = FakeClient(FakeEnsemble(), session)
    client.ensure_path("/services")
    client.ensure_path(ELECTION)
    client.create(LOCK, json.dumps({"id": "r1", "role": "active"}).encode(), ephemeral=True)
    return client


def registration(port: int, name: str = "svc", cid: str = CID) -> Registration:
    return Registration(name, "127.0.0.1", port, 8080, "tcp", cid, cid[:12], f"c-{cid[:4]}")


def encode(reg: Registration) -> bytes:
    return json.dumps({"port": reg.port}).encode()


def container_info(
    cid: str, port: int, stop_signal: str | None = None, name: str = "svc", labels: dict | None = None
) -> dict:
    config = {"Image": "tiny", "Env": [f"SERVICE_NAME={name}"], "Labels": dict(labels or {}), "Hostname": cid[:12]}
    if stop_signal:
        config["StopSignal"] = stop_signal
    return {
        "Id": cid,
        "Name": f"/c-{cid[:4]}",
        "State": {"Running": True},
        "Config": config,
        "HostConfig": {},
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}},
    }


class FakeApi:
    """`docker ps` and `docker inspect`: running containers, and exited ones with their codes."""

    def __init__(self) -> None:
        self.running: dict[str, dict] = {}
        self.exited: dict[str, int] = {}
        self.inspects = 0

    def containers(self, all=False, filters=None):
        if all and (filters or {}).get("status") == "exited":
            return [
                {"Id": cid, "State": "exited", "Status": f"Exited ({code}) 3 seconds ago"}
                for cid, code in self.exited.items()
            ]
        return [
            {
                "Id": cid,
                "State": "running",
                "Ports": [
                    {
                        "PrivatePort": 8080,
                        "Type": "tcp",
                        "PublicPort": int(i["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]),
                    }
                ],
            }
            for cid, i in self.running.items()
        ]

    def inspect_container(self, cid):
        import docker.errors

        self.inspects += 1
        if cid not in self.running:
            raise docker.errors.NotFound("gone")
        return self.running[cid]


class FakeEngine:
    def __init__(self, api: FakeApi | None = None) -> None:
        self.api = api or FakeApi()


def make_reconciler(
    client: FakeClient, api: FakeApi | None = None, clock: Clock | None = None, options: Options | None = None, **kwargs
) -> Reconciler:
    return Reconciler(
        base="/services",
        options=options or Options(),
        engine_id="E",
        registrator_id="r1",
        inspector=ContainerInspector(FakeEngine(api), workers=2),
        drains=DrainTracker(60.0, clock or Clock()),
        writer=FencedWriter(lambda: client),
        client=lambda: client,
        **kwargs,
    )


def happen(r: Reconciler, cid: str, action: str, signal: str | None = None, exit_code: int | None = None) -> None:
    """One engine event as the daemon handles it: observed, then that container synced."""
    inspection = None
    if action not in ("die", "stop", "pause", "destroy", "kill"):
        inspection = r.inspector.prefetch(cid)
    event = ContainerEvent(cid, action, 0.0, signal=signal, exit_code=exit_code, inspection=inspection)
    if r.observe(event):
        r.sync({cid: r.view([event])}, session=OURS, fence=LOCK, cause=action)


def path(port: int, name: str = "svc") -> str:
    return f"/services/{name}/127.0.0.1:{port}"


# --- the fenced writer --------------------------------------------------------------------------


def test_a_burst_goes_out_in_one_transaction():
    client = elected_client()
    writer = FencedWriter(lambda: client)
    ops = [Op("create", path(p), registration(p)) for p in range(32000, 32050)]
    outcomes = writer.apply(ops, LOCK, encode)
    assert [o.status for o in outcomes] == ["done"] * 50
    assert client.transactions == 1
    assert all(client.exists(path(p)).ephemeralOwner == OURS for p in range(32000, 32050))


def test_nothing_is_written_on_a_session_that_is_not_the_elected_one():
    client = elected_client()
    writer = FencedWriter(lambda: client)
    # The session expired (the lock node went with it) and kazoo opened a new one on the same
    # client: every write of the batch fails as a whole.
    client.ensemble.expire(OURS)
    client.ensemble.open_session(client, 0x999)
    outcomes = writer.apply(
        [Op("create", path(1), registration(1)), Op("create", path(2, "other"), registration(2, "other"))], LOCK, encode
    )
    assert [o.status for o in outcomes] == ["fenced", "fenced"]
    assert client.exists(path(1)) is None and client.exists(path(2, "other")) is None


def test_a_raced_write_is_told_apart_and_the_others_still_land():
    client = elected_client()
    client.ensure_path("/services/svc")
    client.create(path(1), b"old", ephemeral=True)
    client.set(path(1), b"changed by someone")  # version 1 now
    writer = FencedWriter(lambda: client)
    ops = [
        Op("update", path(1), registration(1), version=0),
        Op("create", path(2), registration(2)),
        Op("delete", path(3), version=0),
    ]
    outcomes = writer.apply(ops, LOCK, encode)
    assert [(o.op.kind, o.status, o.error) for o in outcomes] == [
        ("update", "raced", "BadVersionError"),
        ("create", "done", None),
        ("delete", "done", None),
    ]  # a node already gone is deleted
    assert client.get(path(1))[0] == b"changed by someone" and client.exists(path(2)) is not None


def test_a_create_whose_service_node_was_pruned_meanwhile_recreates_it():
    client = elected_client()
    writer = FencedWriter(lambda: client)
    assert writer.apply([Op("create", path(1), registration(1))], LOCK, encode)[0].ok
    client.delete(path(1))
    client.delete("/services/svc")  # a prune the writer did not see: its cache says the parent exists
    assert writer.apply([Op("create", path(2), registration(2))], LOCK, encode)[0].ok
    assert client.exists(path(2)).ephemeralOwner == OURS


def test_a_create_whose_service_node_never_stays_fails_with_no_node_after_its_tries():
    from svcctl.registrator.writer import CREATE_ATTEMPTS

    client = elected_client()
    client.ensure_path = lambda path: None  # a prune that wins every race: the parent is never there
    writer = FencedWriter(lambda: client)
    outcome = writer.apply([Op("create", path(1), registration(1))], LOCK, encode)[0]
    assert (outcome.status, outcome.error) == ("failed", "NoNodeError")
    assert client.transactions == 1 + CREATE_ATTEMPTS  # the op's own, then each try of the create


def test_a_create_that_loses_its_connection_is_not_tried_again():
    from concurrent.futures import Future

    from kazoo.exceptions import ConnectionLoss, NoNodeError

    client = elected_client()
    commits = iter([[None, NoNodeError()], [None, NoNodeError()], ConnectionLoss()])

    class Tx:
        def check(self, path, version):
            pass

        def create(self, path, value=b"", acl=None, ephemeral=False, sequence=False):
            pass

        def commit(self):
            result = next(commits)
            if isinstance(result, Exception):
                raise result
            return result

        def commit_async(self):
            done = Future()
            done.set_result(self.commit())
            done.get = done.result  # kazoo's async result says get()
            return done

    client.transaction = Tx
    outcome = FencedWriter(lambda: client).apply([Op("create", path(1), registration(1))], LOCK, encode)[0]
    assert (outcome.status, outcome.error) == ("failed", "ConnectionLoss")
    assert next(commits, None) is None  # the op's commit, the create's NoNode, its next try lost: no further try


def test_prune_parent_keeps_a_service_node_with_children_or_too_young():
    client = elected_client()
    client.ensure_path("/services/busy")
    client.create("/services/busy/127.0.0.1:1", b"", ephemeral=True)
    client.ensure_path("/services/young")
    writer = FencedWriter(lambda: client)
    assert not writer.prune_parent("/services/busy")  # NotEmpty: kept
    created = client.exists("/services/young").ctime
    assert not writer.prune_parent("/services/young", older_than_ms=EMPTY_SERVICE_MIN_AGE_MS, now_ms=created + 5_000)
    assert writer.prune_parent("/services/young", older_than_ms=EMPTY_SERVICE_MIN_AGE_MS, now_ms=created + 11_000)
    assert client.exists("/services/young") is None and client.exists("/services/busy") is not None


# --- the reconciler -----------------------------------------------------------------------------


def test_start_and_stop_register_and_deregister_with_the_service_node():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running[CID] = container_info(CID, 32001)
    happen(r, CID, "start")
    assert client.exists(path(32001)).ephemeralOwner == OURS and r.owned == {CID: {path(32001)}}
    del api.running[CID]
    happen(r, CID, "die")
    assert client.exists(path(32001)) is None and client.exists("/services/svc") is None and r.owned == {}


def test_a_first_start_is_written_without_a_read():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running[CID] = container_info(CID, 32001)
    client.ensure_path("/services/svc")
    reads = client.reads
    r.sync({CID: api.running[CID]}, session=OURS, fence=LOCK, cause="start")
    assert client.reads == reads and client.exists(path(32001)).ephemeralOwner == OURS


def test_many_containers_synced_together_take_one_transaction():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    ids = [f"{i:064x}" for i in range(1, 41)]
    for n, cid in enumerate(ids):
        api.running[cid] = container_info(cid, 33000 + n)
    client.ensure_path("/services/svc")
    before = client.transactions
    report = r.sync({cid: api.running[cid] for cid in ids}, session=OURS, fence=LOCK, cause="start")
    assert report.counts["create"] == 40 and client.transactions - before == 1
    assert len(client.get_children("/services/svc")) == 40


def test_terminating_kill_deregisters_at_once_and_resync_does_not_re_add():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running = {CID: container_info(CID, 32001), OTHER: container_info(OTHER, 32002)}
    r.full_resync(session=OURS, fence=LOCK, reason="start")
    assert client.exists(path(32001)) and client.exists(path(32002))
    for signal in ("1", "SIGHUP", "10", "SIGUSR1"):  # reload signals change nothing
        happen(r, CID, "kill", signal)
    assert client.exists(path(32001)) and len(r.drains) == 0
    happen(r, CID, "kill", "15")  # gone at once, although the container still runs
    assert client.exists(path(32001)) is None and client.exists(path(32002)) and CID not in r.owned
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")  # still in `docker ps`: not re-added
    happen(r, CID, "update")
    happen(r, CID, "unpause")
    assert client.exists(path(32001)) is None
    happen(r, CID, "die")  # the engine may still list it as running for a moment: still held out
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")
    assert client.exists(path(32001)) is None and r.drains.is_draining(CID)
    happen(r, CID, "start")  # running again: registered again
    assert client.exists(path(32001)) and len(r.drains) == 0


def test_a_container_that_died_is_not_re_added_by_a_resync_that_still_lists_it():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running = {CID: container_info(CID, 32001)}
    r.full_resync(session=OURS, fence=LOCK, reason="start")
    happen(r, CID, "die")  # a crash: no kill before it
    assert client.exists(path(32001)) is None
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")  # `docker ps` lags behind the die event
    assert client.exists(path(32001)) is None
    del api.running[CID]
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")  # no longer listed: the hold is done
    assert len(r.drains) == 0


def test_a_container_ignoring_the_signal_is_registered_again_after_the_hold():
    client, api, clock = elected_client(), FakeApi(), Clock()
    r = make_reconciler(client, api, clock)
    api.running = {CID: container_info(CID, 32001)}
    r.full_resync(session=OURS, fence=LOCK, reason="start")
    happen(r, CID, "kill", "SIGTERM")
    clock.now += 59
    assert r.drains.expire() == [] and r.drains.is_draining(CID)
    clock.now += 2
    assert r.drains.expire() == [CID]
    r.full_resync(session=OURS, fence=LOCK, reason="state change")
    assert client.exists(path(32001))


def test_the_containers_stop_signal_drains_too_inspected_when_not_cached():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running = {CID: container_info(CID, 32001, stop_signal="SIGWINCH"), OTHER: container_info(OTHER, 32002)}
    r.full_resync(session=OURS, fence=LOCK, reason="start")
    happen(r, OTHER, "kill", "28")  # WINCH stops only the container that declares it
    assert client.exists(path(32002)) and not r.drains.is_draining(OTHER)
    r.inspector.forget(CID)  # e.g. a standby that just started: inspected at the kill
    before = api.inspects
    happen(r, CID, "kill", "28")
    assert api.inspects == before + 1 and client.exists(path(32001)) is None and r.drains.is_draining(CID)


def test_a_standby_remembers_the_drain_for_its_first_resync():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running = {CID: container_info(CID, 32001)}
    assert r.observe(ContainerEvent(CID, "kill", 0.0, signal="9"))  # a standby observes, cannot write
    r.full_resync(session=OURS, fence=LOCK, reason="elected")
    assert client.exists(path(32001)) is None
    api.running.clear()
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")
    assert len(r.drains) == 0  # not running any more: no entry needed


class RacingWriter(FencedWriter):
    """Another writer acts between the reconciler's read and its write."""

    def __init__(self, client, meanwhile) -> None:
        super().__init__(lambda: client)
        self.meanwhile = meanwhile

    def apply(self, ops, fence, encode):
        self.meanwhile()
        return super().apply(ops, fence, encode)


def test_a_raced_write_asks_for_a_resync_which_takes_the_node_over():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running[CID] = container_info(CID, 32001)
    client.ensure_path("/services/svc")
    # A registrator of this engine on another session (dead, its session not yet expired)
    # creates the node after our read found it absent: our create races.
    dead = FakeClient(client.ensemble, 0x333)
    body = json.dumps({"svcctl": {"engine_id": "E", "container_id": CID}}).encode()
    r.writer = RacingWriter(
        client, lambda: client.exists(path(32001)) or dead.create(path(32001), body, ephemeral=True)
    )
    report = r.sync({CID: api.running[CID]}, session=OURS, fence=LOCK, cause="start")
    # The create raced; read and planned again at once: a takeover (delete + create, one transaction).
    assert report.counts["replace"] == 1 and not report.needs_resync
    data, stat = client.get(path(32001))
    assert stat.ephemeralOwner == OURS and json.loads(data)["svcctl"]["registrator"] == "r1"
    # An update that races (someone changed the node after our read) asks for a full resync.
    client.set(path(32001), data)  # version 1 now
    api.running[CID] = container_info(CID, 32001, name="svc")
    r.writer = RacingWriter(client, lambda: client.set(path(32001), data))
    stale = client.get(path(32001))[1].version
    report = r.sync(
        {CID: {**api.running[CID], "Config": {**api.running[CID]["Config"], "Hostname": "renamed"}}},
        session=OURS,
        fence=LOCK,
        cause="update",
    )
    assert report.needs_resync and report.counts["failed"] == 1 and client.get(path(32001))[1].version == stale + 1
    r.full_resync(session=OURS, fence=LOCK, reason="state change")  # re-planned from fresh reads
    assert (
        client.get(path(32001))[1].ephemeralOwner == OURS
        and not r.full_resync(session=OURS, fence=LOCK, reason="periodic").changed
    )


def test_a_path_another_container_now_holds_is_not_deleted_by_the_old_ones_die():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    api.running[CID] = container_info(CID, 32001)
    happen(r, CID, "start")
    # CID's die is late; OTHER got the same host port and registered meanwhile.
    del api.running[CID]
    client.delete(path(32001))
    api.running[OTHER] = container_info(OTHER, 32001)
    happen(r, OTHER, "start")
    happen(r, CID, "die")
    assert json.loads(client.get(path(32001))[0])["svcctl"]["container_id"] == OTHER


def test_deregister_on_success_keeps_a_failed_container_until_it_is_removed():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api, keep_failed=True)
    api.running = {CID: container_info(CID, 32001), OTHER: container_info(OTHER, 32002)}
    r.full_resync(session=OURS, fence=LOCK, reason="start")
    happen(r, CID, "kill", "15")  # no draining in this mode: the exit code decides
    assert client.exists(path(32001))
    del api.running[CID], api.running[OTHER]
    api.exited = {CID: 1, OTHER: 0}
    happen(r, CID, "die", exit_code=1)
    happen(r, OTHER, "die", exit_code=0)
    assert client.exists(path(32001)) and client.exists(path(32002)) is None
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")  # a resync keeps it too
    assert client.exists(path(32001))
    del api.exited[CID]
    happen(r, CID, "destroy")
    assert client.exists(path(32001)) is None


def test_a_scoped_registrator_registers_only_its_projects_containers_on_events_and_resync():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api, options=Options(label_filters=(LabelFilter(COMPOSE_PROJECT, "dev"),)))
    api.running = {
        CID: container_info(CID, 32001, labels={COMPOSE_PROJECT: "dev"}),
        OTHER: container_info(OTHER, 32002, labels={COMPOSE_PROJECT: "svcctl"}),
    }
    happen(r, CID, "start")
    happen(r, OTHER, "start")
    assert client.exists(path(32001)) and client.exists(path(32002)) is None and set(r.owned) == {CID}
    r.full_resync(session=OURS, fence=LOCK, reason="periodic")
    assert client.get_children("/services/svc") == ["127.0.0.1:32001"] and set(r.owned) == {CID}


def test_a_resync_removes_this_engines_registration_of_an_out_of_scope_container_only():
    # Written before the scope (an unfiltered registrator of this engine, now dead), and by
    # another engine's registrator: the first is stale under the scope, the second not ours.
    client, api = elected_client(), FakeApi()
    api.running = {OTHER: container_info(OTHER, 32002, labels={COMPOSE_PROJECT: "svcctl"})}
    stale = registration(32002, cid=OTHER)
    foreign = registration(32003, cid="c" * 64)
    dead = FakeClient(client.ensemble, 0x999)
    dead.create(path(32002), RegistrationPayload.of(stale, "E", "old", 1.0).encode(), ephemeral=True, makepath=True)
    dead.create(path(32003), RegistrationPayload.of(foreign, "F", "theirs", 1.0).encode(), ephemeral=True)
    r = make_reconciler(client, api, options=Options(label_filters=(LabelFilter(COMPOSE_PROJECT, "dev"),)))
    report = r.full_resync(session=OURS, fence=LOCK, reason="start")
    assert report.counts["delete"] == 1 and client.exists(path(32002)) is None
    assert client.exists(path(32003)) is not None and r.owned == {}


def test_resync_prunes_only_empty_service_nodes_old_enough():
    client, api = elected_client(), FakeApi()
    r = make_reconciler(client, api)
    client.ensure_path("/services/old")
    client.ensemble.clock_ms = lambda: 0  # created long ago... (ctime 0)
    client.ensure_path("/services/older")
    client.ensemble.clock_ms = lambda: int(__import__("time").time() * 1000)
    client.ensure_path("/services/young")
    r.full_resync(session=OURS, fence=LOCK, reason="start")
    assert client.exists("/services/older") is None and client.exists("/services/young") is not None


def test_events_are_parsed_with_signal_and_exit_code():
    kill = parse_event(
        {
            "Type": "container",
            "Action": "kill",
            "id": CID,
            "timeNano": 1_700_000_000_500_000_000,
            "Actor": {"ID": CID, "Attributes": {"signal": "15"}},
        }
    )
    die = parse_event({"Action": "die", "Actor": {"ID": CID, "Attributes": {"exitCode": "137"}}, "time": 1})
    assert (kill.action, kill.signal, kill.time, kill.exit_code) == ("kill", "15", 1_700_000_000.5, None)
    assert (die.action, die.exit_code, die.gone) == ("die", 137, True)
    assert (
        parse_event({"Action": "exec_start: sh", "id": CID}) is None
        and parse_event({"Action": "oom", "id": CID}) is None
    )


# --- leadership ---------------------------------------------------------------------------------


ME = {"id": "r1", "hostname": "c0ffee", "pid": 1, "started_at": 200.0}


@pytest.mark.parametrize(
    "theirs, alive, dead",
    [
        ({**ME, "started_at": 100.0}, True, True),  # a restarted container: same host, pid 1 again
        ({**ME, "pid": 4242}, False, True),  # same host, that process is gone
        ({**ME, "pid": 4242}, True, False),  # same host, that process lives: a misconfigured duplicate
        ({**ME, "hostname": "other", "started_at": 100.0}, False, False),  # another host: cannot know
        ({**ME, "id": "r2", "started_at": 100.0}, False, False),  # another registrator
        ({**ME, "pid": None}, False, False),
    ],
)
def test_predecessor_is_dead(theirs, alive, dead):
    assert (
        predecessor_is_dead(
            ElectionIdentity.from_dict(theirs), ElectionIdentity.from_dict(ME), is_pid_alive=lambda pid: alive
        )
        is dead
    )


def leadership(client: FakeClient, posted: list | None = None, registrator_id: str = "r1") -> Leadership:
    session = SessionKeeper([], 10.0, lambda item: None)
    session.client = client
    return Leadership(
        session, ELECTION, registrator_id, "E", "/services", (posted if posted is not None else []).append, lambda: 0
    )


def test_a_dead_earlier_life_is_removed_from_the_election_and_a_live_duplicate_is_not():
    client = FakeClient(FakeEnsemble(), OURS)
    client.ensure_path(ELECTION)
    lead = leadership(client)
    me = dataclasses.asdict(lead.identity("standby"))
    dead = FakeClient(client.ensemble, 0x501)  # our previous life: its session lingers until its timeout
    dead.create(
        f"{ELECTION}/a__lock__0000000001",
        json.dumps({**me, "role": "active", "started_at": 1.0}).encode(),
        ephemeral=True,
    )
    standby = FakeClient(client.ensemble, 0x502)
    standby.create(
        f"{ELECTION}/b__lock__0000000002", json.dumps({"id": "r2", "hostname": "h2", "pid": 7}).encode(), ephemeral=True
    )
    twin = FakeClient(client.ensemble, 0x503)  # same id, another host: alive as far as we know
    twin.create(f"{ELECTION}/c__lock__0000000003", json.dumps({**me, "hostname": "elsewhere"}).encode(), ephemeral=True)
    lead.clear_stale_contenders()
    assert [c.identity.id for c in lead.contenders()] == ["r2", "r1"]  # the standby is first now
    assert [c.session for c in lead.contenders()] == [0x502, 0x503]


def test_serve_term_takes_the_session_owning_the_lock_node_through_the_elections_client():
    client = elected_client()
    posted: list = []
    lead = leadership(client, posted)

    class Lock:
        path, node = ELECTION, LOCK.rsplit("/", 1)[1]

    class Election:
        lock = Lock()

    lead.session.client = FakeClient(client.ensemble, 0x333)  # the keeper replaced the client: void
    lead.serve_term(client, Election())
    assert not lead.active and lead.lead_session == 0 and posted == []
    lead.session.client = client
    lead.demote()  # end the term at once
    lead.serve_term(client, Election())
    assert (lead.lead_session, lead.lead_node) == (OURS, LOCK)
    assert posted == [Elected(OURS, LOCK), Demoted()]


def test_handover_waits_until_the_successor_owns_every_path():
    client = elected_client()
    lead = leadership(client)
    paths = [path(1), path(2)]
    client.ensure_path("/services/svc")
    for p in paths:
        client.create(p, b"{}", ephemeral=True)
    # Our lock node is released; the successor calls itself active before its resync...
    client.delete(LOCK)
    successor = FakeClient(client.ensemble, SUCCESSOR)
    successor.create(
        f"{ELECTION}/y__lock__0000000002", json.dumps({"id": "r2", "role": "active"}).encode(), ephemeral=True
    )
    polls = []

    def successor_resyncs(p):  # ... and replaces one node per poll round, a little later
        polls.append(p)
        taken = {5: paths[0], 9: paths[1]}.get(len(polls))
        if taken:
            tx = successor.transaction()
            tx.delete(taken)
            tx.create(taken, b"{}", ephemeral=True)
            tx.commit()

    polled = client.exists_async

    def exists_async(path, watch=None):
        successor_resyncs(path)
        return polled(path, watch)

    client.exists_async = exists_async
    lead.wait_for_handover(paths, timeout=5.0)
    assert all(client.exists(p).ephemeralOwner == SUCCESSOR for p in paths) and len(polls) >= 9


# --- the session keeper and the daemon's wiring ---------------------------------------------------


class NeverConnects:
    def __init__(self) -> None:
        self.stopped = False

    def add_listener(self, listener):
        pass

    def start_async(self):
        return threading.Event()

    def stop(self):
        self.stopped = True

    def close(self):
        pass


def test_bounded_retries_end_with_a_clear_error():
    client = NeverConnects()
    keeper = SessionKeeper(
        parse_registry_uri("zookeeper://127.0.0.1:1/services").hosts,
        10.0,
        lambda item: None,
        client_factory=lambda hosts, timeout: client,
    )
    with pytest.raises(ZooKeeperUnavailableError, match="after 3 attempts"):
        keeper.connect(RetryPolicy(attempts=3, interval=0.01), threading.Event())
    assert client.stopped
    stopping = threading.Event()
    stopping.set()  # SIGTERM while waiting: ends at once, no error
    assert keeper.connect(RetryPolicy(attempts=-1, interval=5), stopping) is False


def daemon(client: FakeClient, api: FakeApi) -> Registrator:
    config = Config(
        uri=parse_registry_uri("zookeeper://127.0.0.1:2181/services"), options=Options(), registrator_id="r1"
    )
    r = Registrator(config, FakeEngine(api), "E")
    r.session.client = client
    r.leadership.active, r.leadership.lead_session, r.leadership.lead_node = True, OURS, LOCK
    r.dirty = False
    return r


def test_the_queue_is_safe_from_a_signal_handler():
    # queue.Queue's put takes a non-reentrant lock the main thread may hold inside get().
    assert isinstance(daemon(elected_client(), FakeApi()).queue, queue.SimpleQueue)


def test_a_batch_of_events_becomes_one_sync_and_demoted_keeps_owned_only_when_stopping():
    client, api = elected_client(), FakeApi()
    r = daemon(client, api)
    api.running = {CID: container_info(CID, 32001), OTHER: container_info(OTHER, 32002)}
    done = {cid: Future() for cid in api.running}
    for cid, future in done.items():
        future.set_result(api.running[cid])
    r.handle(
        [
            ContainerEvent(CID, "start", 0.0, inspection=done[CID]),
            ContainerEvent(OTHER, "start", 0.0, inspection=done[OTHER]),
        ]
    )
    assert client.exists(path(32001)) and client.exists(path(32002)) and client.transactions == 1
    r.handle([Demoted()])
    assert r.reconciler.owned == {}
    r.reconciler.owned = {CID: {path(32001)}}
    r.stop("signal SIGTERM")
    r.handle([Demoted()])  # the election thread posted it after stop(): the handover needs the paths
    assert r.reconciler.owned == {CID: {path(32001)}} and r.hand_over


def test_a_fenced_write_ends_the_term():
    client, api = elected_client(), FakeApi()
    r = daemon(client, api)
    client.delete(LOCK)  # our lock node is gone while the session lives (someone removed it)
    api.running[CID] = container_info(CID, 32001)
    future = Future()
    future.set_result(api.running[CID])
    r.handle([ContainerEvent(CID, "start", 0.0, inspection=future)])
    assert client.exists(path(32001)) is None and r.dirty and r.leadership.demoting.is_set()


def test_a_slow_inspect_holds_back_only_its_own_container():
    client, api = elected_client(), FakeApi()
    r = daemon(client, api)
    api.running = {CID: container_info(CID, 32001), OTHER: container_info(OTHER, 32002)}
    slow, quick = Future(), Future()
    quick.set_result(api.running[OTHER])
    threading.Timer(0.3, lambda: slow.set_result(api.running[CID])).start()
    r.handle(
        [ContainerEvent(CID, "start", 0.0, inspection=slow), ContainerEvent(OTHER, "start", 0.0, inspection=quick)]
    )
    assert client.transactions == 2  # written in two steps, the quick one first
    assert client.exists(path(32002)).czxid < client.exists(path(32001)).czxid
