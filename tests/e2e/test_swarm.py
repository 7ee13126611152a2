"""The cluster as a stack on a 3-node Docker Swarm, end to end: `hosts up 3 --swarm` and `cluster up
--swarm` (members pinned one per node, a registrator task per node), Swarm services as the
workload (scaled tasks registered at their node's address and answering there, a task's default
name its service's), `scenario run all` on it, a registrator task killed and restarted by Swarm,
a rolling image update under wrk through the gateway, a node crash with its tasks rescheduled,
secure mode refused in one line, and `cluster down` removing the stack.

The swarm starts once for this file (a project of its own, SVCCTL_TEST_PROJECT-swarm); the tests
run in file order, the node crash late, and the last one takes everything down. Observers are
independent of svcctl: the docker SDK on each node's engine, kazoo on the members, wrk."""

from __future__ import annotations

import json
import threading
import time

import pytest

from bench.wrk import run_wrk
from tests.support import HOSTS_IMAGES, TEST_PROJECT, run_svcctl, stable_port_pair, svcctl_env, wait_for

SWARM_PROJECT = f"{TEST_PROJECT}-swarm"
GATEWAY_PORT = stable_port_pair(SWARM_PROJECT, 21000, 2000)


def swarm_env() -> dict[str, str]:
    env = svcctl_env(SVCCTL_PROJECT=SWARM_PROJECT)
    env.pop("SVCCTL_ZK", None)  # its commands find the members in the recorded layout
    return env


class Swarm:
    def __init__(self, env: dict[str, str], hosts: list[dict]) -> None:
        self.env = env
        self.names = [h["name"] for h in hosts]
        self.addresses = {h["name"]: h["address"] for h in hosts}
        self.zk = ",".join(f"{h['address']}:2181" for h in hosts)

    def engine(self, name: str):
        import os

        from svcctl.config.engines import context_endpoint
        from svcctl.docker.engine import client_for

        return client_for(context_endpoint(name, os.environ), timeout=30)

    def tasks_published(self, service: str = "service_2", skip: tuple[str, ...] = ()) -> dict[str, str]:
        """`<node address>:<port>` -> task container name of each running task of the sample
        service, every node asked (but `skip`)."""
        found = {}
        for name in self.names:
            if name in skip:
                continue
            label = {"label": f"com.docker.swarm.service.name={SWARM_PROJECT}_{service}"}
            for container in self.engine(name).containers.list(filters=label):
                for binding in container.attrs["NetworkSettings"]["Ports"].get("80/tcp") or []:
                    found[f"{self.addresses[name]}:{binding['HostPort']}"] = container.name
        return found


@pytest.fixture(scope="module")
def swarm(images):
    env = swarm_env()
    try:
        hosts = json.loads(
            run_svcctl("hosts", "up", "3", "--swarm", "--images", HOSTS_IMAGES, "--json", env=env, timeout=1200).stdout
        )
        run_svcctl("cluster", "up", "--swarm", "--timeout", "180", env=env, timeout=400)
        yield Swarm(env, hosts)
    finally:
        run_svcctl("gateway", "down", env=env, check=False, timeout=120)
        run_svcctl("cluster", "down", "--volumes", env=env, check=False, timeout=300)
        run_svcctl("hosts", "down", env=env, check=False, timeout=300)


@pytest.fixture(scope="module")
def swarm_zk(swarm):
    from svcctl.config.settings import parse_zk_hosts
    from svcctl.zk.client import zk_session

    with zk_session(parse_zk_hosts(swarm.zk), connect_timeout=30) as client:
        yield client


def answer(endpoint: str, headers: dict[str, str] | None = None) -> str | None:
    """What GET / answers at `endpoint` (HOST:PORT), None when it does not (yet)."""
    import http.client

    host, port = endpoint.rsplit(":", 1)
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", "/", headers=headers or {})
        response = connection.getresponse()
        return response.read().decode().strip() if response.status == 200 else None
    except OSError:
        return None


def children(zk, service: str = "service_2") -> set[str]:
    from kazoo.exceptions import NoNodeError

    try:
        return set(zk.get_children(f"/services/{service}"))
    except NoNodeError:
        return set()


