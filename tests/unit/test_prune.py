"""Prune decisions: a pure function from a snapshot of nodes and running containers."""

from __future__ import annotations

import json

import pytest

from svcctl.errors import BadInputError
from svcctl.registry.payload import RegistrationPayload
from svcctl.registry.prune import (
    CONTAINER_GONE,
    EMPTY_SERVICE,
    NO_OWNER,
    REFUSED,
    ContainerInfo,
    PruneDecision,
    apply,
    check_prunable,
    container_running,
    decide,
    instance_endpoints,
    protected_reason,
    registry_base,
)
from svcctl.zk.znode import ZnodeSnapshot
from tests.unit.fakezk import FakeClient, FakeEnsemble

RUNNING_FULL = "a" * 64
GONE_FULL = "b" * 64
ENGINE = "ENGINE-1"
LIVE = 0x42  # a live session's id (ephemeral owner)
RUNNING = [ContainerInfo(RUNNING_FULL, hostname="web-host")]


def payload(
    port: int,
    full: str | None = None,
    short: str | None = None,
    engine: str | None = ENGINE,
    protocol: str = "tcp",
    name: str = "svc",
    ip: str = "127.0.0.1",
) -> bytes:
    """registrator's payload; with `full`, our `svcctl` stamp (container id, engine id) too."""
    body = {
        "Name": name,
        "IP": ip,
        "PublicPort": port,
        "PrivatePort": 80,
        "ContainerID": short or (full or "")[:12],
        "Tags": [],
        "Attrs": {},
    }
    if full:
        body["svcctl"] = {"container_id": full, "engine_id": engine, "protocol": protocol}
    return json.dumps(body).encode()


def snap(nodes: list[tuple[str, bytes, int]]) -> dict[str, ZnodeSnapshot]:
    """(path, data, ephemeral owner) → snapshot with children filled in from the paths."""
    paths = [p for p, _d, _o in nodes]
    return {
        p: ZnodeSnapshot(
            p,
            d,
            version=3,
            czxid=i + 100,
            ephemeral_owner=o,
            children=frozenset(c.rsplit("/", 1)[1] for c in paths if (c.rsplit("/", 1)[0] or "/") == p),
        )
        for i, (p, d, o) in enumerate(nodes)
    }


def service_with(
    data: bytes, owner: int, service_data: bytes = b"", port: int = 1, base: str = "/services"
) -> dict[str, ZnodeSnapshot]:
    return snap([(base, b"", 0), (f"{base}/svc", service_data, 0), (f"{base}/svc/127.0.0.1:{port}", data, owner)])


def reasons(decisions: list[PruneDecision]) -> list[tuple[str, str]]:
    return [(d.path, d.reason) for d in decisions]


INSTANCE = "/services/svc/127.0.0.1:1"
SERVICE = "/services/svc"


def STALE_AND_EMPTY(reason: str) -> list[tuple[str, str]]:
    return [(INSTANCE, reason), (SERVICE, EMPTY_SERVICE)]


# --- PATH guards -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, refused",
    [
        ("/", True),
        ("//", True),
        ("/zookeeper", True),
        ("/zookeeper/quota", True),
        ("/zookeeper/config", True),
        ("/svcctl", True),
        ("/svcctl/registrators", True),
        ("/svcctl/registrators/ENGINE-1", True),
        ("/services", False),
        ("/services/svc", False),
        ("/zookeeperx", False),
        ("/svcctl-other", False),
        ("/otherapp", False),
    ],
)
def test_protected_paths_are_refused(path, refused):
    if refused:
        with pytest.raises(BadInputError, match="refusing to prune"):
            check_prunable(path)
    else:
        assert check_prunable(path) == path


def test_a_protected_path_yields_nothing_even_when_it_holds_registration_shaped_nodes():
    zk_tree = snap(
        [
            ("/zookeeper", b"", 0),
            ("/zookeeper/quota", b"", 0),
            ("/zookeeper/config", b"server.1=zoo1:2888:3888", 0),
        ]
    )
    election = snap(
        [
            ("/svcctl", b"", 0),
            ("/svcctl/registrators", b"", 0),
            ("/svcctl/registrators/E", b"", 0),
            ("/svcctl/registrators/E/n_0000000001", b"", LIVE),
        ]
    )
    whole = {**zk_tree, **election, **service_with(payload(1), 0)}
    for path in ("/", "/zookeeper", "/svcctl", "/svcctl/registrators"):
        assert decide(path, whole, RUNNING, engine_id=ENGINE) == []
    # And from a base that is fine, ZooKeeper's own nodes are never in scope.
    assert protected_reason("/zookeeper/quota") and protected_reason("/services") is None


