"""discover / call / gateway against the real ensemble and real HTTP servers (responder
containers registered by the test under its own session)."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading

from tests.e2e.helpers_zk import register, remove_containers, start_responder, unique, wait_for
from tests.support import SVCCTL, free_port, run_json, run_svcctl, svcctl_env


def test_discover_lists_instances(zk, engine):
    svc = unique()
    container, port = start_responder(engine)
    try:
        register(zk, svc, port, container.id, name="resp-1")
        data = run_json("discover", svc)
        assert [(i["address"], i["container_id"], i["container_name"]) for i in data[svc]] == [
            (f"127.0.0.1:{port}", container.id, "resp-1")
        ]
        assert svc in run_json("discover")
        table = run_svcctl("discover", svc).stdout
        assert f"127.0.0.1:{port}" in table and "resp-1" in table
        proc = run_svcctl("discover", unique("nope"), check=False)
        assert proc.returncode == 7 and "is not registered" in proc.stderr
    finally:
        remove_containers([container])
        zk.delete(f"/services/{svc}", recursive=True)


def test_call_round_robin_and_refused_instance_retried(zk, engine):
    svc = unique()
    (c1, p1), (c2, p2) = start_responder(engine), start_responder(engine)
    try:
        register(zk, svc, p1, c1.id)
        register(zk, svc, p2, c2.id)
        proc = run_svcctl("call", svc, "/ping", "--count", "6", "--interval", "0", "--json")
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        assert all(r["ok"] and r["status"] == 200 for r in results)
        assert [r["instance"] for r in results] == [f"127.0.0.1:{p}" for p in sorted([p1, p2])] * 3
        assert {r["body"] for r in results} == {f"hello from {c1.id[:12]} /ping", f"hello from {c2.id[:12]} /ping"}

        # One instance's endpoint refuses (container gone, registration still there): every call
        # is still answered, by the other instance.
        c2.remove(force=True)
        proc = run_svcctl("call", svc, "--count", "4", "--interval", "0", "--json")
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        assert all(r["ok"] and r["instance"] == f"127.0.0.1:{p1}" for r in results)
        assert any(r["attempts"] == [f"127.0.0.1:{p2}: ConnectionRefusedError"] for r in results)

        # Every instance refuses: calls fail and the exit code says so.
        c1.remove(force=True)
        proc = run_svcctl("call", svc, "--count", "2", "--interval", "0", check=False)
        assert proc.returncode == 8 and "2 of 2 calls" in proc.stderr and "FAILED" in proc.stdout
    finally:
        remove_containers([c1, c2])
        zk.delete(f"/services/{svc}", recursive=True)


def test_call_drops_an_instance_that_vanishes_mid_run(zk, engine):
    svc = unique()
    (c1, p1), (c2, p2) = start_responder(engine), start_responder(engine)
    try:
        register(zk, svc, p1, c1.id)
        gone = register(zk, svc, p2, c2.id)
        proc = subprocess.Popen(
            [SVCCTL, "call", svc, "--count", "30", "--interval", "0.1", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=svcctl_env(),
        )
        lines: list[dict] = []
        reader = threading.Thread(target=lambda: lines.extend(json.loads(line) for line in proc.stdout), daemon=True)
        reader.start()
        wait_for(lambda: len(lines) >= 4, "the first calls")
        # Deregister, then stop: the watch must drop it before its endpoint goes away.
        zk.delete(gone)
        seen_at = len(lines)
        c2.remove(force=True)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        reader.join(timeout=5)
        assert len(lines) == 30 and all(r["ok"] for r in lines)
        late = lines[seen_at + 1 :]
        assert late and all(r["instance"] == f"127.0.0.1:{p1}" and not r["attempts"] for r in late)
        assert f"instance removed: 127.0.0.1:{p2}" in proc.stderr.read()
    finally:
        remove_containers([c1, c2])
        zk.delete(f"/services/{svc}", recursive=True)


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, str]:
    """Status, headers (case-insensitive: HAProxy sends them in lower case) and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def test_gateway_routes_404_503_and_follows_the_service_node(zk, engine):
    svc = unique()
    (c1, p1), (c2, p2) = start_responder(engine), start_responder(engine)
    port = free_port()
    proc = subprocess.Popen(
        [SVCCTL, "gateway", "--port", str(port), "--stats-port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=svcctl_env(),
    )
    try:
        register(zk, svc, p1, c1.id)
        register(zk, svc, p2, c2.id)

        def answering() -> bool:
            try:
                return get(port, "/services")[0] == 200
            except OSError:
                return False

        wait_for(answering, "the gateway to listen")
        wait_for(
            lambda: len(json.loads(get(port, "/services")[2]).get(svc, [])) == 2, "the gateway to see both instances"
        )

        answers = [get(port, "/ignored", {"service_name": svc, "api_name": "/user?id=7"}) for _ in range(4)]
        assert [a[0] for a in answers] == [200] * 4
        assert {a[1]["X-Svcctl-Instance"] for a in answers} == {f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"}
        assert all(a[2].endswith(" /user?id=7\n") for a in answers)
        status, _, body = get(port, "/x/y", {"service_name": svc})  # api_name defaults to the path
        assert status == 200 and body.endswith(" /x/y\n")

        status, _, body = get(port, "/", {"service_name": "no_such_service"})
        assert status == 404 and "unknown service 'no_such_service'" in body
        assert get(port, "/")[0] == 400  # no service_name header

        # The last instances leave: 503, never a stale address.
        zk.delete(f"/services/{svc}/127.0.0.1:{p1}")
        zk.delete(f"/services/{svc}/127.0.0.1:{p2}")
        wait_for(lambda: get(port, "/", {"service_name": svc})[0] == 503, "503 with no instances")
        # The service node itself goes (as the registrator does with the last instance): still
        # 503, a known service without instances; it comes back with one instance: 200 from it.
        zk.delete(f"/services/{svc}")
        wait_for(lambda: svc not in json.loads(get(port, "/services")[2]), "the gateway to see the node go")
        assert get(port, "/", {"service_name": svc})[0] == 503
        register(zk, svc, p2, c2.id)
        wait_for(lambda: get(port, "/", {"service_name": svc})[0] == 200, "200 after re-registration")
        assert get(port, "/", {"service_name": svc})[1]["X-Svcctl-Instance"] == f"127.0.0.1:{p2}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        remove_containers([c1, c2])
        if zk.exists(f"/services/{svc}"):
            zk.delete(f"/services/{svc}", recursive=True)
