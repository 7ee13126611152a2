"""The ensemble as objects: which one runs the cluster, and the security policy it starts under."""

from __future__ import annotations

import pytest

from svcctl.config.layout import ClusterLayout, HostMember
from svcctl.config.settings import Settings, ZkHost
from svcctl.ensemble import current
from svcctl.ensemble.hosts import HostsEnsemble
from svcctl.ensemble.local import LocalEnsemble
from svcctl.errors import BadInputError
from svcctl.security.mode import OPEN, SECURE, SecurityPolicy


def layout() -> ClusterLayout:
    return ClusterLayout(
        "p", tuple(HostMember(f"p-host{i}", f"tcp://10.0.0.{10 + i}:2375", f"10.0.0.{10 + i}", i) for i in (1, 2, 3))
    )


def test_the_policy_is_built_from_the_flags_and_refuses_a_rotation_of_an_open_cluster():
    assert SecurityPolicy.from_flags(secure=False) is SecurityPolicy.OPEN
    assert SecurityPolicy.from_flags(secure=True) is SecurityPolicy.SECURED
    assert SecurityPolicy.from_flags(secure=True, rotate=True) is SecurityPolicy.SECURED_ROTATING_PKI
    with pytest.raises(BadInputError, match="--rotate remakes the PKI of a secured cluster") as refused:
        SecurityPolicy.from_flags(secure=False, rotate=True)
    assert refused.value.fix == "use `svcctl cluster up --secure --rotate`"
    assert [(p.secured, p.rotates_pki, p.mode) for p in SecurityPolicy] == [
        (False, False, OPEN),
        (True, False, SECURE),
        (True, True, SECURE),
    ]


def test_the_cluster_runs_over_hosts_when_they_are_given_or_recorded_else_on_this_engine():
    settings = Settings(zk="127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183", project="p")
    assert isinstance(current.ensemble(settings), LocalEnsemble)
    chosen = current.ensemble(settings, ["a", "b", "c"])
    assert isinstance(chosen, HostsEnsemble) and chosen.contexts == ("a", "b", "c")
    recorded = Settings(zk="127.0.0.1:2181", project="p", layout=layout())
    chosen = current.ensemble(recorded)
    assert isinstance(chosen, HostsEnsemble) and chosen._contexts() == ["p-host1", "p-host2", "p-host3"]


def test_each_ensemble_names_its_members_containers():
    settings = Settings(zk="127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183", project="p")
    assert list(LocalEnsemble(settings).member_containers().values()) == ["p-zoo1", "p-zoo2", "p-zoo3"]
    over_hosts = HostsEnsemble(Settings(zk="127.0.0.1:2181", project="p", layout=layout()))
    assert over_hosts.member_containers() == {ZkHost(f"10.0.0.{10 + i}", 2181): f"p-zoo{i}" for i in (1, 2, 3)}


def test_a_rotation_over_hosts_is_refused_before_anything_starts():
    over_hosts = HostsEnsemble(Settings(zk="127.0.0.1:2181", project="p", layout=layout()))
    with pytest.raises(BadInputError, match="on one engine") as refused:
        over_hosts.up(SecurityPolicy.SECURED_ROTATING_PKI)
    assert "`svcctl pki rotate --host NAME`" in refused.value.fix


def test_the_quorum_progress_names_a_shared_address_once():
    from svcctl.ensemble.quorum import quorum_report

    local = [ZkHost("127.0.0.1", p) for p in (2181, 2182, 2183)]
    line = quorum_report(local, ["not-serving"] * 3)
    assert line == "127.0.0.1 :2181 not-serving, :2182 not-serving, :2183 not-serving"
    assert len("… waiting for quorum: " + line) <= 100
    over_hosts = [ZkHost(f"10.0.0.{i}", 2181) for i in (11, 12, 13)]
    assert quorum_report(over_hosts, ["leader", "follower", "down"]) == (
        "10.0.0.11:2181 leader, 10.0.0.12:2181 follower, 10.0.0.13:2181 down"
    )
