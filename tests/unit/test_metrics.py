"""The registrator's metrics, counted at the daemon's seams (a fake ZooKeeper and engine), and
the listening addresses the metrics flags take."""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import Future

import pytest

from svcctl.config.settings import parse_listen
from svcctl.errors import BadInputError, ConflictError
from svcctl.registrator.events import ContainerEvent
from svcctl.registrator.leadership import Elected
from svcctl.registrator.session import SessionChanged
from svcctl.registrator.writer import Outcome, OutcomeStatus
from svcctl.registry.model import Op, OpKind
from tests.support import free_port
from tests.unit.test_registrator_parts import CID, OTHER, FakeApi, container_info, daemon, elected_client, path


def sample(r, name: str, **labels) -> float | None:
    return r.metrics.registry.get_sample_value(name, labels or None)


def started(r, api: FakeApi, *cids: str, at: float = 0.0) -> None:
    events = []
    for n, cid in enumerate(cids):
        api.running[cid] = container_info(cid, 32001 + n)
        done: Future = Future()
        done.set_result(api.running[cid])
        events.append(ContainerEvent(cid, "start", at, inspection=done))
    r.handle(events)


def test_events_writes_and_the_registrations_gauge_follow_the_daemon():
    client, api = elected_client(), FakeApi()
    r = daemon(client, api)
    started(r, api, CID, OTHER, at=time.time())
    assert client.exists(path(32001)) and client.exists(path(32002))
    assert sample(r, "svcctl_registrator_events_total", action="start") == 2
    assert sample(r, "svcctl_registrator_writes_total", op="create", outcome="done") == 2
    assert sample(r, "svcctl_registrator_registrations") == 2
    assert sample(r, "svcctl_registrator_active") == 1
    # One sync wrote both: one latency observation, from the first event's time.
    assert sample(r, "svcctl_registrator_event_to_znode_seconds_count") == 1
    assert sample(r, "svcctl_registrator_event_to_znode_seconds_bucket", le="10.0") == 1

    api.running.pop(OTHER)
    r.handle([ContainerEvent(OTHER, "die", time.time(), exit_code=0)])
    assert not client.exists(path(32002))
    assert sample(r, "svcctl_registrator_events_total", action="die") == 1
    assert sample(r, "svcctl_registrator_writes_total", op="delete", outcome="done") == 1
    assert sample(r, "svcctl_registrator_registrations") == 1
    assert sample(r, "svcctl_registrator_event_to_znode_seconds_count") == 2


def test_a_standby_holds_no_registration_and_says_so():
    client, api = elected_client(), FakeApi()
    r = daemon(client, api)
    r.leadership.active = False
    started(r, api, CID)
    assert sample(r, "svcctl_registrator_active") == 0
    assert sample(r, "svcctl_registrator_registrations") == 0
    assert sample(r, "svcctl_registrator_events_total", action="start") == 1
    assert sample(r, "svcctl_registrator_writes_total", op="create", outcome="done") is None


def test_session_state_elections_and_resyncs_are_counted():
    client, api = elected_client(), FakeApi()
    r = daemon(client, api)
    r.handle([SessionChanged("SUSPENDED")])
    assert sample(r, "svcctl_registrator_session_state", svcctl_registrator_session_state="SUSPENDED") == 1
    assert sample(r, "svcctl_registrator_session_state", svcctl_registrator_session_state="CONNECTED") == 0
    r.handle([SessionChanged("CONNECTED")])
    assert sample(r, "svcctl_registrator_session_state", svcctl_registrator_session_state="CONNECTED") == 1
    r.handle([Elected(r.leadership.lead_session, r.leadership.lead_node)])
    assert sample(r, "svcctl_registrator_elections_won_total") == 1
    api.running[CID] = container_info(CID, 32001)
    r._resync("state change")
    assert sample(r, "svcctl_registrator_resyncs_total", reason="state change") == 1
    assert sample(r, "svcctl_registrator_registrations") == 1


def test_failed_and_fenced_writes_are_told_apart():
    r = daemon(elected_client(), FakeApi())
    op = Op(OpKind.CREATE, "/services/svc/127.0.0.1:1", None)
    r.metrics.on_writes([Outcome(op, OutcomeStatus.FAILED, "ConnectionLoss"), Outcome(op, OutcomeStatus.FENCED)])
    assert sample(r, "svcctl_registrator_writes_total", op="create", outcome="failed") == 1
    assert sample(r, "svcctl_registrator_writes_total", op="create", outcome="fenced") == 1
    assert sample(r, "svcctl_registrator_errors_total", kind="write") == 1