def test_the_cluster_is_a_stack_one_member_per_node(swarm):
    """Members zoo1..zoo3 each a service pinned to its own node and serving there; one
    registrator task per node (mode: global), each elected for its own engine."""
    status = json.loads(run_svcctl("cluster", "status", "--json", env=swarm.env).stdout)
    assert status["health"] == "healthy"
    assert [m["host"] for m in status["members"]] == swarm.names
    assert sorted(m["mode"] for m in status["members"]) == ["follower", "follower", "leader"]
    manager = swarm.engine(swarm.names[0])
    services = {s.name: s.attrs["Spec"] for s in manager.services.list()}
    assert "Global" in services[f"{SWARM_PROJECT}_registrator"]["Mode"]
    for index, name in enumerate(swarm.names, start=1):
        spec = services[f"{SWARM_PROJECT}_zoo{index}"]
        assert spec["TaskTemplate"]["Placement"]["Constraints"] == [f"node.labels.io.svcctl.host == {name}"]
        running = swarm.engine(name).containers.list(
            filters={"label": f"com.docker.swarm.service.name={SWARM_PROJECT}_zoo{index}"}
        )
        assert len(running) == 1, (name, running)

    def registrators() -> list[dict]:
        rows = json.loads(run_svcctl("cluster", "status", "--json", env=swarm.env).stdout)["registrators"]
        return rows if {r["role"] for r in rows} == {"active"} else []

    rows = wait_for(registrators, "every node's registrator task elected", timeout=60, interval=1)
    assert sorted(r["container"] for r in rows) == sorted(f"{n}-registrator" for n in swarm.names)
    assert {r["state"] for r in rows} == {"running"}
    assert len({r["engine"] for r in rows}) == 3  # one election per node's engine


def test_scaled_tasks_register_at_their_node_and_answer_there(swarm, swarm_zk):
    """`scale service_2 4`: four tasks spread over the nodes, each registered as
    /services/service_2/<node address>:<port> and answering there; `ps` agrees."""
    run_svcctl("scale", "service_2", "4", env=swarm.env)
    wait_for(lambda: len(swarm.tasks_published()) == 4, "four running service_2 tasks", timeout=90)
    published = swarm.tasks_published()
    wait_for(lambda: children(swarm_zk) == set(published), f"ZooKeeper to hold {sorted(published)}", timeout=30)
    assert len({address.split(":")[0] for address in published}) == 3  # spread over the three nodes
    for address in published:
        wait_for(lambda a=address: answer(a) == "This is Service 2.", f"{address} to answer", timeout=30)
    rows = json.loads(run_svcctl("ps", "--json", env=swarm.env).stdout)["instances"]
    service_2 = [r for r in rows if r["service"] == "service_2"]
    assert {r["znode"].rsplit("/", 1)[1] for r in service_2} == set(published)
    assert {r["registered"] for r in service_2} == {"yes"}
    assert {r["host"] for r in service_2} == set(swarm.names)


def test_a_task_without_service_name_registers_as_its_service(swarm, swarm_zk):
    """No SERVICE_NAME: a swarm task registers under its service's name (not its image's)."""
    from svcctl.toolkit.images import PHP_SERVICE_2

    name = f"{SWARM_PROJECT}-plain"
    service = swarm.engine(swarm.names[0]).services.create(
        PHP_SERVICE_2.tag,
        name=name,
        endpoint_spec={"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishMode": "host"}]},
        # In the stack's namespace: a named project's registrators register only its own tasks.
        container_labels={"com.docker.stack.namespace": SWARM_PROJECT},
    )
    try:
        wait_for(lambda: len(children(swarm_zk, name)) == 1, f"/services/{name} to get its task", timeout=90)
        assert children(swarm_zk, "php_service_2") == set()
    finally:
        service.remove()
    wait_for(lambda: not children(swarm_zk, name), f"/services/{name} to empty", timeout=60)


