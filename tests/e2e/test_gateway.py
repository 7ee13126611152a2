"""`svcctl gateway up|status|down`: the project's HAProxy gateway container against the real
ensemble, the real registrators and real instances.

The gateway runs once for the module (on the test project's own ports, tests/support.py) and
`gateway down` is the last test. Other stacks' registrators register every container of the
engine, so /services/service_2 may hold other projects' instances too: assertions about
service_2 follow this project's containers, and routing cases use service names of their own."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from bench.wrk import run_wrk
from tests.e2e.helpers_zk import register, remove_containers, start_responder, unique, wait_for
from tests.e2e.test_consumer_registrator import mine
from tests.support import GATEWAY_PORT, GATEWAY_STATS_PORT, TEST_PROJECT, run_json, run_svcctl

WAIT = 90.0
URL = f"http://127.0.0.1:{GATEWAY_PORT}/"
CONTAINER = f"{TEST_PROJECT}-gateway"


def request(
    path: str = "/", headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, http.client.HTTPMessage, str]:
    conn = http.client.HTTPConnection("127.0.0.1", GATEWAY_PORT, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def gateway_log(engine, lines: int = 60) -> str:
    """The gateway's last log lines (failed requests are logged), for a failure's message."""
    try:
        return engine.containers.get(CONTAINER).logs(tail=lines).decode(errors="replace")
    except Exception as exc:  # the log is a diagnostic: its absence must not hide the failure
        return f"(no gateway log: {exc})"


def status_of(service: str) -> int:
    try:
        return request("/", {"service_name": service})[0]
    except (OSError, http.client.HTTPException):
        return -1


@pytest.fixture(scope="module")
def gateway(cluster):
    run_svcctl("gateway", "up", "--port", str(GATEWAY_PORT), "--stats-port", str(GATEWAY_STATS_PORT), timeout=300)
    try:
        yield URL
    finally:
        run_svcctl("gateway", "down", check=False)


def test_up_twice_is_harmless_and_routes_404_503(gateway, zk, engine):
    again = run_svcctl("gateway", "up", "--port", str(GATEWAY_PORT), "--stats-port", str(GATEWAY_STATS_PORT))
    assert f"stats page http://127.0.0.1:{GATEWAY_STATS_PORT}/" in again.stdout
    svc = unique()
    (c1, p1), (c2, p2) = start_responder(engine), start_responder(engine)
    try:
        register(zk, svc, p1, c1.id)
        register(zk, svc, p2, c2.id)
        both = {f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"}

        def answered_by() -> set[str]:
            return {request("/", {"service_name": svc})[1].get("X-Svcctl-Instance") for _ in range(4)}

        wait_for(lambda: status_of(svc) == 200, "the gateway to route the new service", 10)
        # Registered back to back, they reach HAProxy one after the other: both must be routed
        # soon (a lost instance never is), then round robin answers from both.
        wait_for(lambda: answered_by() == both, f"the gateway to route to both instances of {svc}", 10)
        answers = [request("/ignored", {"service_name": svc, "api_name": "/user?id=7"}) for _ in range(4)]
        assert [a[0] for a in answers] == [200] * 4
        assert {a[1]["X-Svcctl-Instance"] for a in answers} == both
        assert all(a[2].endswith(" /user?id=7\n") for a in answers)
        status, _, body = request("/x/y", {"service_name": svc})  # api_name defaults to the path
        assert status == 200 and body.endswith(" /x/y\n")
        # Any method goes through (the old Python gateway answered 501 to PATCH).
        assert request("/p", {"service_name": svc}, method="PATCH")[0] == 200

        listed = json.loads(request("/services")[2])
        assert sorted(i["address"] for i in listed[svc]) == sorted([f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"])
        status, _, body = request("/", {"service_name": "no_such_service"})
        assert status == 404 and "unknown service 'no_such_service'" in body
        assert request("/")[0] == 400

        zk.delete(f"/services/{svc}", recursive=True)
        wait_for(lambda: status_of(svc) == 503, "503 once the last instance left", 10)
        assert "no live instance" in request("/", {"service_name": svc})[2]
    finally:
        remove_containers([c1, c2])
        if zk.exists(f"/services/{svc}"):
            zk.delete(f"/services/{svc}", recursive=True)


def test_scale_up_is_seen_within_a_second(gateway, zk):
    try:
        run_svcctl("scale", "service_2", "1", timeout=300)
        wait_for(lambda: len(mine(zk, "service_2")) == 1, "one registration", WAIT)
        before = mine(zk, "service_2")
        run_svcctl("scale", "service_2", "2", timeout=300)
        new = wait_for(lambda: mine(zk, "service_2") - before, "the second registration", WAIT, interval=0.02)
        registered = time.monotonic()
        (address,) = new
        seen = set()

        def served() -> bool:
            for _ in range(8):  # round-robin over every instance, other stacks' included
                status, headers, _ = request("/", {"service_name": "service_2"})
                seen.add(headers.get("X-Svcctl-Instance"))
            return address in seen

        wait_for(served, f"the gateway to send requests to {address}", 5, interval=0.01)
        assert time.monotonic() - registered < 1.0
    finally:
        pass  # the next test scales down


def test_scale_down_fails_no_request_under_load(gateway, zk, engine):
    try:
        run_svcctl("scale", "service_2", "3", timeout=300)
        wait_for(lambda: len(mine(zk, "service_2")) == 3, "three registrations", WAIT)
        results = []
        load = threading.Thread(
            target=lambda: results.append(run_wrk(URL, 10, {"service_name": "service_2"}, threads=2, connections=8))
        )
        load.start()
        time.sleep(2)
        run_svcctl("scale", "service_2", "1", timeout=300)
        load.join(timeout=120)
        wait_for(lambda: len(mine(zk, "service_2")) == 1, "one registration left", WAIT)
        (result,) = results
        assert result.requests > 100
        assert result.failed == 0, result.output + gateway_log(engine)
    finally:
        run_svcctl("stop", "service_2", timeout=300, check=False)


def test_a_new_service_reloads_without_failing_a_request_and_restart_keeps_serving(gateway, zk, engine):
    svc, other = unique(), unique()
    (c1, p1), (c2, p2) = start_responder(engine), start_responder(engine)
    try:
        register(zk, svc, p1, c1.id)
        wait_for(lambda: status_of(svc) == 200, "the first service routed", 10)
        results = []
        load = threading.Thread(
            target=lambda: results.append(run_wrk(URL, 6, {"service_name": svc}, threads=1, connections=4))
        )
        load.start()
        time.sleep(1.5)
        register(zk, other, p2, c2.id)  # a new backend: a seamless reload under load
        wait_for(lambda: status_of(other) == 200, "the new service routed", 10)
        load.join(timeout=60)
        assert results[0].requests > 50 and results[0].failed == 0, results[0].output + gateway_log(engine)

        engine.containers.get(CONTAINER).restart(timeout=15)
        wait_for(lambda: status_of(svc) == 200 and status_of(other) == 200, "both services routed after a restart", 60)
    finally:
        remove_containers([c1, c2])
        for name in (svc, other):
            if zk.exists(f"/services/{name}"):
                zk.delete(f"/services/{name}", recursive=True)


def test_status_and_the_stats_page_in_chromium(gateway, zk, engine):
    svc = unique()
    container, port = start_responder(engine)
    try:
        register(zk, svc, port, container.id)
        wait_for(lambda: status_of(svc) == 200, "the service routed", 10)
        info = run_json("gateway", "status")
        assert info["stats_url"] == f"http://127.0.0.1:{GATEWAY_STATS_PORT}/" and info["state"] == "running"
        (entry,) = [s for s in info["services"] if s["service"] == svc]
        assert [(s["server"], s["state"]) for s in entry["servers"]] == [(f"127.0.0.1:{port}", "UP")]
        assert entry["total_sessions"] >= 1
        table = run_svcctl("gateway", "status").stdout
        assert f"127.0.0.1:{port}" in table and info["stats_url"] in table

        chromium = shutil.which("chromium")
        assert chromium, "chromium is not installed: run `svcctl doctor --fix`"
        with tempfile.TemporaryDirectory(prefix="svcctl-chromium-") as profile:
            proc = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    f"--user-data-dir={profile}",
                    "--dump-dom",
                    info["stats_url"],
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert proc.returncode == 0, proc.stderr[-2000:]
        dom = proc.stdout
        # The service's backend (svc.<name>, or the spare backend it took at run time) and its server.
        assert "Statistics Report" in dom and f">{entry['backend']}<" in dom and f"127.0.0.1:{port}" in dom
    finally:
        remove_containers([container])
        if zk.exists(f"/services/{svc}"):
            zk.delete(f"/services/{svc}", recursive=True)


def test_down_removes_everything_it_started(gateway, engine):
    run_svcctl("gateway", "down")
    left = engine.containers.list(
        all=True,
        filters={"label": [f"com.docker.compose.project={TEST_PROJECT}", "com.docker.compose.service=gateway"]},
    )
    assert left == []
    assert status_of("anything") == -1  # nothing listens on the port any more
    proc = run_svcctl("gateway", "status", check=False)
    assert proc.returncode == 7 and "the gateway is not running" in proc.stderr
    assert "no gateway" in run_svcctl("gateway", "down").stdout
