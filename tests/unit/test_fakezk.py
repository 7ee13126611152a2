"""The one in-memory ZooKeeper (tests/unit/fakezk.py) keeps kazoo's API: every public method of the
fake has the signature of kazoo's method of that name, so code that passes kazoo an argument the
fake would not accept (or the other way round) fails in the unit tests too; and it behaves as
ZooKeeper does where the tests depend on it."""

from __future__ import annotations

import inspect

import pytest
from kazoo.client import KazooClient, TransactionRequest
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.handlers.utils import AsyncResult
from kazoo.protocol.states import EventType, KazooState

from tests.unit.fakezk import Done, FakeClient, FakeEnsemble, FakeTransaction


def public_methods(cls: type) -> dict[str, object]:
    return {name: member for name, member in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


@pytest.mark.parametrize(
    "fake, real",
    [
        (FakeClient, KazooClient),
        (FakeTransaction, TransactionRequest),
        (Done, AsyncResult),
    ],
)
def test_the_fake_matches_kazoo(fake, real):
    methods = public_methods(fake)
    assert methods
    for name, method in methods.items():
        assert hasattr(real, name), f"{fake.__name__}.{name} is not kazoo's"
        assert inspect.signature(method) == inspect.signature(getattr(real, name)), f"{fake.__name__}.{name}"


def test_the_fake_offers_what_the_tests_and_the_code_use():
    assert {
        "add_listener",
        "remove_listener",
        "create",
        "delete",
        "ensure_path",
        "exists",
        "exists_async",
        "get",
        "get_async",
        "get_children",
        "get_children_async",
        "set",
        "transaction",
    } <= set(public_methods(FakeClient))
    assert set(public_methods(FakeTransaction)) == set(public_methods(TransactionRequest))


def client() -> FakeClient:
    return FakeClient(FakeEnsemble(), 1)


def test_unmodelled_parameters_are_refused_not_ignored():
    zk = client()
    for kwargs in ({"acl": []}, {"sequence": True}):
        with pytest.raises(NotImplementedError):
            zk.create("/a", **kwargs)
        with pytest.raises(NotImplementedError):
            zk.transaction().create("/a", **kwargs)
    with pytest.raises(NotImplementedError):
        zk.ensure_path("/a", acl=[])
    assert zk.exists("/a") is None


def test_writes_behave_as_zookeepers():
    zk = client()
    with pytest.raises(NoNodeError):
        zk.create("/a/b")
    assert zk.create("/a/b", b"x", makepath=True) == "/a/b"
    path, stat = zk.create("/a/c", include_data=True)
    assert path == "/a/c" and stat.version == 0
    with pytest.raises(NodeExistsError):
        zk.create("/a/b")
    with pytest.raises(TypeError):
        zk.create("/a/d", "text")
    with pytest.raises(BadArgumentsError):
        zk.exists("/a/")
    assert zk.set("/a/b", b"y").version == 1
    with pytest.raises(BadVersionError):
        zk.set("/a/b", b"z", version=0)
    with pytest.raises(NotEmptyError):
        zk.delete("/a")
    children, parent = zk.get_children("/a", include_data=True)
    assert children == ["b", "c"] and parent.numChildren == 2 and parent.cversion == 2
    zk.create("/e", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/e/x")
    assert zk.delete("/a", recursive=True) is None and zk.exists("/a") is None
    assert zk.delete("/a", recursive=True) is True  # kazoo: nothing to delete is no error
    with pytest.raises(NoNodeError):
        zk.delete("/a")


def test_a_transaction_is_all_or_nothing_in_one_zxid():
    zk = client()
    zk.ensure_path("/s")
    tx = zk.transaction()
    tx.create("/s/a")
    tx.create("/s/b", ephemeral=True)
    assert tx.commit() == ["/s/a", "/s/b"]
    assert zk.exists("/s/a").czxid == zk.exists("/s/b").czxid and zk.exists("/s/b").ephemeralOwner == 1
    with pytest.raises(ValueError):
        tx.commit()
    tx = zk.transaction()
    tx.delete("/s/a")
    tx.check("/s/b", 5)
    tx.create("/s/c")
    results = tx.commit()
    assert [type(r) for r in results] == [RolledBackError, BadVersionError, RuntimeInconsistency]
    assert zk.exists("/s/a") is not None and zk.exists("/s/c") is None
    assert zk.transactions == 2


def test_sessions_watches_and_listeners():
    zk = client()
    zk.ensure_path("/s")
    other = FakeClient(zk.ensemble, 2)
    other.create("/s/r", ephemeral=True)
    fired, states = [], []
    zk.get_children("/s", watch=fired.append)
    zk.exists("/s/new", watch=fired.append)
    zk.add_listener(states.append)
    zk.ensemble.expire(2)  # another client's session: its ephemeral node goes, our watch fires once
    other.create("/s/new")
    assert [(e.type, e.path) for e in fired] == [(EventType.CHILD, "/s"), (EventType.CREATED, "/s/new")]
    zk.get("/s/new", watch=fired.append)
    with zk.ensemble.held():
        zk.set("/s/new", b"v")
    assert len(fired) == 2 and zk.ensemble.drop() == 1
    zk.exists("/s/new", watch=fired.append)
    zk.ensemble.lose_session(zk, lambda: zk.delete("/s/new"))
    assert len(fired) == 2 and states == [KazooState.LOST, KazooState.CONNECTED]


def test_requests_are_recorded_and_can_be_made_to_fail():
    from kazoo.exceptions import ConnectionLoss

    zk = client()
    zk.create("/a")
    zk.ensemble.fail("get", "/a", ConnectionLoss())
    with pytest.raises(ConnectionLoss):
        zk.get("/a")
    with pytest.raises(ConnectionLoss):
        zk.get_async("/a").get()
    read = []
    zk.ensemble.before_read("/a", lambda: read.append("before"))
    zk.exists("/a")
    assert read == []
    with pytest.raises(ConnectionLoss):
        zk.get("/a")
    assert read == ["before"] and zk.reads == 3
    assert [r.op for r in zk.requests] == ["create", "get", "get", "exists", "get"]
