"""The cluster as a stack on a 3-node Docker Swarm, timed (not a test: it prints numbers and ratios).

1. `svcctl hosts up 3 --swarm` and `svcctl cluster up --swarm` to quorum, each timed.
2. Registration latency of swarm tasks: a replicated service of the tiny image scaled 0 -> N
   (default 20) at once, each task's engine `start` event (on its own node) -> its znode, beside
   plain containers started one by one on host 2 (the same node's registrator, the same
   ensemble), in the same run: p50/p99 and the ratio of the p99s. A scale is a burst the
   scheduler spreads over the nodes; the plain containers are a sequence on one engine.
3. Node crash: host 3 killed with its tasks; the time until Swarm's replacements run elsewhere
   and the registry holds exactly the running tasks again (the registrators' session timeout and
   Swarm's own node-down detection are both in it).

The hosts run in a project of their own, `<SVCCTL_PROJECT>-bench-swarm`, removed at the end
unless --keep.

Usage: python bench/swarm.py [--tasks 20] [--containers 20] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from hosts import timed  # noqa: E402
from registration import EventRecorder, ZnodeClock, latency_run, percentile, report, warm_up  # noqa: E402

from testbed.tiny import LABEL, TINY_TAG, build_tiny, remove_all  # noqa: E402

SVCCTL = str(Path(sys.executable).with_name("svcctl"))
HOST_IMAGES = "zookeeper,registrator"


def task_keys(clients: dict[str, object], addresses: dict[str, str], service: str) -> dict[str, str]:
    """Task container name -> `<node address>:<host port>` of every running task of `service`."""
    keys = {}
    for host, client in clients.items():
        for container in client.containers.list(filters={"label": f"com.docker.swarm.service.name={service}"}):
            bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp") or []
            if bindings:
                keys[container.name] = f"{addresses[host]}:{bindings[0]['HostPort']}"
    return keys


def tasks_run(
    clients: dict[str, object], addresses: dict[str, str], manager, zk, n: int, scope: dict[str, str]
) -> list[float]:
    """A service of the tiny image scaled 0 -> n: start event -> znode per task, in ms."""
    import docker.types

    service_name = f"bench_tasks_{uuid.uuid4().hex[:6]}"
    clock = ZnodeClock(zk, f"/services/{service_name}")
    recorders = {host: EventRecorder(client) for host, client in clients.items()}
    service = manager.services.create(
        TINY_TAG,
        name=service_name,
        endpoint_spec=docker.types.EndpointSpec(ports=[{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}]),
        mode=docker.types.ServiceMode("replicated", replicas=0),
        container_labels=scope,
    )
    try:
        started = time.monotonic()
        subprocess.run(
            ["docker", "--context", next(iter(clients)), "service", "scale", "--detach", f"{service_name}={n}"],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 120
        while len(clock.appeared) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        all_in = time.monotonic() - started
        keys = task_keys(clients, addresses, service_name)
        events = {k: v for recorder in recorders.values() for k, v in recorder.times.items()}
        up = [
            (clock.appeared[key] - events[(name, "start")]) * 1000
            for name, key in keys.items()
            if key in clock.appeared
        ]
        per_node = {h: sum(k.startswith(f"{a}:") for k in keys.values()) for h, a in addresses.items()}
        print(
            f"swarm tasks: scale 0 -> {n}, registered {len(clock.appeared)}/{n} within {all_in:.1f} s of the scale "
            f"command; per node {per_node}"
        )
        report("tasks: start event (its node) -> znode created", up)
        return up
    finally:
        service.remove()
        for recorder in recorders.values():
            recorder.close()


def node_crash_run(env: dict[str, str], clients: dict[str, object], addresses: dict[str, str], zk, victim: str) -> None:
    """Host `victim` killed with its tasks: seconds until the registry equals the running tasks."""
    project = env["SVCCTL_PROJECT"]
    service = f"{project}_service_2"
    subprocess.run([SVCCTL, "scale", "service_2", "3"], env=env, check=True, capture_output=True)
    survivors = {h: c for h, c in clients.items() if h != victim}

    def running() -> set[str]:
        found = set()
        for host, client in survivors.items():
            for container in client.containers.list(filters={"label": f"com.docker.swarm.service.name={service}"}):
                for binding in container.attrs["NetworkSettings"]["Ports"].get("80/tcp") or []:
                    found.add(f"{addresses[host]}:{binding['HostPort']}")
        return found

    def registered() -> set[str]:
        return set(zk.get_children("/services/service_2")) if zk.exists("/services/service_2") else set()

    deadline = time.monotonic() + 90
    while not (len(registered()) == 3 and any(k.startswith(f"{addresses[victim]}:") for k in registered())):
        if time.monotonic() > deadline:
            raise SystemExit("service_2's three tasks (one on the victim) never registered")
        time.sleep(0.2)
    killed = time.monotonic()
    subprocess.run([SVCCTL, "hosts", "stop", victim], env=env, check=True, capture_output=True)
    rescheduled = None
    while time.monotonic() < killed + 180:
        now = running()
        if rescheduled is None and len(now) == 3:
            rescheduled = time.monotonic() - killed
        if len(now) == 3 and registered() == now:
            break
        time.sleep(0.2)
    else:
        raise SystemExit("the registry never equalled the rescheduled tasks")
    print(
        f"node crash ({victim}): tasks running elsewhere {rescheduled:.1f} s after the kill, registry == tasks "
        f"{time.monotonic() - killed:.1f} s after it (session timeout 10 s + Swarm's node-down detection)"
    )
    subprocess.run([SVCCTL, "hosts", "start", victim], env=env, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the hosts and their cluster running")
    args = parser.parse_args()

    import docker

    from svcctl.config.engines import context_endpoint
    from svcctl.config.settings import DEFAULT_PROJECT, parse_zk_hosts
    from svcctl.docker.engine import client_for
    from svcctl.zk.client import zk_session

    project = f"{os.environ.get('SVCCTL_PROJECT', DEFAULT_PROJECT)}-bench-swarm"
    env = {**os.environ, "SVCCTL_PROJECT": project}
    env.pop("SVCCTL_ZK", None)
    local = docker.from_env(timeout=120)
    build_tiny(local)
    owner = f"bench-{uuid.uuid4().hex[:6]}"
    print(
        f"engine {local.version()['Version']}, {os.cpu_count()} cores, swarm project {project}, label {LABEL}={owner}"
    )
    clients: dict[str, object] = {}
    try:
        up_s, out = timed(["hosts", "up", "3", "--swarm", "--images", HOST_IMAGES + ",php_service_2", "--json"], env)
        hosts = json.loads(out)
        print(f"hosts up 3 --swarm (engines, contexts, images, the swarm formed): {up_s:.1f} s")
        cluster_s, _ = timed(["cluster", "up", "--swarm", "--timeout", "300"], env)
        print(f"cluster up --swarm (stack deployed) to quorum: {cluster_s:.1f} s")
        addresses = {h["name"]: h["address"] for h in hosts}
        clients = {h["name"]: client_for(context_endpoint(h["name"], os.environ), timeout=120) for h in hosts}
        saved = subprocess.run(["docker", "save", TINY_TAG], capture_output=True, check=True).stdout
        for client in clients.values():
            client.images.load(saved)
        host2 = hosts[1]
        with zk_session(parse_zk_hosts(",".join(f"{a}:2181" for a in addresses.values())), connect_timeout=30) as zk:
            # In the stack's namespace: a named project's registrators register only its own.
            scope = {"com.docker.stack.namespace": project}
            warm_up(clients[host2["name"]], zk, owner, labels=scope)
            plain, _ = latency_run(
                clients[host2["name"]],
                zk,
                args.containers,
                owner,
                address=host2["address"],
                label=f"{host2['name']}: ",
                labels=scope,
            )
            tasks = tasks_run(clients, addresses, clients[hosts[0]["name"]], zk, args.tasks, scope)
            plain_p99, tasks_p99 = percentile(plain, 99), percentile(tasks, 99)
            print(
                f"registration p99 (start event -> znode): swarm tasks {tasks_p99:.1f} ms vs plain containers "
                f"{plain_p99:.1f} ms | ratio tasks/plain = {tasks_p99 / plain_p99:.2f}"
            )
            node_crash_run(env, clients, addresses, zk, hosts[2]["name"])
    finally:
        for client in clients.values():
            remove_all(client, owner)
        if not args.keep:
            subprocess.run([SVCCTL, "cluster", "down", "--volumes"], env=env)
            subprocess.run([SVCCTL, "hosts", "down"], env=env)


if __name__ == "__main__":
    main()
