"""The registrator end to end: the real engine, the test project's real ensemble and its three
registrators (started by `svcctl cluster up` from compose/registrator.yml). Every test reads
ZooKeeper's real state. Fault tests restore the ensemble and the registrators in `finally`.

The registrators of every stack on this engine register every container, so each test names its
containers with a unique SERVICE_NAME and only looks at those."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from svcctl.zk.fourletter import four_letter_word
from tests.e2e.helpers_registrator import (
    build_tiny,
    children,
    host_port,
    node,
    remove_all,
    run_tiny,
    safe,
    unique,
    wait_for,
)
from tests.support import LOADED_MACHINE_SLACK_S, SVCCTL, TEST_PROJECT, TEST_ZK_PORTS, run_json, run_svcctl, svcctl_env

PREFIX = "" if TEST_PROJECT == "svcctl" else f"{TEST_PROJECT}-"
MEMBERS = {f"{PREFIX}zoo{i}": int(port) for i, port in enumerate(TEST_ZK_PORTS.split(","), start=1)}
SESSION_TIMEOUT = 10.0  # compose/registrator.yml's -session-timeout
RESTART_BOUND = 3.0  # a crashed active registrator restarted by its policy: back in charge within this
OWNER = f"{TEST_PROJECT}-regtest"


@pytest.fixture(scope="module")
def tiny(engine):
    return build_tiny(engine)


@pytest.fixture
def owner(engine, tiny):
    """Every container a test starts carries this label; all are removed at the end."""
    try:
        yield OWNER
    finally:
        remove_all(engine, OWNER)


def registrators() -> list[dict]:
    return run_json("registrator", "status")


def active() -> dict:
    found = [r for r in registrators() if r["role"] == "active"]
    assert len(found) == 1, found
    return found[0]


def instance_path(service: str, container, key: str = "8080/tcp") -> str:
    return f"/services/{service}/127.0.0.1:{host_port(container, key)}"


def registered(zk, path: str, container_id: str | None = None):
    """The node's (payload, stat) once it exists (and names `container_id`)."""
    found = node(zk, path)
    if found and (container_id is None or found[0]["svcctl"]["container_id"] == container_id):
        return found
    return None


def restore_cluster() -> None:
    run_svcctl("cluster", "up", "--timeout", "180")


def member_of_session(session: str) -> str | None:
    """The ensemble member (container) holding a client session, from its `cons` answer."""
    for container, port in MEMBERS.items():
        try:
            if f"sid={session}," in four_letter_word("127.0.0.1", port, "cons", timeout=2):
                return container
        except OSError:
            continue
    return None


# --- registration ----------------------------------------------------------------------------


def test_three_registrators_elect_one_active(cluster, zk):
    found = wait_for(
        lambda: (lambda rs: rs if sum(r["role"] == "active" for r in rs) == 1 and len(rs) == 3 else None)(
            registrators()
        ),
        "three registrators, one active",
    )
    assert sorted(r["id"] for r in found) == [f"{PREFIX}registrator{i}" for i in (1, 2, 3)]
    assert len({r["engine_id"] for r in found}) == 1
    # The election node's data names the active registrator and since when.
    election = f"/svcctl/registrators/{found[0]['engine_id']}"
    first = sorted(zk.get_children(election), key=lambda c: c[-10:])[0]
    data, stat = node(zk, f"{election}/{first}")
    assert data["id"] == active()["id"] and data["role"] == "active" and data["since"] <= time.time()
    # `cluster status --json` shows them too.
    status = run_json("cluster", "status")
    assert sorted((r["container"], r["state"]) for r in status["registrators"]) == [
        (f"{PREFIX}registrator{i}", "running") for i in (1, 2, 3)
    ]
    assert [r["role"] for r in status["registrators"]].count("active") == 1