def test_metrics_are_served_over_http_only_when_asked():
    r = daemon(elected_client(), FakeApi())
    assert r.metrics._server is None
    port = free_port()
    r.metrics.serve("127.0.0.1", port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "svcctl_registrator_registrations 0.0" in body
        assert 'svcctl_registrator_info{base="/services",engine="E",registrator="r1"} 1.0' in body
        other = daemon(elected_client(), FakeApi())
        with pytest.raises(ConflictError, match=f"127.0.0.1:{port}"):
            other.metrics.serve("127.0.0.1", port)
    finally:
        r.metrics.close()


@pytest.mark.parametrize(
    "text, address",
    [("9333", ("127.0.0.1", 9333)), (":9333", ("127.0.0.1", 9333)), ("0.0.0.0:80", ("0.0.0.0", 80))],
)
def test_listen_addresses(text, address):
    assert parse_listen(text, "-metrics") == address


@pytest.mark.parametrize("text", ["", "x", "127.0.0.1:", "127.0.0.1:70000", "host:9333"])
def test_bad_listen_addresses_name_the_option(text):
    with pytest.raises(BadInputError, match="-metrics"):
        parse_listen(text, "-metrics")


# --- ZooKeeper: mntr translated -------------------------------------------------------------


MNTR = (
    "zk_version\t3.8.0-debian\nzk_server_state\tleader\nzk_avg_latency\t0.25\n"
    "zk_znode_count\t12\nzk_synced_followers\t2\n"
)


def test_mntr_is_translated_per_member_with_up_and_state():
    from prometheus_client import CollectorRegistry, generate_latest

    from svcctl.zk.exporter import MntrCollector
    from svcctl.zk.fourletter import parse_mntr

    class Fake(MntrCollector):
        def _ask(self, member):
            if member[1] == 1:
                return parse_mntr(MNTR), "leader"
            return None, "down"

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fake([("127.0.0.1", 1), ("127.0.0.1", 2)]))
    text = generate_latest(registry).decode()
    assert 'zookeeper_up{member="127.0.0.1:1"} 1.0' in text
    assert 'zookeeper_up{member="127.0.0.1:2"} 0.0' in text
    assert 'zookeeper_server_state{member="127.0.0.1:1",state="leader"} 1.0' in text
    assert 'zookeeper_server_state{member="127.0.0.1:2",state="down"} 1.0' in text
    assert 'zookeeper_znode_count{member="127.0.0.1:1"} 12.0' in text
    assert 'zookeeper_avg_latency{member="127.0.0.1:1"} 0.25' in text
    assert "zookeeper_version" not in text  # not a number: no metric
    assert 'zookeeper_znode_count{member="127.0.0.1:2"}' not in text


def test_mntr_names_become_prometheus_names():
    from svcctl.zk.exporter import metric_name

    assert metric_name("zk_avg_latency") == "zookeeper_avg_latency"
    assert metric_name("zk_cnt_write-per-namespace") == "zookeeper_cnt_write_per_namespace"


# --- the gateway controller -----------------------------------------------------------------


def test_the_gateway_controller_metrics_read_its_state(tmp_path):
    from svcctl.consumer.gateway.controller import DRAINING, READY, GatewayController
    from svcctl.consumer.gateway.metrics import render

    class Cache:
        def services(self):
            return {"service_2": [object(), object()], "service_1": [object()]}

    controller = GatewayController(Cache(), "127.0.0.1", 1, 2, tmp_path)
    controller.reloads = 1
    controller.changes.update({"add": 3, "drain": 1})
    controller.servers = {"service_2": {"a:1": READY, "a:2": READY, "a:3": DRAINING}}
    text = render(controller).decode()
    assert "svcctl_gateway_reloads_total 1.0" in text
    assert 'svcctl_gateway_changes_total{change="add"} 3.0' in text
    assert 'svcctl_gateway_instances{service="service_2"} 2.0' in text
    assert 'svcctl_gateway_instances{service="service_1"} 1.0' in text
    assert 'svcctl_gateway_servers{service="service_2",state="ready"} 2.0' in text
    assert 'svcctl_gateway_servers{service="service_2",state="draining"} 1.0' in text


def test_haproxy_serves_its_exporter_and_the_controller_metrics_on_the_stats_port():
    from svcctl.consumer.gateway.haproxy import ProxySettings, render_config

    text = render_config(ProxySettings("127.0.0.1", 8080, 8404, "/tmp/a.sock", "/tmp/m.map", 9999), {})
    stats = text.split("frontend stats", 1)[1]
    assert "http-request use-service prometheus-exporter if { path /metrics }" in stats
    assert "{ path /svcctl/metrics }" in stats


# --- Prometheus's scrape configuration ------------------------------------------------------


def test_the_scrape_configuration_names_every_component_of_the_project():
    from svcctl.config.settings import Settings
    from svcctl.ensemble.metrics import scrape_config

    settings = Settings(project="svcctl-x", zk_ports=(14181, 14182, 14183))
    config = scrape_config(settings, gateway_stats_port=20405)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"registrator", "zookeeper", "haproxy", "gateway"}
    assert [c["targets"] for c in jobs["registrator"]["static_configs"]] == [
        ["127.0.0.1:21181"],
        ["127.0.0.1:21182"],
        ["127.0.0.1:21183"],
    ]
    assert [c["labels"]["registrator"] for c in jobs["registrator"]["static_configs"]] == [
        "svcctl-x-registrator1",
        "svcctl-x-registrator2",
        "svcctl-x-registrator3",
    ]
    assert jobs["zookeeper"]["static_configs"][0]["targets"] == ["127.0.0.1:21184"]
    assert jobs["haproxy"]["static_configs"][0]["targets"] == ["127.0.0.1:20405"]
    assert jobs["gateway"]["metrics_path"] == "/svcctl/metrics"
    assert config["global"]["external_labels"] == {"project": "svcctl-x"}
    assert set(j["job_name"] for j in scrape_config(settings, None)["scrape_configs"]) == {"registrator", "zookeeper"}


def test_the_compose_environment_gives_each_registrator_its_metrics_port():
    from svcctl.config.settings import Settings

    assert Settings().registrator_metrics_ports == (9181, 9182, 9183)
    assert Settings().zk_exporter_port == 9184
