"""Faults under consumer load, against the real ensemble, registrators, instances and HAProxy.

Each fault scenario (`svcctl scenario run NAME`) runs three times in a row and must hold every
time: 0 failed requests through its gateway and its ServiceCache, no instance that never stopped
missing from the cache, ZooKeeper == Docker again, HAProxy listing every live instance UP. Then
the consumer's check: wrk through the project's gateway container and a long `svcctl call`
across a graceful registrator stop, a SIGKILL of the active registrator's process, a leader
restart and scaling 1→3→1: no non-2xx answer (wrk read errors bounded, see below).

Other stacks' registrators register every container of the engine, so the gateway may route to
other projects' service_2 too: the HAProxy check follows this project's containers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from bench.wrk import run_wrk
from tests.e2e.helpers_services import docker_endpoints
from tests.support import (
    GATEWAY_PORT,
    GATEWAY_STATS_PORT,
    SVCCTL,
    TEST_PROJECT,
    run_json,
    run_svcctl,
    svcctl_env,
    wait_for,
)

FAULTS = ["registrator-handover", "registrator-crash", "leader-loss", "member-loss", "instance-kill"]


@pytest.fixture(scope="module")
def service_2(cluster):
    run_svcctl("scale", "service_2", "2", timeout=300)
    try:
        yield
    finally:
        run_svcctl("stop", "service_2", check=False, timeout=300)


@pytest.mark.parametrize("name", FAULTS)
def test_fault_scenario_holds_three_times_in_a_row(name, service_2):
    report = run_json("scenario", "run", ",".join([name] * 3), timeout=900)
    assert report["ok"] is True
    assert len(report["faults"]) == 3
    for run in report["faults"]:
        assert run["scenario"] == name and run["ok"] is True, run["problems"]
        assert run["gateway"]["sent"] > 0 and run["gateway"]["failed"] == 0, run["gateway"]
        assert run["cache_calls"]["sent"] > 0 and run["cache_calls"]["failed"] == 0, run["cache_calls"]
        assert run["converge_s"] is not None
        assert set(run["haproxy"].values()) == {"UP"}, run["haproxy"]
        if name == "instance-kill":
            assert run["unroutable_s"] is not None  # the killed one left the cache
        else:
            assert run["max_missing_s"] == 0, run["missing_s"]
        if name == "member-loss":
            assert run["degraded_seen"] is True
        assert "/services" in run["tree_before"] and "/services" in run["tree_after"]


def test_host_crash_needs_a_cluster_over_hosts(cluster):
    proc = run_svcctl("scenario", "run", "host-crash", check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "svcctl: error: host-crash needs a cluster over hosts; fix: `svcctl hosts up 3` and `svcctl cluster up "
        "--hosts …` first"
    ]


def members() -> list[dict]:
    proc = run_svcctl("cluster", "status", "--json", check=False)
    return json.loads(proc.stdout)["members"]


def test_status_says_degraded_with_a_member_down_and_exits_9(cluster, engine):
    follower = next(m["container"] for m in members() if m["mode"] == "follower")
    engine.containers.get(follower).stop(timeout=10)
    try:
        proc = wait_for(
            lambda: (p := run_svcctl("cluster", "status", check=False)).returncode == 9 and p,
            "status to say degraded",
            60,
        )
        assert "ensemble: degraded" in proc.stdout
        assert proc.stderr.startswith(
            "svcctl: error: the ensemble is degraded: quorum held by 2 of 3 members; not serving: " + follower
        )
        assert json.loads(run_svcctl("cluster", "status", "--json", check=False).stdout)["health"] == "degraded"
    finally:
        engine.containers.get(follower).start()
    wait_for(
        lambda: run_svcctl("cluster", "status", check=False).returncode == 0,
        "the member back and the ensemble healthy",
        120,
    )


# --- the consumer's check: wrk and a long call across every fault -------------------------------------


@pytest.fixture(scope="module")
def gateway(cluster):
    run_svcctl("gateway", "up", "--port", str(GATEWAY_PORT), "--stats-port", str(GATEWAY_STATS_PORT), timeout=300)
    try:
        yield f"http://127.0.0.1:{GATEWAY_PORT}/"
    finally:
        run_svcctl("gateway", "down", check=False)


def registrators() -> list[dict]:
    return run_json("registrator", "status")


def active_registrator() -> str:
    return next(r["id"] for r in registrators() if r["role"] == "active" and r["id"].startswith(f"{TEST_PROJECT}-"))


def quorum() -> bool:
    modes = sorted(m["mode"] for m in members())
    return modes == ["follower", "follower", "leader"]


def test_wrk_and_a_long_call_through_every_fault_get_no_error(service_2, gateway, engine):
    # Two wrk windows, one after the other, and one `svcctl call` across both: the registry's
    # faults, then scaling 1→3→1. No non-2xx answer is allowed, and no socket error but a wrk
    # "read" error, at most 0.1% of a window's requests: an Apache in graceful stop closes its
    # idle keep-alive connections at the signal while HAProxy may still reuse one for the
    # ~50-150 ms until the deregistration reaches it (`http-reuse safe` then closes the client's
    # connection for it to retry). compose/services.yml gives service_2 a one-second delay
    # before its graceful stop for that, but other stacks' service_2 containers on this engine
    # are registered here too (every registrator registers the whole engine) and may stop without it.
    run_svcctl("scale", "service_2", "1", timeout=300)
    wait_for(lambda: len(docker_endpoints(engine, "service_2", project_only=True)) == 1, "one instance of this project")
    headers = {"service_name": "service_2"}
    outcome: dict = {}
    faults_load = threading.Thread(
        target=lambda: outcome.update(faults=run_wrk(gateway, 45, headers, threads=2, connections=8, timeout=5.0))
    )
    call = subprocess.Popen(
        [SVCCTL, "call", "service_2", "-n", "140", "--interval", "0.3", "--json"],
        env=svcctl_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    faults_load.start()
    stopped = []
    try:
        time.sleep(3)
        graceful = active_registrator()
        engine.containers.get(graceful).stop(timeout=30)  # the handover
        stopped.append(graceful)
        time.sleep(3)
        crashed = active_registrator()
        container = engine.containers.get(crashed)
        restarts = container.attrs["RestartCount"]
        os.kill(int(container.attrs["State"]["Pid"]), signal.SIGKILL)  # the process dies; the restart policy applies
        wait_for(
            lambda: (container.reload(), container.attrs["RestartCount"] > restarts and container.status == "running")[
                1
            ],
            f"{crashed} restarted",
            60,
        )
        time.sleep(3)
        leader = next(m["container"] for m in members() if m["mode"] == "leader")
        # The last of the registry's faults must still be under both loads, or it proves nothing.
        assert faults_load.is_alive() and call.poll() is None, (
            "the loads ended before the leader's restart: lengthen them"
        )
        engine.containers.get(leader).restart(timeout=10)
        wait_for(quorum, "quorum after the leader's restart", 120)
        faults_load.join(timeout=120)
        scale_load = threading.Thread(
            target=lambda: outcome.update(scale=run_wrk(gateway, 16, headers, threads=2, connections=8, timeout=5.0))
        )
        scale_load.start()
        time.sleep(2)
        run_svcctl("scale", "service_2", "3", timeout=300)
        time.sleep(4)
        run_svcctl("scale", "service_2", "1", timeout=300)
        scale_load.join(timeout=120)
    finally:
        for name in stopped:
            engine.containers.get(name).start()
        faults_load.join(timeout=120)
        out, err = call.communicate(timeout=180)
    during_faults, during_scaling = outcome["faults"], outcome["scale"]
    for window in (during_faults, during_scaling):
        assert window.requests > 0
        assert window.non_2xx == 0, window.output
        read_errors = int(window.socket_errors_by_kind.split("read ")[1].split(",")[0]) if window.socket_errors else 0
        assert window.socket_errors == read_errors <= window.requests // 1000, window.output
    assert call.returncode == 0, err[-2000:]
    live = set(docker_endpoints(engine, "service_2", project_only=True))
    assert len(live) == 1

    def haproxy_lists_every_live_instance_up() -> bool:
        rows = run_json("gateway", "status")["services"]
        servers = {s["server"]: s["state"] for row in rows if row["service"] == "service_2" for s in row["servers"]}
        return all(servers.get(address) == "UP" for address in live)

    wait_for(haproxy_lists_every_live_instance_up, "HAProxy to list every live instance UP", 30)


# --- the watcher against the real ensemble -----------------------------------------------------------


def test_replacements_never_take_an_instance_out_of_the_cache_or_the_watch_stream(zk):
    from svcctl.consumer.cache import ServiceCache
    from tests.e2e.helpers_zk import payload, unique

    svc = unique("replace")
    paths = [f"/services/{svc}/127.0.0.1:{port}" for port in (41001, 41002)]
    for path in paths:
        zk.create(path, payload(svc, int(path.rsplit(":", 1)[1]), "c" * 12), ephemeral=True, makepath=True)
    watch = subprocess.Popen(
        [SVCCTL, "zk", "watch", f"/services/{svc}", "-r", "--json", "--timeout", "60"],
        env=svcctl_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    removed: list[str] = []
    cache = ServiceCache(zk, svc)
    cache.add_listener(lambda change: removed.extend(i.address for i in change.removed))
    cache.start()
    try:
        assert len(cache.instances(svc)) == 2
        time.sleep(1.0)  # the watch stream's baseline read
        for _ in range(20):  # a registrator's takeover: delete + create in one multi-op, back to back
            for path in paths:
                tx = zk.transaction()
                tx.delete(path)
                tx.create(path, payload(svc, int(path.rsplit(":", 1)[1]), "d" * 12), ephemeral=True)
                assert not any(isinstance(r, Exception) for r in tx.commit())
        zk.delete(paths[0])  # and a plain delete + create, the firing racing the re-creation
        zk.create(paths[0], payload(svc, 41001, "e" * 12), ephemeral=True)
        czxids = {p: zk.exists(p).czxid for p in paths}
        wait_for(
            lambda: {p: s.czxid for p, s in dict(cache.watcher.nodes).items() if p in czxids} == czxids,
            "the cache to follow every re-creation",
            30,
        )
        assert {i.address for i in cache.instances(svc)} == {"127.0.0.1:41001", "127.0.0.1:41002"}
        assert "127.0.0.1:41002" not in removed  # only ever replaced
        time.sleep(1.0)  # the stream's last events
    finally:
        watch.terminate()
        out, _err = watch.communicate(timeout=30)
        cache.stop()
        for path in paths:
            try:
                zk.delete(path)
            except Exception:  # noqa: BLE001 - gone already
                pass
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [e["kind"] for e in events if e["path"] == paths[1]].count("node_replaced") >= 1, events
    for path in paths:
        # Whatever the interleaving, the stream ends with each instance there: never a deletion
        # that was not followed by its re-creation.
        mine = [e["kind"] for e in events if e["path"] == path]
        assert mine and mine[-1] in ("child_added", "node_replaced", "data_changed"), (path, mine)


def test_a_registrator_gone_for_good_leaves_no_gap_in_the_cache(service_2, zk, engine):
    # `docker kill` of the container: no restart, so the next in line takes over only when the
    # dead session expires, and its registrations go with it a moment before the successor
    # writes them again; the cache keeps them through that moment.
    from svcctl.consumer.cache import ServiceCache

    run_svcctl("scale", "service_2", "2", timeout=300)
    wait_for(
        lambda: len(docker_endpoints(engine, "service_2", project_only=True)) == 2, "two instances of this project"
    )
    mine = set(docker_endpoints(engine, "service_2", project_only=True))
    wait_for(lambda: all(zk.exists(f"/services/service_2/{a}") for a in mine), "both registered")
    removed: list[str] = []
    cache = ServiceCache(zk, "service_2")
    cache.add_listener(lambda change: removed.extend(i.address for i in change.removed))
    cache.start()
    victim = active_registrator()
    owners_before = {zk.exists(f"/services/service_2/{a}").ephemeralOwner for a in mine}
    try:
        engine.containers.get(victim).kill()

        def rewritten() -> bool:
            stats = [zk.exists(f"/services/service_2/{a}") for a in mine]
            return all(s is not None for s in stats) and not ({s.ephemeralOwner for s in stats} & owners_before)

        wait_for(rewritten, "another registrator to register them again", 90)
        wait_for(lambda: not cache.orphans(), "the cache to hold the new registrations", 30)
        assert mine <= {i.address for i in cache.instances("service_2")}
        assert not (set(removed) & mine), removed
    finally:
        cache.stop()
        engine.containers.get(victim).start()
    wait_for(
        lambda: sum(1 for r in registrators() if r["id"].startswith(f"{TEST_PROJECT}-")) == 3,
        "the registrator back",
        60,
    )
