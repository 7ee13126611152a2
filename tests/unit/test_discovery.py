"""The service cache's logic from recorded watch events, and instance picking."""

from __future__ import annotations

import json
import random

import pytest

from svcctl.consumer.cache import Picker, ServiceTable, parse_instance
from svcctl.errors import BadInputError
from svcctl.zk.watch import ZkEvent, ZkEventKind


def reg(port: int, name: str = "service_2", container: str = "c") -> bytes:
    return json.dumps(
        {
            "Name": name,
            "IP": "127.0.0.1",
            "PublicPort": port,
            "PrivatePort": 80,
            "ContainerID": container[:12],
            "Tags": [],
            "Attrs": {},
            "svcctl": {"container_id": container * 3, "container_name": f"{name}-{port}", "registered_at": 1.0},
        }
    ).encode()


def ev(kind: str, path: str, data: bytes | None = None, initial: bool = False) -> ZkEvent:
    return ZkEvent(kind, path, ts=0.0, data=data, initial=initial)


def addresses(table: ServiceTable, name: str) -> list[str]:
    return [i.address for i in table.instances(name)]


def test_parse_instance_payload_and_name_fallback():
    inst = parse_instance("service_2", "127.0.0.1:32796", reg(32796, container="abcdef1234567"))
    assert (inst.ip, inst.port, inst.private_port, inst.container_name) == ("127.0.0.1", 32796, 80, "service_2-32796")
    bare = parse_instance("svc", "10.0.0.5:81", None)
    assert (bare.ip, bare.port, bare.container_id) == ("10.0.0.5", 81, None)
    assert parse_instance("svc", "garbage", b"not json") is None


def test_recorded_events_of_one_service_cache():
    """A watcher on /services/service_2 (depth 1): baseline, scale 1 → 3, data change, the
    service node deleted and re-created, session loss in between."""
    table = ServiceTable("/services")
    s = "/services/service_2"
    changes = [
        table.apply(e)
        for e in [
            ev(ZkEventKind.NODE_CREATED, s, b"", initial=True),
            ev(ZkEventKind.CHILD_ADDED, f"{s}/127.0.0.1:1001", reg(1001), initial=True),
        ]
    ]
    assert changes[0].service_added and changes[1].added[0].port == 1001
    assert addresses(table, "service_2") == ["127.0.0.1:1001"]

    table.apply(ev(ZkEventKind.CHILD_ADDED, f"{s}/127.0.0.1:1003", reg(1003)))
    table.apply(ev(ZkEventKind.CHILD_ADDED, f"{s}/127.0.0.1:1002", reg(1002)))
    assert addresses(table, "service_2") == ["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"]

    change = table.apply(ev(ZkEventKind.DATA_CHANGED, f"{s}/127.0.0.1:1002", reg(1002, container="new")))
    assert change.updated and table.instances("service_2")[1].container_name == "service_2-1002"
    unchanged = ev(ZkEventKind.DATA_CHANGED, f"{s}/127.0.0.1:1002", reg(1002, container="new"))
    assert table.apply(unchanged) is None  # no change

    assert table.apply(ev(ZkEventKind.SESSION_LOST, s)) is None
    change = table.apply(ev(ZkEventKind.CHILD_REMOVED, f"{s}/127.0.0.1:1003"))
    assert [i.port for i in change.removed] == [1003]
    assert table.apply(ev(ZkEventKind.NODE_DELETED, f"{s}/127.0.0.1:1003")) is None  # already gone

    # The service node goes (its instances with it) and comes back.
    change = table.apply(ev(ZkEventKind.NODE_DELETED, s))
    assert change.service_removed and sorted(i.port for i in change.removed) == [1001, 1002]
    assert "service_2" not in table.services
    table.apply(ev(ZkEventKind.NODE_CREATED, s, b""))
    assert "service_2" in table.services and table.instances("service_2") == []
    table.apply(ev(ZkEventKind.CHILD_ADDED, f"{s}/127.0.0.1:1004", reg(1004)))
    assert addresses(table, "service_2") == ["127.0.0.1:1004"]


def test_recorded_events_of_all_services_cache():
    table = ServiceTable("/services")
    table.apply(ev(ZkEventKind.NODE_CREATED, "/services", b"", initial=True))
    assert table.services == {}
    table.apply(ev(ZkEventKind.CHILD_ADDED, "/services/a", b""))
    table.apply(ev(ZkEventKind.CHILD_ADDED, "/services/a/127.0.0.1:1", reg(1, "a")))
    table.apply(ev(ZkEventKind.CHILD_ADDED, "/services/b", b""))
    assert sorted(table.services) == ["a", "b"] and table.instances("b") == []
    table.apply(ev(ZkEventKind.CHILD_REMOVED, "/services/a"))
    assert sorted(table.services) == ["b"]
    # An instance reported before its service (event order across nodes) still lands.
    table.apply(ev(ZkEventKind.CHILD_ADDED, "/services/c/127.0.0.1:3", reg(3, "c")))
    assert addresses(table, "c") == ["127.0.0.1:3"]
    table.apply(ev(ZkEventKind.NODE_DELETED, "/services"))
    assert table.services == {}
    # Events outside the base or deeper than instances are ignored.
    assert table.apply(ev(ZkEventKind.CHILD_ADDED, "/other/x", b"")) is None
    assert table.apply(ev(ZkEventKind.CHILD_ADDED, "/services/c/127.0.0.1:3/deep", b"")) is None


def test_round_robin_cycles_and_follows_changes():
    table = ServiceTable()
    for port in (1, 2, 3):
        table.apply(ev(ZkEventKind.CHILD_ADDED, f"/services/s/127.0.0.1:{port}", reg(port, "s")))
    picker = Picker()
    picks = [picker.pick("s", table.instances("s")).port for _ in range(6)]
    assert picks == [1, 2, 3, 1, 2, 3]
    table.apply(ev(ZkEventKind.CHILD_REMOVED, "/services/s/127.0.0.1:2"))
    picks = [picker.pick("s", table.instances("s")).port for _ in range(4)]
    assert sorted(set(picks)) == [1, 3] and picks[0] != picks[1]
    assert picker.pick("s", table.instances("s"), exclude={"127.0.0.1:1", "127.0.0.1:3"}) is None
    assert picker.pick("none", []) is None


def test_round_robin_skips_excluded_and_random_is_seeded():
    table = ServiceTable()
    for port in (1, 2, 3):
        table.apply(ev(ZkEventKind.CHILD_ADDED, f"/services/s/127.0.0.1:{port}", reg(port, "s")))
    picker = Picker()
    assert picker.pick("s", table.instances("s"), exclude={"127.0.0.1:1"}).port == 2
    rnd = Picker("random", random.Random(7))
    seen = {rnd.pick("s", table.instances("s")).port for _ in range(50)}
    assert seen == {1, 2, 3}
    with pytest.raises(BadInputError):
        Picker("weighted")
