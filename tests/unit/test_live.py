"""`svcctl ui`'s pure parts: the registry-vs-Docker differences, the change lines of the event
stream, the subscribers' hub, and the web app's rules for actions (Flask's test client; no
cluster: the state is not started)."""

from __future__ import annotations

import json

import pytest

from svcctl.config.settings import Settings
from svcctl.live.state import Hub, LiveState, diff_roles, diff_states, registry_diff
from svcctl.live.web import create_app, is_loopback


def full_id(short: str) -> str:
    return short + "f" * 52


def ps_row(container_id: str, port: int, state: str = "running", registered: str = "yes") -> dict:
    return {
        "container": f"c-{container_id}",
        "container_id": full_id(container_id),  # ps gives the full id
        "state": state,
        "znode": f"/services/service_2/127.0.0.1:{port}",
        "registered": registered,
    }


def instance(container_id: str, port: int) -> dict:
    return {"address": f"127.0.0.1:{port}", "container_id": full_id(container_id)}


def test_registry_and_docker_agreeing_show_no_difference():
    services = {"service_2": [instance("a" * 12, 1), instance("b" * 12, 2)]}
    assert registry_diff(services, [ps_row("a" * 12, 1), ps_row("b" * 12, 2)]) == {}


def test_every_kind_of_difference_is_named_by_its_znode():
    services = {"service_2": [instance("a" * 12, 1), instance("c" * 12, 3)], "other": [instance("d" * 12, 4)]}
    docker = [
        ps_row("a" * 12, 1),
        ps_row("b" * 12, 2, registered="no"),  # running, not registered
        ps_row("c" * 12, 3, state="exited", registered="stale"),  # stopped, still registered
    ]
    assert registry_diff(services, docker) == {
        "/services/service_2/127.0.0.1:2": "missing",
        "/services/service_2/127.0.0.1:3": "not-in-docker",
    }


def test_a_handover_reads_as_two_role_changes():
    before = {"r1": "active", "r2": "standby", "r3": "standby"}
    after = {"r1": "unknown", "r2": "active", "r3": "standby"}
    assert diff_roles(before, after) == ["r1: active → unknown", "r2: standby → active"]
    assert diff_roles(after, after) == []
    assert diff_roles({"r1": "active"}, {}) == ["r1 gone (was active)"]


def test_member_changes_name_the_member():
    assert diff_states({"zoo1": "leader", "zoo2": "follower"}, {"zoo1": "down", "zoo2": "leader"}, "member") == [
        "member zoo1: leader → down",
        "member zoo2: follower → leader",
    ]


def test_a_slow_subscriber_loses_its_oldest_messages_not_the_newest():
    hub = Hub()
    q = hub.subscribe()
    for n in range(100):
        hub.publish(str(n))
    got = []
    while not q.empty():
        got.append(int(q.get_nowait()))
    assert got[-1] == 99 and len(got) == 64 and got == sorted(got)
    hub.unsubscribe(q)
    hub.publish("after")
    assert q.empty()


@pytest.mark.parametrize(
    "address, loopback", [("127.0.0.1", True), ("::1", True), ("10.1.2.3", False), (None, False), ("x", False)]
)
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


@pytest.fixture
def client():
    live = LiveState(Settings(project="svcctl-ui-test"))
    app = create_app(live)
    return app.test_client(), live


def test_the_page_and_its_files_come_from_the_package(client):
    test_client, _live = client
    page = test_client.get("/")
    assert page.status_code == 200 and b'src="/static/app.js"' in page.data
    script = test_client.get("/static/app.js")
    assert script.status_code == 200 and b"EventSource" in script.data
    assert b"http://" not in page.data and b"https://" not in page.data  # nothing fetched from elsewhere


def test_the_state_is_one_snapshot(client):
    test_client, _live = client
    state = test_client.get("/api/state").get_json()
    assert state["project"] == "svcctl-ui-test"
    assert {"members", "registrators", "services", "docker", "differences", "events", "action"} <= set(state)


def test_actions_come_from_loopback_only_and_as_json(client):
    test_client, live = client
    remote = test_client.post(
        "/api/scale", json={"service": "service_2", "count": 2}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert remote.status_code == 403
    form = test_client.post("/api/scale", data={"service": "service_2", "count": "2"})
    assert form.status_code == 415
    bad = test_client.post("/api/scale", json={"service": "service_9", "count": 2})
    assert bad.status_code == 400 and "service_9" in bad.get_json()["error"]
    assert live.action["running"] is None  # nothing was started


def test_one_action_at_a_time(client):
    import threading

    _test_client, live = client
    release = threading.Event()
    assert live.run_action("slow", lambda progress: release.wait(10) and "ok")
    assert not live.run_action("second", lambda progress: "never")
    release.set()
    for _ in range(100):
        if live.action["running"] is None:
            break
        threading.Event().wait(0.05)
    assert live.action["last"]["name"] == "slow" and live.action["last"]["ok"]
    texts = [e.text for e in live.events]
    assert "slow: started" in texts and any(t.startswith("slow: done") for t in texts)
    assert not any("second" in t for t in texts)
    json.dumps(live.snapshot(), default=str)  # the snapshot stays serialisable
