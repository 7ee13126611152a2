"""Why no ZooKeeper session opens, told from the members' `srvr` modes."""

from __future__ import annotations

from svcctl.config.settings import parse_zk_hosts
from svcctl.zk.client import unavailable_error

HOSTS = parse_zk_hosts("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3")


def modes(*values: str) -> dict:
    return dict(zip(HOSTS, values, strict=True))


def test_all_down_is_no_member_answers():
    error = unavailable_error(HOSTS, modes("down", "down", "down"))
    assert (
        error.exit_code == 4
        and error.cause == "no ZooKeeper member answers at 127.0.0.1:1,127.0.0.1:2,127.0.0.1:3 (all 3 down)"
    )


def test_members_up_but_none_serving_is_a_lost_quorum_naming_each():
    error = unavailable_error(HOSTS, modes("not-serving", "down", "down"))
    assert error.exit_code == 4
    assert error.cause == (
        "ZooKeeper has lost its quorum: 1 of 3 members up, none serving "
        "(127.0.0.1:1 up, not serving; 127.0.0.1:2 down; 127.0.0.1:3 down)"
    )
    assert "majority" in error.fix


def test_a_serving_member_or_an_unknown_one_is_no_reason_to_give_up():
    assert unavailable_error(HOSTS, modes("follower", "down", "down")) is None
    assert unavailable_error(HOSTS, modes("unknown", "down", "down")) is None  # srvr not allowed: cannot tell
