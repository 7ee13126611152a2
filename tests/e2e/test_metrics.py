"""`svcctl metrics up|status|down` against the real thing: Debian's Prometheus in a container
scraping the test project's registrators, gateway (HAProxy's exporter and the controller) and
ZooKeeper (svcctl's mntr exporter), asked over its HTTP API with PromQL."""

from __future__ import annotations

import pytest

from svcctl.ensemble.metrics import query
from tests.e2e.test_consumer_registrator import mine
from tests.support import (
    GATEWAY_PORT,
    GATEWAY_STATS_PORT,
    TEST_PROJECT,
    run_json,
    run_svcctl,
    stable_port_pair,
    wait_for,
)

PROMETHEUS_PORT = stable_port_pair(f"{TEST_PROJECT}-prometheus", 10000, 1000)
JOBS = {"registrator": 3, "zookeeper": 1, "haproxy": 1, "gateway": 1}


def value(promql: str) -> float | None:
    """The single value of an instant query (None: no sample)."""
    result = query(PROMETHEUS_PORT, promql)
    assert len(result) <= 1, f"{promql} gave {len(result)} series: {result}"
    return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def prometheus(cluster):
    try:
        run_svcctl("gateway", "up", "--port", str(GATEWAY_PORT), "--stats-port", str(GATEWAY_STATS_PORT), timeout=300)
        run_svcctl("metrics", "up", "--port", str(PROMETHEUS_PORT), timeout=300)
        yield PROMETHEUS_PORT
    finally:
        run_svcctl("metrics", "down", check=False)
        run_svcctl("gateway", "down", check=False)


def zk_registrations(zk) -> int:
    from kazoo.exceptions import NoNodeError

    count = 0
    for service in zk.get_children("/services"):
        try:
            count += len(zk.get_children(f"/services/{service}"))
        except NoNodeError:
            pass  # pruned between the two reads
    return count


def test_every_target_is_scraped_and_up(prometheus):
    def all_up():
        info = run_json("metrics", "status")
        by_job: dict[str, list] = {}
        for target in info["targets"]:
            by_job.setdefault(target["job"], []).append(target)
        counts = {job: len(by_job.get(job, [])) for job in JOBS}
        healthy = all(t["health"] == "up" for ts in by_job.values() for t in ts)
        return info if counts == JOBS and healthy else None

    info = wait_for(all_up, "every target (3 registrators, zookeeper, haproxy, gateway) up", timeout=90, interval=1)
    assert info["state"] == "running" and info["port"] == PROMETHEUS_PORT
    # The ensemble through the mntr exporter: three members serving, one leader, two followers.
    wait_for(lambda: value("sum(zookeeper_up)") == 3, "three members up in Prometheus", timeout=30, interval=1)
    assert value('count(zookeeper_server_state{state="leader"})') == 1
    assert value('count(zookeeper_server_state{state="follower"})') == 2
    assert value("min(zookeeper_znode_count)") > 0
    # HAProxy's own exporter and the controller's metrics, both from the gateway's stats port.
    assert value('up{job="haproxy"}') == 1 and value("count(haproxy_process_nbthread)") == 1
    assert value('up{job="gateway"}') == 1 and value("svcctl_gateway_reloads_total") is not None
    # One active registrator of the engine, two standing by.
    assert value("sum(svcctl_registrator_active)") == 1
    assert value("count(svcctl_registrator_active == 0)") == 2
    assert value('count(svcctl_registrator_session_state{svcctl_registrator_session_state="CONNECTED"} == 1)') == 3


def test_the_registrations_gauge_equals_what_zookeeper_holds(prometheus, zk, services):
    run_svcctl("up", "service_2")
    run_svcctl("scale", "service_2", "2")
    wait_for(lambda: len(mine(zk, "service_2")) == 2, "two service_2 instances of this project registered")

    def agree():
        held = value("sum(svcctl_registrator_registrations)")
        in_zk = zk_registrations(zk)
        return (held, in_zk) if held == in_zk and held >= 2 else None

    held, in_zk = wait_for(agree, "the registrators' gauge == ZooKeeper's registrations", timeout=60, interval=1)
    assert held == in_zk >= 2
    # Only the active registrator holds them; the standbys hold none.
    assert value("sum(svcctl_registrator_registrations and on(instance) (svcctl_registrator_active == 0))") in (0, None)
    # The instances' starts were received, written, and timed event → znode.
    assert value('sum(svcctl_registrator_events_total{action="start"})') >= 2
    assert value('sum(svcctl_registrator_writes_total{op="create",outcome="done"})') >= 2
    assert value("sum(svcctl_registrator_event_to_znode_seconds_count)") >= 1
    # The gateway's controller follows: service_2's instances in its cache equal ZooKeeper's.
    wait_for(
        lambda: value('svcctl_gateway_instances{service="service_2"}') == len(zk.get_children("/services/service_2")),
        "the gateway controller's service_2 instances == ZooKeeper's",
        timeout=30,
        interval=1,
    )