# --- which nodes are judged at all ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data, is_registration",
    [
        (payload(1), True),
        (payload(1, RUNNING_FULL), True),
        (b"", False),
        (b"plain text", False),
        (b"\xff\xfe", False),
        (b"[1, 2]", False),
        (b'{"Name": "svc"}', False),  # not registrator's keys
        (
            json.dumps(
                {"Name": "svc", "IP": "127.0.0.1", "PublicPort": "1", "PrivatePort": 80, "ContainerID": "x"}
            ).encode(),
            False,
        ),  # a string port
        (
            json.dumps(
                {"Name": "svc", "IP": "127.0.0.1", "PublicPort": True, "PrivatePort": 80, "ContainerID": "x"}
            ).encode(),
            False,
        ),
        (payload(2), False),  # names another node (127.0.0.1:2)
        (payload(1, name="other"), False),  # names another service
        (payload(1, ip="10.0.0.1"), False),
    ],
)
def test_only_registrations_are_recognised(data, is_registration):
    payload = RegistrationPayload.decode(data)
    assert (payload is not None and payload.is_registration_at(INSTANCE)) is is_registration


@pytest.mark.parametrize(
    "data", [b"", b"plain text", b'{"config": true}', b'{"Name": "svc", "IP": "127.0.0.1"}', payload(2)]
)
@pytest.mark.parametrize("owner", [0, LIVE])
def test_non_registration_instance_nodes_are_never_proposed(data, owner):
    # Persistent (owner 0) data of another application is the case the old rule deleted.
    nodes = service_with(data, owner)
    assert decide("/services", nodes, RUNNING, engine_id=ENGINE, refused={INSTANCE}) == []
    assert instance_endpoints("/services", nodes) == {}


def test_other_applications_tree_is_left_alone():
    """`zk prune /otherapp`: config-like persistent nodes two levels down are not registrations."""
    nodes = snap(
        [
            ("/otherapp", b"", 0),
            ("/otherapp/config", b"", 0),
            ("/otherapp/config/db", b"postgres://x", 0),
            ("/otherapp/config/flags", b'{"beta": true}', 0),
            ("/otherapp/locks", b"owner=me", 0),
        ]
    )
    assert decide("/otherapp", nodes, RUNNING, engine_id=ENGINE) == []


# --- service nodes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, owner, children, proposed",
    [
        (b"", 0, [], True),  # what a registrator creates, left empty
        (b"x", 0, [], False),  # data-bearing: not a registrator's service node
        (b'{"k": 1}', 0, [], False),
        (b"", LIVE, [], False),  # ephemeral: its session removes it
        (b"", 0, ["127.0.0.1:1"], False),  # has a live instance
    ],
)
def test_empty_service_node(data, owner, children, proposed):
    nodes = snap([("/services", b"", 0), (SERVICE, data, owner)])
    for child in children:
        instance = f"{SERVICE}/{child}"
        nodes[instance] = ZnodeSnapshot(instance, payload(1, RUNNING_FULL), version=0, czxid=1, ephemeral_owner=LIVE)
        nodes[SERVICE] = nodes[SERVICE].with_children(nodes[SERVICE].children | {child})
    expected = [(SERVICE, EMPTY_SERVICE)] if proposed else []
    assert reasons(decide("/services", nodes, RUNNING, engine_id=ENGINE)) == expected


def test_a_service_node_with_data_is_kept_even_when_its_instances_are_pruned():
    nodes = service_with(payload(1), 0, service_data=b"config")
    assert reasons(decide("/services", nodes, RUNNING, engine_id=ENGINE)) == [(INSTANCE, NO_OWNER)]


