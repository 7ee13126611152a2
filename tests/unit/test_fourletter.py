import pytest

from svcctl.ensemble.members import quorum_reached
from svcctl.zk.fourletter import ServerStats, merge_mntr, parse_mntr, parse_srvr

SRVR_LEADER = """Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2022-01-01 00:00 UTC
Latency min/avg/max: 0/0.5432/17
Received: 120
Sent: 119
Connections: 3
Outstanding: 0
Zxid: 0x200000007
Mode: leader
Node count: 12
Proposal sizes last/min/max: 48/48/120
"""

MNTR = (
    "zk_version\t3.8.0\nzk_server_state\tfollower\nzk_avg_latency\t1.25\nzk_max_latency\t9\n"
    "zk_num_alive_connections\t4\nzk_znode_count\t13\n"
)


def test_parse_srvr_leader():
    stats = parse_srvr(SRVR_LEADER)
    assert stats.mode == "leader"
    assert stats.zxid == "0x200000007"
    assert stats.connections == 3
    assert stats.latency_avg == 0.5432 and stats.latency_max == 17
    assert stats.znode_count == 12
    assert stats.version == "3.8.0"


def test_parse_srvr_not_serving():
    assert parse_srvr("This ZooKeeper instance is not currently serving requests\n").mode == "not-serving"


def test_mntr_overrides_srvr_fields():
    stats = merge_mntr(ServerStats(mode="leader", connections=1), parse_mntr(MNTR))
    assert (stats.mode, stats.connections, stats.latency_avg, stats.latency_max, stats.znode_count) == (
        "follower",
        4,
        1.25,
        9,
        13,
    )


def test_quorum_rule():
    assert quorum_reached(["follower", "leader", "follower"])
    assert not quorum_reached(["follower", "follower", "follower"])
    assert not quorum_reached(["leader", "leader", "follower"])
    assert not quorum_reached(["leader", "follower", "down"])
    assert not quorum_reached(["leader", "follower", "not-serving"])


def test_ensemble_health_tells_degraded_from_lost_quorum():
    from svcctl.ensemble.members import DEGRADED, HEALTHY, NO_QUORUM, ensemble_health

    assert ensemble_health(["follower", "leader", "follower"]) == HEALTHY
    assert ensemble_health(["follower", "leader", "down"]) == DEGRADED  # zoo3 stopped, zoo1/zoo2 serve
    assert ensemble_health(["leader", "not-serving", "follower"]) == DEGRADED
    assert ensemble_health(["leader", "down", "down"]) == NO_QUORUM
    assert ensemble_health(["not-serving", "not-serving", "down"]) == NO_QUORUM
    assert ensemble_health(["leader", "leader", "follower"]) == NO_QUORUM
    assert ensemble_health(["leader", "follower", "follower", "down", "down"]) == DEGRADED


def test_degraded_has_its_own_exit_code():
    from svcctl.errors import EXIT_CODES, CheckFailedError, DegradedError

    assert DegradedError.exit_code == 9 and EXIT_CODES[DegradedError] == 9
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    assert not issubclass(DegradedError, CheckFailedError)


def test_require_healthy_names_the_members_not_serving_with_distinct_errors():
    from types import SimpleNamespace

    from svcctl.ensemble.members import require_healthy
    from svcctl.errors import CheckFailedError, DegradedError

    def node(name: str, mode: str, state: str = "running"):
        return SimpleNamespace(container=name, state=state, stats=SimpleNamespace(mode=mode))

    require_healthy([node("zoo1", "follower"), node("zoo2", "leader"), node("zoo3", "follower")])
    with pytest.raises(DegradedError, match=r"2 of 3 .*zoo3 \(exited, down\)"):
        require_healthy([node("zoo1", "follower"), node("zoo2", "leader"), node("zoo3", "down", "exited")])
    with pytest.raises(CheckFailedError, match="no quorum") as lost:
        require_healthy([node("zoo1", "down", "exited"), node("zoo2", "leader"), node("zoo3", "down", "exited")])
    assert not isinstance(lost.value, DegradedError)
