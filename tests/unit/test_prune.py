"""Prune decisions: a pure function from a snapshot of nodes and running containers."""

from __future__ import annotations

import json

from svcctl.zk.prune import (
    CONTAINER_GONE,
    EMPTY_SERVICE,
    NO_OWNER,
    OWNER_GONE,
    REFUSED,
    ContainerInfo,
    NodeSnapshot,
    decide,
    instance_endpoints,
    registry_base,
)

RUNNING_FULL = "a" * 64
GONE_FULL = "b" * 64
ENGINE = "ENGINE-1"


def payload(port: int, full: str | None = None, short: str | None = None, engine: str | None = ENGINE, protocol: str = "tcp") -> bytes:
    body = {"Name": "svc", "IP": "127.0.0.1", "PublicPort": port, "PrivatePort": 80, "ContainerID": short or (full or "")[:12], "Tags": [], "Attrs": {}}
    if full:
        body["svcctl"] = {"container_id": full, "engine_id": engine, "protocol": protocol}
    return json.dumps(body).encode()


def snap(nodes: list[tuple[str, bytes, int]]) -> dict[str, NodeSnapshot]:
    """(path, data, ephemeral owner) → snapshot with children filled in from the paths."""
    out = {p: NodeSnapshot(p, d, version=3, czxid=i + 100, ephemeral_owner=o) for i, (p, d, o) in enumerate(nodes)}
    for p in out:
        parent = p.rsplit("/", 1)[0] or "/"
        if parent in out:
            out[parent].children.append(p.rsplit("/", 1)[1])
    return out


RUNNING = [ContainerInfo(RUNNING_FULL, hostname="web-host")]


def test_live_ephemeral_registration_is_kept():
    nodes = snap([("/services", b"", 0), ("/services/svc", b"", 0), ("/services/svc/127.0.0.1:1", payload(1, RUNNING_FULL), 0x42)])
    assert decide("/services", nodes, RUNNING, engine_id=ENGINE) == []


def test_container_gone_by_full_id_then_service_empties():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/svc", b"", 0),
        ("/services/svc/127.0.0.1:1", payload(1, GONE_FULL), 0x42),
    ])
    decisions = decide("/services", nodes, RUNNING, engine_id=ENGINE)
    assert [(d.path, d.kind, d.reason) for d in decisions] == [
        ("/services/svc/127.0.0.1:1", "instance", CONTAINER_GONE),
        ("/services/svc", "service", EMPTY_SERVICE),
    ]
    assert decisions[0].version == 3 and decisions[0].czxid == nodes["/services/svc/127.0.0.1:1"].czxid


def test_short_id_and_hostname_match_running_containers():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/svc", b"", 0),
        ("/services/svc/127.0.0.1:1", payload(1, short=RUNNING_FULL[:12]), 0x42),
        ("/services/svc/127.0.0.1:2", payload(2, short="web-host"), 0x42),
        ("/services/svc/127.0.0.1:3", payload(3, short="cafebabe0000"), 0x42),
    ])
    decisions = decide("/services", nodes, RUNNING)
    assert [(d.path, d.reason) for d in decisions] == [("/services/svc/127.0.0.1:3", CONTAINER_GONE)]


def test_persistent_instance_has_no_owner_and_live_sessions_judge_ephemerals():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/svc", b"", 0),
        ("/services/svc/127.0.0.1:1", payload(1, RUNNING_FULL), 0),
        ("/services/svc/127.0.0.1:2", payload(2, RUNNING_FULL), 0x7),
        ("/services/svc/127.0.0.1:3", payload(3, RUNNING_FULL), 0x8),
    ])
    decisions = decide("/services", nodes, RUNNING, engine_id=ENGINE, live_sessions={0x8})
    assert [(d.path, d.reason) for d in decisions] == [
        ("/services/svc/127.0.0.1:1", NO_OWNER),
        ("/services/svc/127.0.0.1:2", OWNER_GONE),
    ]


def test_another_engines_registration_is_not_judged_by_containers():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/svc", b"", 0),
        ("/services/svc/127.0.0.1:1", payload(1, GONE_FULL, engine="OTHER"), 0x42),
    ])
    assert decide("/services", nodes, RUNNING, engine_id=ENGINE) == []


def test_probe_refusals_and_unknown_engine():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/svc", b"", 0),
        ("/services/svc/127.0.0.1:1", payload(1, RUNNING_FULL), 0x42),
        ("/services/svc/127.0.0.1:2", payload(2, RUNNING_FULL), 0x42),
    ])
    decisions = decide("/services", nodes, None, refused={"/services/svc/127.0.0.1:2"})
    assert [(d.path, d.reason) for d in decisions] == [("/services/svc/127.0.0.1:2", REFUSED)]
    assert "127.0.0.1:2 refuses" in decisions[0].detail


def test_empty_services_and_nothing_outside_path():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/empty", b"", 0),
        ("/services/other", b"", 0),
        ("/services/other/127.0.0.1:9", payload(9, GONE_FULL), 0x42),
        ("/elsewhere", b"", 0),
    ])
    # Only /services/empty's subtree is in scope: /services/other is left alone.
    decisions = decide("/services/empty", nodes, RUNNING)
    assert [(d.path, d.reason) for d in decisions] == [("/services/empty", EMPTY_SERVICE)]
    # The whole base: the stale instance, then both empty services; never /services or /elsewhere.
    decisions = decide("/services", nodes, RUNNING)
    assert [d.path for d in decisions] == ["/services/other/127.0.0.1:9", "/services/empty", "/services/other"]


def test_deeper_nodes_and_base_detection():
    assert registry_base("/services") == "/services"
    assert registry_base("/services/svc") == "/services"
    assert registry_base("/registry") == "/registry"
    nodes = snap([
        ("/registry", b"", 0),
        ("/registry/svc", b"", 0),
        ("/registry/svc/127.0.0.1:1", payload(1), 0),
        ("/registry/svc/127.0.0.1:1/deep", b"", 0),
    ])
    # A registration node with children of its own is not a plain registration: left alone,
    # and so is its service; deeper nodes are never judged.
    assert decide("/registry", nodes, RUNNING) == []
    del nodes["/registry/svc/127.0.0.1:1/deep"]
    nodes["/registry/svc/127.0.0.1:1"].children.clear()
    decisions = decide("/registry", nodes, RUNNING)
    assert [(d.path, d.reason) for d in decisions] == [("/registry/svc/127.0.0.1:1", NO_OWNER), ("/registry/svc", EMPTY_SERVICE)]


def test_udp_endpoints_are_not_probed():
    nodes = snap([
        ("/services", b"", 0),
        ("/services/svc", b"", 0),
        ("/services/svc/127.0.0.1:1", payload(1, RUNNING_FULL), 1),
        ("/services/svc/127.0.0.1:2", payload(2, RUNNING_FULL, protocol="udp"), 1),
    ])
    assert instance_endpoints("/services", nodes) == {"/services/svc/127.0.0.1:1": ("127.0.0.1", 1)}