# --- instance rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, data, owner, containers, engine, refused, expected",
    [
        ("live ephemeral, ours, running", payload(1, RUNNING_FULL), LIVE, RUNNING, ENGINE, None, []),
        ("ours, container gone", payload(1, GONE_FULL), LIVE, RUNNING, ENGINE, None, STALE_AND_EMPTY(CONTAINER_GONE)),
        (
            "ours, gone, persistent: container rule first",
            payload(1, GONE_FULL),
            0,
            RUNNING,
            ENGINE,
            None,
            STALE_AND_EMPTY(CONTAINER_GONE),
        ),
        (
            "persistent registration, container running",
            payload(1, RUNNING_FULL),
            0,
            RUNNING,
            ENGINE,
            None,
            STALE_AND_EMPTY(NO_OWNER),
        ),
        ("persistent plain registrator payload", payload(1), 0, RUNNING, ENGINE, None, STALE_AND_EMPTY(NO_OWNER)),
        ("foreign engine, container gone here", payload(1, GONE_FULL, engine="OTHER"), LIVE, RUNNING, ENGINE, None, []),
        ("unstamped engine, container gone here", payload(1, GONE_FULL, engine=None), LIVE, RUNNING, ENGINE, None, []),
        (
            "plain registrator payload, unknown short id",
            payload(1, short="cafebabe0000"),
            LIVE,
            RUNNING,
            ENGINE,
            None,
            [],
        ),
        ("no engine asked", payload(1, GONE_FULL), LIVE, None, None, None, []),
        ("containers but no engine id", payload(1, GONE_FULL), LIVE, RUNNING, None, None, []),
        ("no engine, persistent still judged", payload(1, GONE_FULL), 0, None, None, None, STALE_AND_EMPTY(NO_OWNER)),
        ("probe refused", payload(1, RUNNING_FULL), LIVE, RUNNING, ENGINE, {INSTANCE}, STALE_AND_EMPTY(REFUSED)),
        (
            "probe refused, foreign engine",
            payload(1, GONE_FULL, engine="OTHER"),
            LIVE,
            None,
            None,
            {INSTANCE},
            STALE_AND_EMPTY(REFUSED),
        ),
    ],
)
def test_instance_rules(case, data, owner, containers, engine, refused, expected):
    nodes = service_with(data, owner)
    decisions = decide("/services", nodes, containers, engine_id=engine, refused=refused)
    assert reasons(decisions) == expected, case
    if expected:
        assert decisions[0].version == 3 and decisions[0].czxid == nodes[INSTANCE].czxid


def test_persistent_registration_detail_and_probe_detail():
    [instance, _] = decide("/services", service_with(payload(1, RUNNING_FULL), 0), RUNNING, engine_id=ENGINE)
    assert instance.detail.startswith("persistent registration")
    [instance, _] = decide("/services", service_with(payload(1, RUNNING_FULL), LIVE), None, refused={INSTANCE})
    assert instance.detail == "127.0.0.1:1 refuses connections"


@pytest.mark.parametrize(
    "ident, running", [(RUNNING_FULL[:12], True), ("web-host", True), ("cafebabe0000", False), ("", None)]
)
def test_container_running_by_short_id_or_hostname(ident, running):
    body = json.loads(payload(1, short=ident))
    if not ident:
        body["ContainerID"] = ""
    assert container_running(RegistrationPayload.decode(json.dumps(body)), RUNNING) is running


def test_scope_is_path_only():
    nodes = snap(
        [
            ("/services", b"", 0),
            ("/services/empty", b"", 0),
            ("/services/other", b"", 0),
            ("/services/other/127.0.0.1:9", payload(9, GONE_FULL, name="other"), LIVE),
            ("/elsewhere", b"", 0),
        ]
    )
    assert reasons(decide("/services/empty", nodes, RUNNING, engine_id=ENGINE)) == [("/services/empty", EMPTY_SERVICE)]
    decisions = decide("/services", nodes, RUNNING, engine_id=ENGINE)
    assert [d.path for d in decisions] == ["/services/other/127.0.0.1:9", "/services/empty", "/services/other"]


def test_deeper_nodes_and_base_detection():
    assert registry_base("/services") == "/services"
    assert registry_base("/services/svc") == "/services"
    assert registry_base("/registry") == "/registry"
    nodes = snap(
        [
            ("/registry", b"", 0),
            ("/registry/svc", b"", 0),
            ("/registry/svc/127.0.0.1:1", payload(1), 0),
            ("/registry/svc/127.0.0.1:1/deep", b"", 0),
        ]
    )
    # A registration node with children of its own is not a plain registration: left alone,
    # and so is its service; deeper nodes are never judged.
    assert decide("/registry", nodes, RUNNING) == []
    del nodes["/registry/svc/127.0.0.1:1/deep"]
    nodes["/registry/svc/127.0.0.1:1"] = nodes["/registry/svc/127.0.0.1:1"].with_children(())
    assert reasons(decide("/registry", nodes, RUNNING)) == [
        ("/registry/svc/127.0.0.1:1", NO_OWNER),
        ("/registry/svc", EMPTY_SERVICE),
    ]


def test_udp_endpoints_are_not_probed():
    nodes = snap(
        [
            ("/services", b"", 0),
            ("/services/svc", b"", 0),
            ("/services/svc/127.0.0.1:1", payload(1, RUNNING_FULL), 1),
            ("/services/svc/127.0.0.1:2", payload(2, RUNNING_FULL, protocol="udp"), 1),
        ]
    )
    assert instance_endpoints("/services", nodes) == {"/services/svc/127.0.0.1:1": ("127.0.0.1", 1)}


