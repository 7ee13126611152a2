"""The fault scenarios' pure parts: selection, the missing-instance gap meter, and the verdict."""

from __future__ import annotations

import pytest

from svcctl.errors import BadInputError, CheckFailedError
from svcctl.walkthrough import faults


def test_selection_by_name_list_and_all():
    assert [f.name for f in faults.parse_faults("faults", over_hosts=False)] == [
        "registrator-handover",
        "registrator-crash",
        "leader-loss",
        "member-loss",
        "instance-kill",
    ]
    assert [f.name for f in faults.parse_faults("leader-loss,instance-kill", over_hosts=False)] == [
        "leader-loss",
        "instance-kill",
    ]
    assert faults.is_fault("Registrator-Crash") and faults.is_fault("faults") and not faults.is_fault("3")
    with pytest.raises(BadInputError, match="unknown fault scenario"):
        faults.parse_faults("leader-los", over_hosts=False)
    with pytest.raises(BadInputError, match="needs a cluster over hosts"):
        faults.parse_faults("host-crash", over_hosts=False)


def test_gap_meter_keeps_the_longest_absence_per_address():
    meter = faults.GapMeter({"a", "b"})
    meter.sample({"a", "b"}, 0.0)
    meter.sample({"b"}, 1.0)
    meter.sample({"b"}, 1.5)
    meter.sample({"a", "b"}, 2.0)  # a was missing 1.0 s
    meter.sample({"a"}, 3.0)
    meter.close(3.25)  # b still missing at the end: 0.25 s
    assert meter.longest == {"a": 1.0, "b": 0.25}
    assert meter.max_gap == 1.0


def test_gap_meter_forgets_an_address_the_fault_removes_on_purpose():
    meter = faults.GapMeter({"a", "victim"})
    meter.sample({"a"}, 0.0)  # the victim is already out
    meter.unwatch("victim")
    meter.sample({"a"}, 5.0)
    meter.close(6.0)
    assert meter.longest == {"a": 0.0} and meter.max_gap == 0.0


def result(name: str = "registrator-handover", **kw) -> faults.FaultResult:
    r = faults.FaultResult(fault=faults.find_fault(name))
    r.gateway.sent, r.cache_calls.sent = 1000, 100
    r.converge_s = 0.3
    r.haproxy_up = {"127.0.0.1:1": "UP", "127.0.0.1:2": "UP"}
    for key, value in kw.items():
        setattr(r, key, value)
    return r


def test_a_clean_run_holds():
    assert faults.fault_problems(result()) == []
    assert result(name="instance-kill", unroutable_s=0.05).to_dict()["ok"] is True


def test_each_broken_expectation_is_named():
    r = result()
    r.gateway.failed = 3
    r.cache_calls.failed = 1
    assert faults.fault_problems(r) == [
        "3 of 1000 requests through the gateway failed",
        "1 of 100 calls through the ServiceCache failed",
    ]
    assert faults.fault_problems(result(converge_s=None)) == ["ZooKeeper did not match Docker again"]
    assert faults.fault_problems(result(haproxy_up={"127.0.0.1:1": "DOWN"})) == [
        "HAProxy lists live instance 127.0.0.1:1 as DOWN"
    ]
    assert faults.fault_problems(result(max_missing_s=0.2, missing_s={"127.0.0.1:1": 0.2, "127.0.0.1:2": 0.0})) == [
        "instances that never stopped went missing from the cache: 127.0.0.1:1 0.200s"
    ]
    assert faults.fault_problems(result("instance-kill")) == ["the killed instance never left the cache"]
    assert faults.fault_problems(result("instance-kill", unroutable_s=0.05)) == []
    assert faults.fault_problems(result("member-loss", degraded_seen=False)) == [
        "cluster status never said degraded while a member was down"
    ]


def test_failures_become_one_check_failed_error():
    bad = result(converge_s=None)
    bad.problems = faults.fault_problems(bad)
    error = faults.fault_failures([result(), bad])
    assert error is not None and error.exit_code == 8
    assert error.cause == "fault scenario registrator-handover failed: ZooKeeper did not match Docker again"
    assert faults.fault_failures([result()]) is None


def test_over_hosts_only_the_hosts_faults_run():
    assert [f.name for f in faults.parse_faults("faults", over_hosts=True)] == ["host-crash"]
    assert [f.name for f in faults.parse_faults("host-crash,host-crash", over_hosts=True)] == [
        "host-crash",
        "host-crash",
    ]
    with pytest.raises(BadInputError, match="not over hosts"):
        faults.parse_faults("leader-loss", over_hosts=True)


def test_the_host_to_crash_is_a_follower_whose_loss_keeps_the_quorum():
    assert faults.choose_crash_host([("h1", "follower"), ("h2", "leader"), ("h3", "follower")]) == "h3"
    assert faults.choose_crash_host([("h1", "follower"), ("h2", "follower"), ("h3", "leader")]) == "h2"
    with pytest.raises(CheckFailedError, match="quorum kept"):  # one down already: a crash would lose the quorum
        faults.choose_crash_host([("h1", "follower"), ("h2", "leader"), ("h3", "down")])
    with pytest.raises(CheckFailedError, match="quorum kept"):
        faults.choose_crash_host([("h1", "down"), ("h2", "down"), ("h3", "down")])


def test_host_crash_verdict():
    clean = result(name="host-crash", unroutable_s=10.5, missing_s={"10.0.0.2:1": 0.0})
    assert faults.fault_problems(clean) == []
    assert faults.fault_problems(result(name="host-crash")) == ["the crashed host's instances never left the cache"]
    survivor_gone = result(name="host-crash", unroutable_s=10.5, missing_s={"10.0.0.2:1": 0.4}, max_missing_s=0.4)
    assert faults.fault_problems(survivor_gone) == [
        "instances that never stopped went missing from the cache: 10.0.0.2:1 0.400s"
    ]