def test_start_registers_and_stop_deregisters(cluster, zk, engine, owner):
    service = unique("single")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    body, stat = wait_for(lambda: registered(zk, path), f"{path} to appear", timeout=30)
    assert list(body)[:7] == ["Name", "IP", "PublicPort", "PrivatePort", "ContainerID", "Tags", "Attrs"]
    assert (body["Name"], body["IP"], body["PublicPort"], body["PrivatePort"]) == (
        service,
        "127.0.0.1",
        host_port(container),
        8080,
    )
    assert body["ContainerID"] == container.id[:12] and body["Tags"] == [] and body["Attrs"] == {}
    ours = body["svcctl"]
    assert (
        ours["container_id"] == container.id and ours["container_name"] == container.name and ours["protocol"] == "tcp"
    )
    # Ephemeral, owned by the active registrator's session, written by it.
    leader = active()
    assert stat.ephemeralOwner and hex(stat.ephemeralOwner) == leader["session"] and ours["registrator"] == leader["id"]
    assert ours["engine_id"] == leader["engine_id"]

    container.stop(timeout=0)
    wait_for(lambda: node(zk, path) is None, f"{path} to go", timeout=30)
    # The service node went with its last instance.
    wait_for(lambda: zk.exists(f"/services/{service}") is None, f"/services/{service} to go", timeout=30)


def test_pause_deregisters_and_unpause_registers_again(cluster, zk, engine, owner):
    service = unique("pause")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    wait_for(lambda: registered(zk, path), f"{path} to appear")
    container.pause()
    try:
        wait_for(lambda: node(zk, path) is None, f"{path} to go while paused")
    finally:
        container.unpause()
    wait_for(lambda: registered(zk, path), f"{path} back after unpause")


def test_multi_port_naming(cluster, zk, engine, owner):
    service = unique("multi")
    container = run_tiny(
        engine,
        owner,
        {"SERVICE_NAME": service, "SERVICE_8443_NAME": f"{service}_tls", "SERVICE_TAGS": "a,b\\,c"},
        ports=("8080/tcp", "8443/tcp", "5353/udp"),
    )
    expected = {
        instance_path(f"{service}-8080", container, "8080/tcp"): ("tcp", ["a", "b,c"]),
        instance_path(f"{service}_tls", container, "8443/tcp"): ("tcp", ["a", "b,c"]),
        instance_path(f"{service}-5353", container, "5353/udp"): ("udp", ["a", "b,c", "udp"]),
    }
    for path, (protocol, tags) in expected.items():
        body, _ = wait_for(lambda path=path: registered(zk, path), f"{path} to appear")
        assert body["svcctl"]["protocol"] == protocol and body["Tags"] == tags
    assert children(zk, f"/services/{service}") is None  # no unsuffixed name when several ports are published


def test_service_ignore(cluster, zk, engine, owner):
    ignored, sentinel = unique("ignored"), unique("sentinel")
    run_tiny(engine, owner, {"SERVICE_NAME": ignored, "SERVICE_IGNORE": "true"})
    half = run_tiny(
        engine, owner, {"SERVICE_NAME": f"{ignored}_half", "SERVICE_8443_IGNORE": "1"}, ports=("8080/tcp", "8443/tcp")
    )
    # Events are handled in order: once a container started later is registered, the ignored
    # ones have been handled too.
    later = run_tiny(engine, owner, {"SERVICE_NAME": sentinel})
    wait_for(lambda: registered(zk, instance_path(sentinel, later)), "the sentinel container")
    assert children(zk, f"/services/{ignored}") is None
    # SERVICE_8443_IGNORE drops one port; the other keeps its -<port> suffix (registrator's rule).
    assert children(zk, f"/services/{ignored}_half-8080") == [f"127.0.0.1:{host_port(half, '8080/tcp')}"]
    assert children(zk, f"/services/{ignored}_half-8443") is None


# --- draining: a terminating signal deregisters at once, not at die --------------------------
# The tiny image's PID 1 is `sleep`, which installs no handlers, and the kernel does not deliver
# default-action signals to a namespace's init: it ignores TERM and HUP and keeps running, so a
# `docker stop` lasts its whole timeout (SIGKILL then) and a `kill -s TERM` leaves it running,
# exactly the window in which a draining server still runs but must not get new clients.


