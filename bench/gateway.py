"""The gateway (HAProxy fed from ZooKeeper) against direct calls to one instance, with `wrk`, in
the same run (loopback only).

Default mode: one php_service_2 instance (a container the registrators ignore, registered under
the bench's own ZooKeeper session), `svcctl gateway` in the foreground on free ports, then
`--runs` consecutive rounds of wrk direct and through the gateway. Targets: gateway/direct
req/s >= 0.8, added p99 latency <= 2 ms, and the same on the third round (upstream connections
are reused, not left in TIME-WAIT by the tens of thousands; HAProxy's connect/reuse counters
are printed).

`--scale`: 20 s of wrk through the gateway while the project's service_2 scales 1 -> 3 -> 1
(`svcctl scale`, the real registrators); target: zero non-2xx responses, zero socket errors.

Uses the environment's stack (SVCCTL_PROJECT, SVCCTL_ZK ...); the ensemble must be up
(`svcctl cluster up`), and for --scale its registrators too. Everything started is removed.
Usage: python bench/gateway.py [--seconds 8] [--runs 3] [--threads 2] [--connections 16] [--scale [--timeout 2]]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "cli"))
sys.path.insert(0, str(ROOT))

from bench.wrk import WrkResult, run_wrk  # noqa: E402
from svcctl.config.settings import default_zk_connect  # noqa: E402
from svcctl.registry.model import Registration  # noqa: E402
from svcctl.registry.payload import RegistrationPayload  # noqa: E402

SVCCTL = str(Path(sys.executable).with_name("svcctl"))
IMAGE = "php_service_2:1.0"
RATIO_TARGET, ADDED_P99_TARGET_MS = 0.8, 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port: int, headers: dict[str, str]) -> int:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/", headers=headers)
        code = conn.getresponse().status
        conn.close()
        return code
    except (OSError, http.client.HTTPException):
        return -1


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def time_wait_sockets() -> int:
    proc = subprocess.run(["ss", "-tan", "state", "time-wait"], capture_output=True, text=True)
    return max(0, len(proc.stdout.splitlines()) - 1)


def reuse_counters(stats_port: int, backend: str) -> tuple[int, int]:
    """HAProxy's (connect, reuse) totals of the service's backend, from the stats CSV."""
    conn = http.client.HTTPConnection("127.0.0.1", stats_port, timeout=5)
    conn.request("GET", "/;csv;norefresh")
    lines = conn.getresponse().read().decode().splitlines()
    header = lines[0][2:].split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("svname") == "BACKEND" and row.get("pxname") == backend:
            return int(row.get("connect") or 0), int(row.get("reuse") or 0)
    return 0, 0


def start_gateway(env: dict[str, str]) -> tuple[subprocess.Popen, int, int]:
    port, stats_port = free_port(), free_port()
    proc = subprocess.Popen(
        [SVCCTL, "gateway", "--port", str(port), "--stats-port", str(stats_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return proc, port, stats_port


def line(label: str, result: WrkResult) -> str:
    errors = (
        f"  non-2xx {result.non_2xx}, socket errors {result.socket_errors} ({result.socket_errors_by_kind})"
        if result.failed
        else ""
    )
    return (
        f"  {label:<8} {result.requests_per_s:9.0f} req/s   p50 {result.p50_ms:6.2f} ms   "
        f"p99 {result.p99_ms:6.2f} ms{errors}"
    )


def compare(args: argparse.Namespace) -> int:
    import docker
    from kazoo.client import KazooClient

    engine = docker.from_env()
    service = f"bench_{uuid.uuid4().hex[:6]}"
    container = engine.containers.run(
        IMAGE,
        detach=True,
        name=f"svcctl-bench-{service}",
        ports={"80/tcp": ("127.0.0.1", None)},
        environment={"SERVICE_IGNORE": "1"},
        labels={"SERVICE_IGNORE": "true"},
    )
    zk = KazooClient(hosts=os.environ.get("SVCCTL_ZK", default_zk_connect()), timeout=10)
    gateway = None
    try:
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        wait_until(lambda: status(port, {}) == 200, "the instance to answer")
        zk.start(timeout=15)
        # Stamped with no engine: no registrator reconciles it (this session owns it).
        reg = Registration(service, "127.0.0.1", port, 80, "tcp", container.id, container.id[:12], container.name)
        data = RegistrationPayload.of(reg, None, "bench", time.time()).encode()
        zk.create(f"/services/{service}/127.0.0.1:{port}", data, ephemeral=True, makepath=True)
        gateway, gw_port, stats_port = start_gateway(os.environ.copy())
        headers = {"service_name": service}
        wait_until(lambda: status(gw_port, headers) == 200, "the gateway to route the bench service")
        print(
            f"one {IMAGE} instance at 127.0.0.1:{port}; gateway 127.0.0.1:{gw_port} (HAProxy, stats "
            f"127.0.0.1:{stats_port}); "
            f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s per path, {args.runs} rounds; "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        run_wrk(f"http://127.0.0.1:{port}/", 2, threads=args.threads, connections=args.connections)  # warm-up
        failed = False
        ratio = added = 0.0
        for round_no in range(1, args.runs + 1):
            direct = run_wrk(
                f"http://127.0.0.1:{port}/", args.seconds, threads=args.threads, connections=args.connections
            )
            via = run_wrk(
                f"http://127.0.0.1:{gw_port}/",
                args.seconds,
                headers,
                threads=args.threads,
                connections=args.connections,
            )
            ratio, added = via.requests_per_s / direct.requests_per_s, via.p99_ms - direct.p99_ms
            connects, reuses = reuse_counters(stats_port, f"svc.{service}")
            print(f"round {round_no}:")
            print(line("direct", direct))
            print(line("gateway", via))
            print(
                f"  ratio gateway/direct {ratio:.2f} (target >= {RATIO_TARGET}); added p99 {added:+.2f} ms (target <= "
                f"{ADDED_P99_TARGET_MS}); "
                f"HAProxy upstream connects {connects} / reuses {reuses}; TIME-WAIT sockets {time_wait_sockets()}"
            )
            failed = failed or via.failed > 0 or direct.failed > 0
        verdict = "meets" if ratio >= RATIO_TARGET and added <= ADDED_P99_TARGET_MS else "misses"
        print(
            f"round {args.runs} (the figure to quote): ratio {ratio:.2f}, added p99 {added:+.2f} ms: "
            f"{verdict} the targets"
        )
        return 1 if failed else 0
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(timeout=30)
        if zk.connected:
            zk.delete(f"/services/{service}", recursive=True)
            zk.stop()
        zk.close()
        container.remove(force=True)


def scale(args: argparse.Namespace) -> int:
    env = os.environ.copy()

    def svcctl(*argv: str) -> None:
        subprocess.run([SVCCTL, *argv], check=True, capture_output=True, env=env, timeout=300)

    svcctl("scale", "service_2", "1")
    gateway, gw_port, _stats = start_gateway(env)
    headers = {"service_name": "service_2"}
    try:
        wait_until(lambda: status(gw_port, headers) == 200, "the gateway to route service_2", 120)
        result: list[WrkResult] = []
        load = threading.Thread(
            target=lambda: result.append(
                run_wrk(
                    f"http://127.0.0.1:{gw_port}/",
                    20,
                    headers,
                    threads=args.threads,
                    connections=args.connections,
                    timeout=args.timeout,
                )
            )
        )
        started = time.monotonic()
        load.start()
        steps = []
        # Up early, down as soon as the three run (a busy machine makes `scale` slow).
        for at, count in ((1, 3), (8, 1)):
            time.sleep(max(0.0, started + at - time.monotonic()))
            svcctl("scale", "service_2", str(count))
            steps.append(f"{count} at {time.monotonic() - started:.1f} s")
        load.join()
        if time.monotonic() - started > 21:
            print("note: the scaling outlasted the 20 s of load (a busy machine); part of it ran without load")
        (res,) = result
        print(
            f"20 s of wrk -t{args.threads} -c{args.connections} through the gateway while service_2 scaled 1 -> 3 -> 1 "
            f"(scale done: {', '.join(steps)}); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        print(line("gateway", res))
        print(
            f"non-2xx responses {res.non_2xx}, socket errors {res.socket_errors} (target: zero): "
            f"{'meets' if res.failed == 0 else 'misses'} the target"
        )
        return 0 if res.failed == 0 else 1
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per path and round")
    parser.add_argument("--runs", type=int, default=3, help="consecutive rounds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--scale", action="store_true", help="20 s through the gateway while service_2 scales 1 -> 3 -> 1"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        help="--scale: seconds after which wrk counts a response as a socket error (timeout)",
    )
    args = parser.parse_args()
    return scale(args) if args.scale else compare(args)


if __name__ == "__main__":
    sys.exit(main())