def test_a_task_on_an_overlay_registers_its_overlay_address_with_internal(swarm):
    """A registrator run with -internal as a global service registers a task on an attachable
    overlay network by its overlay address and exposed port (its own BASE, so the host-mode
    registry is untouched), and a container on that network on another node reaches it there."""
    import docker.errors

    from svcctl.config.settings import parse_zk_hosts
    from svcctl.toolkit.images import PHP_SERVICE_2
    from svcctl.zk.client import zk_session

    manager = swarm.engine(swarm.names[0])
    namespace = {"com.docker.stack.namespace": SWARM_PROJECT}
    # Not the stack's: `stack rm` would remove it too.
    network = manager.networks.create(f"{SWARM_PROJECT}-overlay", driver="overlay", attachable=True)
    services = []
    try:
        services.append(
            manager.services.create(
                "svcctl/registrator:0.1",
                name=f"{SWARM_PROJECT}-internal-registrator",
                args=[
                    "-internal",
                    "-label-filter",
                    f"com.docker.stack.namespace={SWARM_PROJECT}",
                    f"zookeeper://{swarm.zk}/internal",
                ],
                env=["SVCCTL_REGISTRATOR_ID={{.Node.Hostname}}-internal"],
                mounts=["/var/run/docker.sock:/var/run/docker.sock:ro"],
                networks=["host"],
                mode={"Global": {}},
                container_labels={"SERVICE_IGNORE": "true"},
            )
        )
        web = manager.services.create(
            PHP_SERVICE_2.tag,
            name=f"{SWARM_PROJECT}-overlay-web",
            env=["SERVICE_80_NAME=overlay_web"],
            networks=[network.name],
            container_labels=namespace,
        )
        services.append(web)

        def overlay_address() -> str | None:
            """The running task's address on the overlay, as Swarm allocated it."""
            for task in web.tasks(filters={"desired-state": "running"}):
                for attachment in task.get("NetworksAttachments") or []:
                    if attachment["Network"]["Spec"]["Name"] == network.name and attachment.get("Addresses"):
                        return attachment["Addresses"][0].split("/")[0]
            return None

        address = wait_for(overlay_address, "the overlay task's address", timeout=120)
        with zk_session(parse_zk_hosts(swarm.zk), connect_timeout=30) as zk:
            wait_for(
                lambda: zk.exists("/internal/overlay_web") and zk.get_children("/internal/overlay_web"),
                "the overlay task in /internal",
                timeout=120,
            )
            assert zk.get_children("/internal/overlay_web") == [f"{address}:80"]
            assert not zk.exists("/services/overlay_web")  # not published on a node: not in the host-mode registry
        # bash's /dev/tcp speaks enough HTTP (the image's own healthcheck does the same).
        request = f'exec 3<>/dev/tcp/{address}/80 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3'
        other = swarm.engine(swarm.names[2])

        def answered() -> bool:
            output = other.containers.run(
                PHP_SERVICE_2.tag,
                ["-c", request],
                entrypoint=["bash"],
                network=network.name,
                remove=True,
                labels={"SERVICE_IGNORE": "true"},
            )
            return b"This is Service 2." in output

        # Asked again until it answers in full: the container's output is read once it exits.
        wait_for(answered, f"{address}:80 to answer on the overlay from {swarm.names[2]}", timeout=60, interval=1)
    finally:
        for service in services:
            service.remove()

        def network_removed() -> bool:
            try:
                network.remove()
            except docker.errors.NotFound:
                return True
            except docker.errors.APIError:  # its tasks' endpoints still being removed
                return False
            return True

        wait_for(network_removed, "the overlay network to be removed", timeout=60, interval=1)


def test_scenario_run_all_on_the_swarm(swarm):
    proc = run_svcctl("scenario", "run", "all", "--json", env=swarm.env, check=False, timeout=600)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], report
    steps = report["steps"]
    assert [s["ok"] for s in steps] == [True] * 4
    # step 3: two tasks of service_2, registered at node addresses (not loopback)
    seen = steps[2]["zookeeper"]["service_2"]
    assert len(seen) == 2 and not any(a.startswith("127.") for a in seen)


def test_a_killed_registrator_task_is_restarted_by_swarm(swarm, swarm_zk):
    """`docker kill` of node 1's registrator task: Swarm starts a new task on that node, which
    is elected again; the registry still equals what the nodes run."""
    node = swarm.names[0]
    client = swarm.engine(node)
    label = {"label": f"com.docker.swarm.service.name={SWARM_PROJECT}_registrator"}
    [old] = client.containers.list(filters=label)
    run_svcctl("scale", "service_2", "3", env=swarm.env)
    old.kill()
    killed_at = time.monotonic()

    def new_task():
        running = [c for c in client.containers.list(filters=label) if c.id != old.id]
        return running[0] if running else None

    wait_for(new_task, "Swarm to start a new registrator task on the node", timeout=90)
    restarted_s = time.monotonic() - killed_at

    def elected() -> bool:
        rows = json.loads(run_svcctl("registrator", "status", "--json", env=swarm.env).stdout)
        return any(r["id"] == f"{node}-registrator" and r["role"] == "active" for r in rows)

    wait_for(elected, f"{node}-registrator to be elected again", timeout=60)
    wait_for(lambda: len(swarm.tasks_published()) == 3, "three service_2 tasks", timeout=90)
    wait_for(
        lambda: children(swarm_zk) == set(swarm.tasks_published()), "ZooKeeper to equal the nodes' tasks", timeout=60
    )
    print(f"registrator task killed: a new one running {restarted_s:.1f}s later")


