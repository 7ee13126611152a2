"""Failover from the consumer's side, against the real engine, ensemble, registrators and HAProxy
(not a test: it prints numbers and ratios to the targets).

1. Each fault scenario (svcctl.walkthrough.faults: registrator-handover, registrator-crash, leader-loss,
   member-loss, instance-kill) `--runs` times (default 3), each under load through a gateway
   and a ServiceCache: per fault the consumer errors (failed requests, both consumers) and the
   longest time an instance that never stopped was missing from the cache (p50 / max over the
   runs), and the time until ZooKeeper equalled Docker again.
2. End-to-end latency a user feels, `--containers` (default 50) responder containers of one
   service started one after the other beside one that keeps running, through an in-process
   gateway: from the engine's `start` event to the first 200 answered by that container through
   the gateway (its X-Svcctl-Instance header), and from `docker kill` to HAProxy no longer
   listing it UP (no new request routed to it).

Targets (2-core machine): start → first 200 p99 <= 250 ms, kill → unroutable p99 <= 100 ms,
0 consumer errors for every fault.

Usage: SVCCTL_PROJECT=... SVCCTL_ZK_PORTS=... SVCCTL_ZK=... python bench/failover.py [--runs 3] [--containers 50]
       [--skip-faults] [--skip-latency]   (a running `svcctl cluster up` of that project)
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.registration import EventRecorder, percentile  # noqa: E402
from svcctl.security.mode import client_tls  # noqa: E402

TARGET_START_P99_MS = 250.0
TARGET_KILL_P99_MS = 100.0
SERVICE = "fo_bench"
LABEL = "svcctl.bench.failover"


def fault_table(runs: int) -> None:
    from svcctl.config.settings import Settings
    from svcctl.walkthrough import faults

    settings = Settings.from_environ(os.environ)
    rows = []
    for fault in faults.parse_faults("faults", over_hosts=settings.layout is not None):
        results = []
        for i in range(runs):
            result = faults.run_fault(settings, fault)
            results.append(result)
            print(
                f"  {fault.name} run {i + 1}: {'OK' if result.ok else 'FAILED ' + '; '.join(result.problems)}",
                flush=True,
            )
        errors = sum(r.gateway.failed + r.cache_calls.failed for r in results)
        sent = sum(r.gateway.sent + r.cache_calls.sent for r in results)
        gaps = [r.max_missing_s * 1000 for r in results]
        converge = [r.converge_s * 1000 for r in results if r.converge_s is not None]
        extra = ""
        if fault.name == "instance-kill":
            out = [r.unroutable_s * 1000 for r in results if r.unroutable_s is not None]
            extra = f"  kill→out of the cache p50 {percentile(out, 50):.0f} ms"
        rows.append((fault.name, runs, sent, errors, percentile(gaps, 50), max(gaps), percentile(converge, 50), extra))
    print("\nfault                  runs    requests  errors  gap p50   gap max   ZK==Docker p50")
    for name, n, sent, errors, p50, top, conv, extra in rows:
        print(f"{name:<22} {n:>4} {sent:>11} {errors:>7} {p50:>6.0f} ms {top:>6.0f} ms {conv:>8.0f} ms{extra}")


def start_responder(engine, image: str, name: str, project: str | None = None):
    """A responder registered as SERVICE; `project`: its Compose project (bench.registration.stack_project)."""
    from testbed.responder import RESPONDER

    scope = {"com.docker.compose.project": project} if project else {}
    return engine.containers.run(
        image,
        ["perl", "-e", RESPONDER],
        detach=True,
        name=name,
        labels={**scope, LABEL: "1"},
        environment={"SERVICE_NAME": SERVICE},
        ports={"8000/tcp": ("127.0.0.1", None)},
    )


def host_address(container) -> str:
    container.reload()
    return f"127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8000/tcp'][0]['HostPort']}"


def through_gateway(port: int) -> str | None:
    """The instance that answered one request through the gateway (None: no 200)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/", headers={"service_name": SERVICE})
        response = conn.getresponse()
        response.read()
        return response.getheader("X-Svcctl-Instance") if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def latency_run(n: int) -> int:

    from svcctl.config.settings import Settings
    from svcctl.consumer.gateway.controller import free_port, run_gateway
    from svcctl.docker.engine import docker_client
    from svcctl.ensemble.project import registered_project
    from svcctl.wait import poll_until
    from testbed.responder import base_image

    settings = Settings.from_environ(os.environ)
    engine = docker_client(
        settings.engine, timeout=120
    )  # the engine svcctl selects (--context, DOCKER_HOST, the current context)
    image = base_image(engine)
    ready = threading.Event()
    stop = threading.Event()
    holder: dict = {}
    port = free_port()

    def on_ready(controller) -> None:
        holder["controller"] = controller
        ready.set()

    log: list[tuple[float, str]] = []
    threading.Thread(
        target=run_gateway,
        args=(settings.zk_hosts, "127.0.0.1", port, 0, lambda m: log.append((time.monotonic(), m)), on_ready, stop),
        kwargs={"tls": client_tls(settings)},
        daemon=True,
    ).start()
    if not ready.wait(30):
        print("the gateway did not start")
        return 1
    controller = holder["controller"]

    def up_servers() -> set[str]:
        try:
            return {
                s["server"]
                for row in controller.status()
                if row["service"] == SERVICE
                for s in row["servers"]
                if s["state"] == "UP"
            }
        except Exception:  # noqa: BLE001 - the runtime API busy for a moment: look again
            return set()

    events = EventRecorder(engine)
    prefix = f"{settings.project}-fo-{uuid.uuid4().hex[:6]}"
    project = registered_project(settings.project)
    anchor = start_responder(engine, image, f"{prefix}-anchor", project)
    start_ms: list[float] = []
    kill_ms: list[float] = []
    cache_ms: list[float] = []  # kill → out of the gateway's cache (ZooKeeper's side of it)
    try:
        anchor_address = host_address(anchor)
        poll_until(lambda: anchor_address in up_servers(), bool, time.monotonic() + 60, 0.05)
        for i in range(n):
            name = f"{prefix}-{i}"
            container = start_responder(engine, image, name, project)
            address = host_address(container)
            answered = poll_until(
                lambda address=address: through_gateway(port) == address, bool, time.monotonic() + 30, 0.002
            )
            first_200 = time.time()
            started = poll_until(lambda name=name: events.times.get((name, "start")), bool, time.monotonic() + 5, 0.01)
            if answered and started:
                start_ms.append((first_200 - started) * 1000)
            killed_at = time.monotonic()
            cached: dict = {}

            # The sampler runs beside this iteration: it gets this container's address and slot as arguments.
            def sample_cache(address: str, cached: dict) -> None:
                poll_until(
                    lambda: address not in {x.address for x in controller.cache.instances(SERVICE)},
                    bool,
                    time.monotonic() + 30,
                    0.001,
                )
                cached["at"] = time.monotonic()

            sampler = threading.Thread(target=sample_cache, args=(address, cached), daemon=True)
            sampler.start()
            container.kill()

            # Unroutable from the moment the runtime API put it in maintenance (the controller logs
            # it right after HAProxy answered): polling `show stat` would measure the poll.
            def out_of_haproxy(killed_at: float = killed_at, address: str = address) -> float | None:
                return next(
                    (
                        t
                        for t, m in list(log)
                        if t >= killed_at and address in m and ("maintenance" in m or "deleted" in m)
                    ),
                    None,
                )

            gone = poll_until(out_of_haproxy, bool, time.monotonic() + 30, 0.002)
            if gone:
                kill_ms.append((gone - killed_at) * 1000)
            sampler.join(timeout=30)
            if "at" in cached:
                cache_ms.append((cached["at"] - killed_at) * 1000)
            container.remove(force=True)
            print(
                f"  container {i + 1}/{n}: start→200 {start_ms[-1] if start_ms else float('nan'):.0f} ms, "
                f"kill→unroutable {kill_ms[-1] if kill_ms else float('nan'):.0f} ms (out of the cache "
                f"{cache_ms[-1] if cache_ms else float('nan'):.0f} ms)",
                flush=True,
            )
    finally:
        stop.set()
        events.close()
        for container in engine.containers.list(all=True, filters={"label": LABEL}):
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001 - gone already
                pass
    for label, values, target in (
        ("start → first 200 through the gateway", start_ms, TARGET_START_P99_MS),
        ("kill → unroutable (HAProxy's server in maintenance)", kill_ms, TARGET_KILL_P99_MS),
        ("kill → out of the gateway's cache", cache_ms, TARGET_KILL_P99_MS),
    ):
        if not values:
            print(f"{label}: no sample")
            continue
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(
            f"{label}: n={len(values)} p50={p50:.0f} ms p99={p99:.0f} ms max={max(values):.0f} ms | "
            f"p99/target={p99 / target:.2f} "
            f"({'OK' if p99 <= target else 'MISSED'} target p99 <= {target:.0f} ms)"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    if not args.skip_faults:
        print(f"fault scenarios, {args.runs} runs each:", flush=True)
        fault_table(args.runs)
    if not args.skip_latency:
        print(f"\nstart/kill latency through the gateway, {args.containers} containers:", flush=True)
        return latency_run(args.containers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