# --- apply (a fake client: outcomes, never a traceback) ------------------------------------------------


def judged_tree(paths: list[str]) -> FakeClient:
    """A client (session 2) on an ensemble holding `paths` as prune judged them: each created, with
    its parents, in the first transaction (czxid 1) and set three times (version 3)."""
    setup = FakeClient(FakeEnsemble(), 1)
    tx = setup.transaction()
    made: list[str] = []
    for path in paths:
        parts = path.split("/")[1:]
        made += [p for p in ("/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)) if p not in made]
    for path in made:
        tx.create(path)
    for path in paths:
        for _ in range(3):
            tx.set_data(path, b"")
    assert not any(isinstance(r, Exception) for r in tx.commit())
    return FakeClient(setup.ensemble, 2)


def test_apply_outcomes():
    from kazoo.exceptions import ConnectionLoss, NoAuthError

    def d(path: str, czxid: int = 1) -> PruneDecision:
        return PruneDecision(path, "instance", NO_OWNER, "", 3, czxid)

    decisions = [
        d("/services/a/ok"),
        d("/services/a/gone"),
        d("/services/a/recreated"),
        d("/services/a/changed"),
        d("/services/a/refused"),
        d("/services/a/lost"),
        d("/services/b"),
        d("/elsewhere/x"),
        d("/zookeeper/quota"),
    ]
    judged = [p.path for p in decisions if not p.path.endswith("gone")]
    client = judged_tree(judged)
    other = FakeClient(client.ensemble, 3)  # another session, between the judgement and the pruning
    tx = other.transaction()  # re-created (czxid 2) and changed (version 4)
    tx.delete("/services/a/recreated")
    tx.create("/services/a/recreated")
    for _ in range(3):
        tx.set_data("/services/a/recreated", b"")
    tx.set_data("/services/a/changed", b"")
    assert not any(isinstance(r, Exception) for r in tx.commit())
    other.create("/services/b/127.0.0.1:1")  # not empty now
    client.ensemble.fail("delete", "/services/a/refused", NoAuthError())
    client.ensemble.fail("delete", "/services/a/lost", ConnectionLoss())
    progress: list[str] = []
    apply(client, "/services", decisions, on_progress=progress.append)
    assert {x.path: x.outcome for x in decisions} == {
        "/services/a/ok": "deleted",
        "/services/a/gone": "gone",
        "/services/a/recreated": "kept (re-created meanwhile)",
        "/services/a/changed": "kept (changed meanwhile)",
        "/services/a/refused": "skipped (NoAuthError)",
        "/services/a/lost": "skipped (ConnectionLoss)",
        "/services/b": "kept (not empty)",
        "/elsewhere/x": "kept (outside PATH)",
        "/zookeeper/quota": "kept (outside PATH)",
    }
    deletes = [(r.path, r.version) for r in client.requests if r.op == "delete"]
    assert all(version >= 0 for _, version in deletes), "prune deletes are versioned"
    assert ("/services/a/ok", 3) in deletes
    assert [p for p in judged if client.ensemble.stat(p) is None] == ["/services/a/ok"]
    assert len(progress) == len(decisions)
    # Even with PATH itself protected, apply touches nothing there.
    protected = [d("/zookeeper/quota")]
    untouched = judged_tree(["/zookeeper/quota"])
    apply(untouched, "/zookeeper", protected)
    assert protected[0].outcome.startswith("skipped (") and "ZooKeeper" in protected[0].outcome
    assert untouched.requests == []


def test_one_service_node_of_another_base_is_recognised_by_its_registrations():
    nodes = service_with(payload(1), 0, base="/myservices")
    assert registry_base("/myservices/svc", nodes) == "/myservices"
    assert registry_base("/myservices", nodes) == "/myservices"
    # Pruning just that service node judges its registrations as under /services.
    assert reasons(decide("/myservices/svc", nodes, RUNNING, engine_id=ENGINE)) == [
        ("/myservices/svc/127.0.0.1:1", NO_OWNER),
        ("/myservices/svc", EMPTY_SERVICE),
    ]
    # A node whose children are not registrations stays a base of its own.
    plain = snap([("/app", b"", 0), ("/app/cfg", b"x", 0), ("/app/cfg/key", b"v", 0)])
    assert registry_base("/app/cfg", plain) == "/app/cfg"