def running(engine, container) -> bool:
    return engine.api.inspect_container(container.id)["State"]["Running"]


def test_stop_deregisters_at_the_signal_before_die(cluster, zk, engine, owner):
    import docker

    service = unique("drainstop")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    wait_for(lambda: registered(zk, path), f"{path} to appear")
    # `docker stop` blocks until the container ended: in a thread, on a client of its own.
    stopper_engine = docker.from_env(timeout=60)
    stopper = threading.Thread(target=lambda: stopper_engine.containers.get(container.id).stop(timeout=10), daemon=True)
    started = time.monotonic()
    stopper.start()
    try:
        wait_for(lambda: node(zk, path) is None, f"{path} to go at the SIGTERM", timeout=8)
        gone_after = time.monotonic() - started
        # Gone while the container still runs: at the `kill` event, not at `die` (10 s later).
        assert running(engine, container), "the container ended before the node went: that was die, not the signal"
        assert stopper.is_alive()
        print(f"deregistered {gone_after * 1000:.0f} ms after docker stop began; die comes at the 10 s timeout")
    finally:
        stopper.join(timeout=30)
        stopper_engine.close()
    assert not running(engine, container) and time.monotonic() - started >= 9.5
    assert node(zk, path) is None
    wait_for(lambda: zk.exists(f"/services/{service}") is None, f"/services/{service} to go", timeout=30)


def test_reload_signals_leave_the_registration(cluster, zk, engine, owner):
    service, sentinel = unique("reload"), unique("sentinel")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    _, stat = wait_for(lambda: registered(zk, path), f"{path} to appear")
    container.kill(signal="SIGHUP")
    container.kill(signal="SIGUSR1")
    # Events are handled in order: once a container started after the kills is registered,
    # the kills have been handled too.
    later = run_tiny(engine, owner, {"SERVICE_NAME": sentinel})
    wait_for(lambda: registered(zk, instance_path(sentinel, later)), "the sentinel container")
    found = registered(zk, path, container.id)
    assert found is not None, f"{path} went at a reload signal"
    assert found[1].czxid == stat.czxid  # the same node: never deleted and re-created
    assert running(engine, container)


def test_draining_container_is_not_re_registered_by_a_resync(cluster, zk, engine, owner):
    service, sentinel = unique("draining"), unique("sentinel")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    other = run_tiny(engine, owner, {"SERVICE_NAME": sentinel})
    path, other_path = instance_path(service, container), instance_path(sentinel, other)
    wait_for(lambda: registered(zk, path), f"{path} to appear")
    wait_for(lambda: registered(zk, other_path), f"{other_path} to appear")
    container.kill(signal="SIGTERM")  # ignored: it goes on running, as a server draining would
    wait_for(lambda: node(zk, path) is None, f"{path} to go at the SIGTERM", timeout=10)
    assert running(engine, container)
    # Make a full resync visible: remove the sentinel's node behind the registrator's back.
    # Only a full resync (periodic: every 30 s in compose/registrator.yml) re-creates it, and
    # the same pass, reading `docker ps`, would re-add the still running, draining container.
    zk.delete(other_path)
    deleted_at = time.monotonic()
    wait_for(lambda: registered(zk, other_path, other.id), f"{other_path} re-created by a resync", timeout=60)
    print(
        f"a resync ran {time.monotonic() - deleted_at:.1f} s after the sentinel's node was deleted; the draining "
        "container stayed out"
    )
    assert node(zk, path) is None, f"{path} re-registered by the resync while draining"
    assert running(engine, container)
    # Running again after a restart ends the drain: registered again (its new host port).
    container.restart(timeout=0)
    new_path = instance_path(service, container)
    wait_for(lambda: registered(zk, new_path, container.id), f"{new_path} after the restart")


# --- faults ----------------------------------------------------------------------------------


