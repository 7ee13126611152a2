"""The one znode snapshot type and the tree reads that build it (on the in-memory ZooKeeper)."""

from __future__ import annotations

from svcctl.zk import ops
from svcctl.zk.znode import ZnodeSnapshot, decode_json
from tests.unit.fakezk import FakeClient, FakeEnsemble


def tree() -> FakeClient:
    ensemble = FakeEnsemble()
    ensemble.clock_ms = lambda: 1700000000123
    client = FakeClient(ensemble, 0x42)
    client.create("/services/svc/127.0.0.1:1", b'{"Name": "svc"}', ephemeral=True, makepath=True)
    client.create("/services/other", b"text")
    client.set("/services/other", b"text2")
    return client


def test_a_snapshot_prints_as_zk_get_and_stat_always_did():
    node = ops.get_node(tree(), "/services/svc/127.0.0.1:1")
    assert node.ephemeral and node.children is None
    assert node.to_dict() == {
        "path": "/services/svc/127.0.0.1:1",
        "data": {"Name": "svc"},
        "json": True,
        "stat": {
            "version": 0,
            "cversion": 0,
            "aversion": 0,
            "ephemeral_owner": "0x42",
            "ephemeral": True,
            "ctime": 1700000000.123,
            "mtime": 1700000000.123,
            "czxid": 3,
            "mzxid": 3,
            "pzxid": 3,
            "data_length": 15,
            "num_children": 0,
        },
    }
    assert list(node.to_dict()["stat"]) == list(node.stat_dict())
    stat = ops.stat_node(tree(), "/services/other")
    assert stat.data == b"" and stat.stat_dict()["version"] == 1 and stat.stat_dict()["ephemeral_owner"] == "0x0"
    assert ZnodeSnapshot("/x", b"plain").to_dict()["data"] == "plain" and ZnodeSnapshot("/x").to_dict()["json"] is False


def test_walk_gives_the_shape_and_snapshots_every_node_with_its_children():
    client = tree()
    assert ops.walk(client, "/services") == {
        "/services": ["other", "svc"],
        "/services/other": [],
        "/services/svc": ["127.0.0.1:1"],
        "/services/svc/127.0.0.1:1": [],
    }
    nodes = ops.snapshots(client, "/services")
    assert set(nodes) == {"/services", "/services/other", "/services/svc", "/services/svc/127.0.0.1:1"}
    assert nodes["/services"].children == {"other", "svc"} and nodes["/services/other"].data == b"text2"
    assert ops.children_of(nodes) == ops.walk(client, "/services")
    assert set(ops.registry_snapshots(client, "/services")) == set(nodes)
    assert ops.registry_snapshots(client, "/absent") == {} and ops.registry_tree(client, "/absent") == {}
    assert set(ops.snapshots(client, "/services", max_depth=1)) == {"/services", "/services/other", "/services/svc"}


def test_with_children_is_a_copy():
    node = ZnodeSnapshot("/a", children=frozenset({"x"}))
    changed = node.with_children(node.children | {"y"})
    assert node.children == {"x"} and changed.children == {"x", "y"} and changed.path == "/a"


def test_decode_json_reads_text_json_and_binary():
    assert decode_json(None) == ("", None) and decode_json(b"") == ("", None)
    assert decode_json(b'{"a": 1}') == ('{"a": 1}', {"a": 1}) and decode_json("text") == ("text", None)
    assert decode_json(b"\xff")[1] is None