def test_rolling_update_under_wrk_through_the_gateway_fails_no_request(swarm, swarm_zk):
    """`scenario run rolling-update` (start-first `service update --image` there and back) while
    wrk sends through the project's gateway: 0 non-2xx, 0 socket errors; every task replaced."""
    run_svcctl(
        "gateway", "up", "--port", str(GATEWAY_PORT), "--stats-port", str(GATEWAY_PORT + 1), env=swarm.env, timeout=120
    )
    before = set(swarm.tasks_published())
    result: dict = {}
    done = threading.Event()

    def load() -> None:
        try:
            result["wrk"] = run_wrk(
                f"http://127.0.0.1:{GATEWAY_PORT}/", 75, headers={"service_name": "service_2"}, connections=8
            )
        finally:
            done.set()

    wait_for(
        lambda: answer(f"127.0.0.1:{GATEWAY_PORT}", {"service_name": "service_2"}) == "This is Service 2.",
        "the gateway to route service_2",
        timeout=60,
    )
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    time.sleep(3)
    proc = run_svcctl("scenario", "run", "rolling-update", "--json", env=swarm.env, check=False, timeout=600)
    report = json.loads(proc.stdout)
    fault = report["faults"][0]
    assert proc.returncode == 0 and report["ok"], fault["problems"]
    assert fault["gateway"]["sent"] > 100 and fault["gateway"]["failed"] == 0
    assert done.wait(150), "wrk did not finish"
    wrk = result["wrk"]
    assert wrk.requests > 1000, wrk.output
    assert wrk.non_2xx == 0 and wrk.socket_errors == 0, wrk.output
    after = set(swarm.tasks_published())
    assert after and not (after & before)  # every task replaced (there and back)
    wait_for(lambda: children(swarm_zk) == after, "ZooKeeper to equal the new tasks", timeout=30)
    print(
        f"rolling update: wrk {wrk.requests} requests, {wrk.non_2xx} non-2xx, {wrk.socket_errors} socket errors, "
        f"p99 {wrk.p99_ms} ms; update and back in {fault['converge_s']}s"
    )


def test_a_node_crash_reschedules_its_tasks_and_loses_no_request(swarm, swarm_zk):
    """`scenario run host-crash`: a follower's node killed under the consumers' load; Swarm
    starts its tasks on the other nodes, the registry drops the dead ones and holds the new ones;
    0 failed requests."""
    proc = run_svcctl("scenario", "run", "host-crash", "--json", env=swarm.env, check=False, timeout=600)
    report = json.loads(proc.stdout)
    fault = report["faults"][0]
    assert proc.returncode == 0 and report["ok"], fault["problems"]
    assert fault["gateway"]["sent"] > 100 and fault["gateway"]["failed"] == 0, fault["gateway"]
    victim = swarm.addresses[fault["victim"]]
    lost = {a for a in fault["instances_before"] if a.startswith(f"{victim}:")}
    assert lost and len(fault["instances_before"]) == 3
    after = set(swarm.tasks_published())
    assert len(after) == 3 and not (after & lost)
    wait_for(lambda: children(swarm_zk) == after, "ZooKeeper to equal the rescheduled tasks", timeout=60)
    print(
        f"node crash ({fault['victim']}): gateway {fault['gateway']['sent']} sent / {fault['gateway']['failed']} "
        f"failed; its tasks rescheduled and ZooKeeper == Docker {fault['converge_s']}s after the kill"
    )


def test_secure_mode_on_swarm_is_refused_in_one_line(swarm):
    proc = run_svcctl("cluster", "up", "--swarm", "--secure", env=swarm.env, check=False)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "secure mode is not available on Swarm" in line and "--hosts" in line and "Traceback" not in proc.stderr


def test_cluster_down_removes_the_stack(swarm):
    run_svcctl("gateway", "down", env=swarm.env)
    run_svcctl("cluster", "down", "--volumes", env=swarm.env, timeout=300)
    manager = swarm.engine(swarm.names[0])
    assert [
        s.name for s in manager.services.list(filters={"label": f"com.docker.stack.namespace={SWARM_PROJECT}"})
    ] == []
    for name in swarm.names:
        client = swarm.engine(name)
        left = [v.name for v in client.volumes.list() if v.name.startswith(f"{SWARM_PROJECT}_")]
        assert left == [], (name, left)
        running = client.containers.list(filters={"label": f"com.docker.stack.namespace={SWARM_PROJECT}"})
        assert running == [], (name, running)