def test_kill_the_member_the_active_registrator_talks_to(cluster, zk, engine, owner):
    service = unique("memberkill")
    before = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, before)
    _, stat = wait_for(lambda: registered(zk, path), f"{path} to appear")
    leader = active()
    member = wait_for(
        lambda: member_of_session(leader["session"]), "the member holding the active registrator's session"
    )
    try:
        engine.containers.get(member).kill()
        # The session moves to another member: the node stays, with the same owner.
        after = run_tiny(engine, owner, {"SERVICE_NAME": service})
        new_path = instance_path(service, after)
        wait_for(safe(lambda: registered(zk, new_path)), f"{new_path} (started after {member} died) to appear")
        body, stat_now = wait_for(safe(lambda: registered(zk, path)), f"{path} still there")
        assert stat_now.ephemeralOwner == stat.ephemeralOwner and stat_now.czxid == stat.czxid  # never re-created
        assert member_of_session(leader["session"]) not in (None, member)
    finally:
        restore_cluster()


def test_sigkill_active_registrator_standby_restores(cluster, zk, engine, owner):
    service = unique("sigkill")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    _, stat = wait_for(lambda: registered(zk, path), f"{path} to appear")
    leader = active()
    try:
        killed_at = time.monotonic()
        engine.containers.get(leader["id"]).kill()
        # A standby takes over once the dead session expires, and restores every registration.
        body, new_stat = wait_for(
            lambda: (lambda f: f if f and f[1].ephemeralOwner != stat.ephemeralOwner else None)(registered(zk, path)),
            f"{path} restored by a standby",
            timeout=SESSION_TIMEOUT + 50,
        )
        restored_after = time.monotonic() - killed_at
        print(f"restored {restored_after:.1f}s after SIGKILL (the bound: session timeout {SESSION_TIMEOUT:.0f}s + 2s)")
        assert restored_after <= SESSION_TIMEOUT + 2 + LOADED_MACHINE_SLACK_S, restored_after
        successor = active()
        assert successor["id"] != leader["id"] and hex(new_stat.ephemeralOwner) == successor["session"]
        assert body["svcctl"]["registrator"] == successor["id"]
        assert children(zk, f"/services/{service}") == [path.rsplit("/", 1)[1]]  # taken over, not duplicated
    finally:
        restore_cluster()


def test_sigterm_hands_over_without_losing_the_node(cluster, zk, engine, owner):
    from kazoo.recipe.watchers import DataWatch

    service = unique("sigterm")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    _, stat = wait_for(lambda: registered(zk, path), f"{path} to appear")
    leader = active()
    # Every state of the node a client can observe: after each change the watch re-reads it,
    # so an atomic replace (delete + create in one transaction) shows the new owner at once,
    # while a gap (our session closed before the successor re-created the node) shows None.
    seen: list[int | None] = []
    DataWatch(zk, path, lambda data, st: seen.append(st.ephemeralOwner if st else None))
    try:
        engine.containers.get(leader["id"]).stop(timeout=15)
        body, new_stat = wait_for(
            lambda: (lambda f: f if f and f[1].ephemeralOwner != stat.ephemeralOwner else None)(registered(zk, path)),
            f"{path} taken over",
            timeout=30,
        )
        assert body["svcctl"]["registrator"] != leader["id"]
        wait_for(lambda: new_stat.ephemeralOwner in seen, "the watch to see the successor's node", timeout=10)
        assert None not in seen, (
            f"{path} was absent during the handover: owners seen {[hex(o) if o else o for o in seen]}"
        )
        # The leaving registrator waited until the successor had replaced its nodes (one
        # transaction each: delete + create) before closing its session, and it waited on the
        # nodes it owned (with none it would stop as soon as the successor called itself active).
        logs = engine.containers.get(leader["id"]).logs().decode()
        done = re.search(r"event=handover done .*registrations=(\d+)", logs)
        assert done and int(done.group(1)) >= 1, logs[-2000:]
        assert children(zk, f"/services/{service}") == [path.rsplit("/", 1)[1]]
    finally:
        restore_cluster()


def test_crashed_active_registrator_restarted_hands_over_at_once(cluster, zk, engine, owner):
    """A crash (the process killed, not `docker kill`: the restart policy brings it back) does not
    leave the engine without a writer until the dead session expires: the restarted process
    removes its earlier life's election node and the next in line takes over."""
    service = unique("crash")
    before = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, before)
    _, stat = wait_for(lambda: registered(zk, path), f"{path} to appear")
    leader = active()
    container = engine.containers.get(leader["id"])
    try:
        crashed_at = time.monotonic()
        os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)
        after = run_tiny(engine, owner, {"SERVICE_NAME": service})
        new_path = instance_path(service, after)
        wait_for(
            safe(lambda: registered(zk, new_path)),
            f"{new_path} (started after the crash)",
            timeout=SESSION_TIMEOUT + 20,
        )
        new_registered = time.monotonic() - crashed_at
        _, taken = wait_for(
            safe(
                lambda: (lambda f: f if f and f[1].ephemeralOwner != stat.ephemeralOwner else None)(
                    registered(zk, path)
                )
            ),
            f"{path} owned by a live session",
            timeout=SESSION_TIMEOUT + 20,
        )
        owned_again = time.monotonic() - crashed_at
        print(
            f"after the crash: new container registered in {new_registered:.2f} s, old registration owned by a live "
            f"session in {owned_again:.2f} s"
        )
        successor = active()
        assert hex(taken.ephemeralOwner) == successor["session"]
        assert new_registered <= RESTART_BOUND and owned_again <= RESTART_BOUND, (new_registered, owned_again)
        wait_for(
            lambda: engine.containers.get(leader["id"]).status == "running",
            "the crashed registrator restarted by its policy",
        )
        logs = engine.containers.get(leader["id"]).logs().decode()
        assert "event=contender removed" in logs and "crashed and restarted" in logs, logs[-2000:]
        assert children(zk, f"/services/{service}") == sorted(p.rsplit("/", 1)[1] for p in (path, new_path))
    finally:
        restore_cluster()


EXIT_WHEN_TOLD = "while [ ! -e /tmp/exit ]; do sleep 0.1; done; exit {code}"


def test_upstream_flags_on_a_registrator_of_its_own(cluster, zk, engine, owner, tmp_path):
    """-tags, -useIpFromLabel, -deregister on-success and -ttl, on a registrator writing a base of
    its own (its own election: the project's registrators of /services do not stand in its way)."""
    base = "/" + unique("flags")
    log_file = tmp_path / "registrator.log"
    with open(log_file, "w") as log_out:
        proc = subprocess.Popen(
            [
                SVCCTL,
                "registrator",
                "run",
                "-tags",
                "edge,blue",
                "-useIpFromLabel",
                "svc.ip",
                "-deregister",
                "on-success",
                "-ttl",
                "30",
                "-resync",
                "0",
                "-id",
                base[1:],
                f"zookeeper://{cluster}{base}",
            ],
            env=svcctl_env(),
            stderr=log_out,
        )
    try:
        labelled = run_tiny(engine, owner, {"SERVICE_NAME": "labelled"}, labels={"svc.ip": "10.9.8.7/24"})
        plain = run_tiny(engine, owner, {"SERVICE_NAME": "plain", "SERVICE_TAGS": "own"})
        # They exit with their code once told to (a file appears): their ports are read while they run.
        failing = run_tiny(
            engine, owner, {"SERVICE_NAME": "failing"}, command=["sh", "-c", EXIT_WHEN_TOLD.format(code=3)]
        )
        succeeding = run_tiny(
            engine, owner, {"SERVICE_NAME": "succeeding"}, command=["sh", "-c", EXIT_WHEN_TOLD.format(code=0)]
        )
        failing_path, succeeding_path = (
            f"{base}/failing/127.0.0.1:{host_port(failing)}",
            f"{base}/succeeding/127.0.0.1:{host_port(succeeding)}",
        )
        body, _ = wait_for(
            lambda: node(zk, f"{base}/labelled/10.9.8.7:{host_port(labelled)}"), "the address from the label"
        )
        assert body["IP"] == "10.9.8.7" and body["Tags"] == ["edge", "blue"]
        body, _ = wait_for(lambda: node(zk, f"{base}/plain/127.0.0.1:{host_port(plain)}"), "the plain container")
        assert body["Tags"] == ["own", "edge", "blue"]
        wait_for(lambda: node(zk, failing_path) and node(zk, succeeding_path), "both short-lived containers registered")
        for container in (failing, succeeding):
            container.exec_run(["touch", "/tmp/exit"])
        assert failing.wait(timeout=30)["StatusCode"] == 3 and succeeding.wait(timeout=30)["StatusCode"] == 0
        wait_for(lambda: node(zk, succeeding_path) is None, "the container that exited 0 deregistered")
        assert node(zk, failing_path) is not None, "-deregister on-success dropped a container that exited 3"
        failing.remove()
        wait_for(lambda: node(zk, failing_path) is None, "the failed container deregistered once removed")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    logs = log_file.read_text()
    assert "event=ttl not used" in logs and "event=handover skipped" in logs, logs[-2000:]


def test_bounded_retries_exit_with_one_line():
    proc = run_svcctl(
        "registrator",
        "run",
        "-retry-attempts",
        "2",
        "-retry-interval",
        "200",
        "zookeeper://127.0.0.1:1/services",
        check=False,
        timeout=60,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("svcctl: error:")]
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert len(errors) == 1 and "after 2 attempts" in errors[0] and "-retry-attempts" in errors[0]


def test_restart_the_whole_ensemble(cluster, zk, engine, owner):
    service = unique("ensemble")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service})
    path = instance_path(service, container)
    wait_for(lambda: registered(zk, path), f"{path} to appear")
    try:
        for name in MEMBERS:
            engine.containers.get(name).restart(timeout=2)
        later = run_tiny(engine, owner, {"SERVICE_NAME": service})
        wait_for(
            safe(lambda: registered(zk, instance_path(service, later))),
            "a container started during the restart",
            timeout=120,
        )
        wait_for(safe(lambda: registered(zk, path)), f"{path} after the restart", timeout=120)
    finally:
        restore_cluster()


def test_ensemble_wiped_everything_reregistered(cluster, zk, engine, owner):
    """The harshest restart: members recreated with empty data. Every session is gone (LOST);
    the registrators reconnect, re-elect and re-create every registration."""
    from kazoo.client import KazooClient

    service = unique("wiped")
    containers = [run_tiny(engine, owner, {"SERVICE_NAME": service}) for _ in range(3)]
    paths = [instance_path(service, c) for c in containers]
    for path in paths:
        wait_for(lambda path=path: registered(zk, path), f"{path} to appear")
    try:
        for name in MEMBERS:
            member = engine.containers.get(name)
            mounts = [m["Name"] for m in member.attrs["Mounts"] if m.get("Type") == "volume"]
            member.remove(force=True)
            for volume in mounts:
                engine.volumes.get(volume).remove(force=True)
        restore_cluster()
        # A client that saw the old ensemble's zxids is refused by the new one: read with a new one.
        fresh = KazooClient(hosts=cluster, timeout=10)
        fresh.start(timeout=30)
        try:
            for path in paths:
                wait_for(
                    safe(lambda path=path: registered(fresh, path)),
                    f"{path} re-created on the wiped ensemble",
                    timeout=120,
                )
        finally:
            fresh.stop()
            fresh.close()
        wait_for(lambda: sum(r["role"] == "active" for r in registrators()) == 1, "one active registrator again")
    finally:
        restore_cluster()


def test_containers_started_while_zookeeper_is_down(cluster, zk, engine, owner):
    service = unique("zkdown")
    try:
        for name in MEMBERS:
            engine.containers.get(name).stop(timeout=2)
        started = [run_tiny(engine, owner, {"SERVICE_NAME": service}) for _ in range(2)]
        paths = [instance_path(service, c) for c in started]
    finally:
        restore_cluster()
    for path in paths:
        wait_for(safe(lambda path=path: registered(zk, path)), f"{path} once ZooKeeper is back", timeout=120)
    assert children(zk, f"/services/{service}") == sorted(p.rsplit("/", 1)[1] for p in paths)
