"""Registration latency and resync time, measured against the real engine, the real ensemble
and the real registrators (not a test: it prints numbers and ratios to the targets).

1. Starts N tiny containers (default 50) one after the other, each publishing one port on
   127.0.0.1, and measures with ZooKeeper watches the delay from the engine's `start` event to
   the znode's appearance; then kills them and measures the delay to the znode's removal from
   the container's first `kill` or `die` event: the registrator deregisters at the `kill`
   event of a terminating signal (a stopping server drains from the signal on), which the
   engine emits before `die`; `die` counts only if no `kill` was seen.
2. Resync from an empty tree: stops every registrator, starts M containers (default 200) while
   none runs (so BASE holds none of their nodes), starts ONE registrator and measures from its
   election (its log line) to the last of the M znodes appearing.
3. Burst (`--burst N`): starts N tiny containers from 8 threads at once, waits for their
   registrations, then kills them from 8 threads at once; the same two delays (start event ->
   znode, first of kill/die -> removal) as p50/p95/p99/max, plus lost adds (never registered)
   and stale nodes (still there `--stale-after` seconds after the kills). With
   `--upstream-image IMAGE` an upstream gliderlabs/registrator container (host network, engine
   socket, `-ip 127.0.0.1 zookeeper://<first member>/upstream`) runs DURING the same burst and
   its tree is watched too, so its figures and the ratios ours/upstream come from the same
   containers and the same engine events (goal: add p99 and remove p99 <= 0.8x upstream's).

Targets (2-core machine): p99 <= 100 ms for both delays, resync of 200 <= 2 s. Removal times
measured from `kill` are not comparable with those of versions that measured from `die`.

--secure: the sequential latency run again on the secured twin (bench/secure_stack.py: TLS,
ACLs, registrators behind the Docker API proxy), its p99 printed beside the open cluster's.

Usage: SVCCTL_PROJECT=... SVCCTL_ZK=... python bench/registration.py [--containers 50] [--resync-containers 200]
       [--skip-sequential] [--skip-resync] [--burst N [--upstream-image IMAGE] [--stale-after S]] [--secure]
"""

from __future__ import annotations

import argparse
import calendar
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed.tiny import LABEL, build_tiny, remove_all, run_tiny  # noqa: E402

TARGET_P99_MS = 100.0
TARGET_RESYNC_200_S = 2.0
TARGET_BURST_RATIO = 0.8  # ours/upstream, add p99 and remove p99 of the burst
BURST_THREADS = 8
UPSTREAM_BASE = "/upstream"
UPSTREAM_TROUBLE = ("failed", "unable", "error", "could not", "not removing")  # words of upstream's error lines


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(label: str, values_ms: list[float]) -> None:
    p50, p95, p99 = (percentile(values_ms, q) for q in (50, 95, 99))
    print(
        f"{label}: n={len(values_ms)} p50={p50:.1f} ms p95={p95:.1f} ms p99={p99:.1f} ms max={max(values_ms):.1f} ms "
        f"| p99/target={p99 / TARGET_P99_MS:.2f} ({'OK' if p99 <= TARGET_P99_MS else 'MISSED'} target p99 <= "
        f"{TARGET_P99_MS:.0f} ms)"
    )


class ZnodeClock:
    """Records when each znode under BASE/<service> appears and disappears (child watches)."""

    def __init__(self, zk, service_path: str) -> None:
        self.zk = zk
        self.path = service_path
        self.appeared: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        self.known: set[str] = set()
        self.lock = threading.Lock()
        zk.ensure_path(
            service_path
        )  # persistent parent watched from the start (empty at the end: the registrator removes it)
        self._watch()

    def _watch(self) -> None:
        from kazoo.exceptions import NoNodeError

        def on_change(_event=None) -> None:
            now = time.time()
            try:
                kids = set(self.zk.get_children(self.path, watch=on_change))
            except NoNodeError:
                kids = set()
                try:
                    self.zk.exists(self.path, watch=on_change)
                except Exception:  # the bench is ending
                    return
            except Exception:  # the bench is ending
                return
            with self.lock:
                for kid in kids - self.known:
                    self.appeared.setdefault(kid, now)
                for kid in self.known - kids:
                    self.gone.setdefault(kid, now)
                self.known = kids

        on_change()


class EventRecorder:
    """(container name, action) → the engine's event time, recorded live (the engine keeps
    only its last 256 events, too few to query afterwards with other stacks running)."""

    def __init__(self, engine) -> None:
        self.times: dict[tuple[str, str], float] = {}
        self.stream = engine.events(decode=True, filters={"type": "container"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                name = (event.get("Actor") or {}).get("Attributes", {}).get("name")
                self.times.setdefault((name, event.get("Action")), int(event["timeNano"]) / 1e9)
        except Exception:  # closed at the end
            pass

    def close(self) -> None:
        self.stream.close()


def delays(
    ports: dict[str, str], events: dict[tuple[str, str], float], clock: ZnodeClock
) -> tuple[list[float], list[float], int]:
    """(start event -> znode created, first of kill/die -> znode removed) in ms for the containers
    `ports` maps (name -> znode name), and how many znodes were gone before the die event."""
    up = [
        (clock.appeared[port] - events[(name, "start")]) * 1000
        for name, port in ports.items()
        if port in clock.appeared and (name, "start") in events
    ]
    down, before_die = [], 0
    for name, port in ports.items():
        # From the first of kill/die: the registrator acts on a terminating kill's event.
        stops = [events[(name, a)] for a in ("kill", "die") if (name, a) in events]
        if port in clock.gone and stops:
            down.append((clock.gone[port] - min(stops)) * 1000)
            before_die += (name, "die") in events and clock.gone[port] < events[(name, "die")]
    return up, down, before_die


def upstream_service_path(service: str) -> str:
    """Where upstream registers a tiny container named by SERVICE_NAME: it suffixes `-<port>`
    whenever the container has more than one port, published or only exposed (the tiny image
    exposes three and publishes one)."""
    return f"{UPSTREAM_BASE}/{service}-8080"


def stack_project(project: str | None = None) -> str | None:
    """The Compose project a bench container must carry for the stack's registrators to register
    it: a named project's registrators register only its own (None: the default project's
    register every container). `project` left out: the environment's SVCCTL_PROJECT."""
    from svcctl.config.settings import Settings
    from svcctl.ensemble.project import registered_project

    return registered_project(project or Settings.from_environ(os.environ).project)


def warm_up(
    engine, zk, owner: str, upstream: bool = False, project: str | None = None, labels: dict[str, str] | None = None
) -> None:
    """Wait until a registrator is active and registering (after a restart it must first wait
    out the dead sessions of its predecessors); with `upstream`, until upstream's does too.
    `project`: the containers' Compose project (stack_project); `labels`: more of theirs (a swarm
    stack's namespace, for its registrators' scope)."""
    service = f"warmup_{uuid.uuid4().hex[:8]}"
    probe = run_tiny(engine, owner, {"SERVICE_NAME": service}, project=project, labels=labels)
    paths = [f"/services/{service}"] + ([upstream_service_path(service)] if upstream else [])
    deadline = time.time() + 120
    while not all(zk.exists(path) and zk.get_children(path) for path in paths):
        if time.time() > deadline:
            raise SystemExit(
                f"nothing registers {' and '.join(paths)}: is the cluster up (svcctl cluster up)"
                + (" and does the upstream registrator run (docker logs)?" if upstream else "?")
            )
        time.sleep(0.1)
    probe.remove(force=True)


def latency_run(
    engine,
    zk,
    n: int,
    owner: str,
    address: str = "127.0.0.1",
    label: str = "",
    project: str | None = None,
    labels: dict[str, str] | None = None,
) -> tuple[list[float], list[float]]:
    """N containers (of Compose project `project`: stack_project) publishing on `address` (the
    engine's): start -> znode and kill/die -> gone delays in ms, printed and returned."""
    service = f"bench_{uuid.uuid4().hex[:8]}"
    clock = ZnodeClock(zk, f"/services/{service}")
    recorder = EventRecorder(engine)
    containers = []
    for _ in range(n):
        containers.append(
            run_tiny(engine, owner, {"SERVICE_NAME": service}, host_ip=address, project=project, labels=labels)
        )
    ports = {}
    for c in containers:
        c.reload()
        ports[c.name] = f"{address}:{c.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}"
    deadline = time.time() + 30
    while len(clock.appeared) < n and time.time() < deadline:
        time.sleep(0.05)
    for c in containers:
        c.kill()
    deadline = time.time() + 30
    while len(clock.gone) < n and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    recorder.close()
    up, down, before_die = delays(ports, recorder.times, clock)
    print(
        f"{label}containers: {n} (one published port each), registered {len(clock.appeared)}/{n}, removed "
        f"{len(clock.gone)}/{n}"
    )
    report(f"{label}start event         -> znode created", up)
    report(f"{label}first of kill/die   -> znode removed", down)
    print(
        f"  (removal measured from the first of the engine's kill/die events: deregistration happens at the kill; "
        f"{before_die}/{len(down)} znodes were gone before the die event)"
    )
    for c in containers:
        c.remove(force=True)
    return up, down


class BurstSide:
    """One registrator's view of the burst: its znodes' clock on a ZooKeeper client of its own
    (so neither side's watch callbacks wait behind the other's)."""

    def __init__(self, label: str, zk_hosts: str, service_path: str) -> None:
        self.label = label
        self.zk = connect(zk_hosts)
        self.clock = ZnodeClock(self.zk, service_path)

    def waiting(self, ports: list[str], gone: bool) -> int:
        """How many of `ports` have not yet appeared (or, with `gone`, not yet disappeared)."""
        with self.clock.lock:
            seen = self.clock.gone if gone else self.clock.appeared
            return sum(port not in seen for port in ports)

    def still_there(self, ports: list[str]) -> int:
        from kazoo.exceptions import NoNodeError

        try:
            present = set(self.zk.get_children(self.clock.path))
        except NoNodeError:
            present = set()
        return sum(port in present for port in ports)

    def close(self) -> None:
        from kazoo.exceptions import KazooException

        try:  # the watched service node, if nothing is left under it (upstream may leave it)
            if self.zk.exists(self.clock.path) and not self.zk.get_children(self.clock.path):
                self.zk.delete(self.clock.path)
        except KazooException:  # re-registered or removed meanwhile
            pass
        self.zk.stop()
        self.zk.close()


def connect(hosts: str):
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    return zk


def start_upstream(engine, image: str, member: str, owner: str):
    """gliderlabs/registrator as its README runs it, on one member (upstream takes one host)."""
    import docker

    try:  # a local image only: containers.run would try to pull a missing one
        engine.images.get(image)
    except docker.errors.ImageNotFound:
        raise SystemExit(f"no local image {image}: build the upstream registrator locally first") from None
    others = [c.name for c in engine.containers.list(filters={"ancestor": image})]
    if others:  # two upstreams writing the same nodes would blur each other's figures
        raise SystemExit(f"{image} already runs ({', '.join(others)}): remove it first, the bench starts its own")
    return engine.containers.run(
        image,
        command=["-ip", "127.0.0.1", f"zookeeper://{member}{UPSTREAM_BASE}"],
        detach=True,
        name=f"{owner}-upstream",
        labels={LABEL: owner},  # removed with the bench's containers
        network_mode="host",
        volumes={"/var/run/docker.sock": {"bind": "/tmp/docker.sock", "mode": "rw"}},
    )


def upstream_trouble(container, since: float) -> Counter:
    """Upstream's complaints since `since`, ids and paths blanked, so lost and stale nodes come
    with upstream's own reason."""
    counts: Counter = Counter()
    for line in container.logs(since=int(since)).decode(errors="replace").splitlines():
        message = line.split(" ", 2)[-1]  # after the date and time
        if any(word in message for word in UPSTREAM_TROUBLE):
            message = re.sub(r"'[^']*'", "'…'", re.sub(r"\b[0-9a-f]{12,64}\b", "<id>", message))
            counts[re.sub(r"&\{.*\}", "<service>", message)[:120]] += 1
    return counts


def burst_run(
    engine, zk_hosts: str, n: int, owner: str, upstream, stale_after: float, project: str | None = None
) -> None:
    """N containers started from 8 threads at once, then killed the same way; with `upstream`
    (its running container) upstream's tree is watched beside ours."""
    service = f"burst_{uuid.uuid4().hex[:8]}"
    sides = [BurstSide("ours", zk_hosts, f"/services/{service}")]
    if upstream is not None:
        sides.append(BurstSide("upstream", zk_hosts, upstream_service_path(service)))
    recorder = EventRecorder(engine)
    pool = ThreadPoolExecutor(BURST_THREADS)
    try:
        began = time.time()
        containers = list(
            pool.map(lambda _: run_tiny(engine, owner, {"SERVICE_NAME": service}, project=project), range(n))
        )
        started = time.time()
        list(pool.map(lambda c: c.reload(), containers))
        ports = {
            c.name: f"127.0.0.1:{c.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}" for c in containers
        }
        deadline = time.time() + 30
        while any(side.waiting(list(ports.values()), gone=False) for side in sides) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # late watch callbacks
        kill_began = time.time()
        list(pool.map(lambda c: c.kill(), containers))
        killed = time.time()
        deadline = killed + stale_after
        while any(side.waiting(list(ports.values()), gone=True) for side in sides) and time.time() < deadline:
            time.sleep(0.05)
        # Stale means still there S seconds after the kills (a late re-registration counts too).
        time.sleep(max(0.0, deadline - time.time()))
        stale = {side.label: side.still_there(list(ports.values())) for side in sides}
        recorder.close()
        print(
            f"burst: {n} containers started by {BURST_THREADS} threads in {started - began:.2f} s, "
            f"killed by {BURST_THREADS} threads in {killed - kill_began:.2f} s (events recorded live)"
        )
        figures = {}
        for side in sides:
            up, down, _ = delays(ports, recorder.times, side.clock)
            figures[side.label] = (up, down)
            lost = sum(port not in side.clock.appeared for port in ports.values())
            print(
                f"  {side.label:<8} registered {n - lost}/{n} (lost adds: {lost}), removed {len(down)}/{n}, "
                f"stale {stale_after:.0f} s after the kills: {stale[side.label]}"
            )
        print_burst_table(figures)
        if upstream is not None:
            trouble = upstream_trouble(upstream, began - 1)
            print(
                f"  upstream's log during the burst (every container of the engine): "
                f"{sum(trouble.values())} error lines" + (":" if trouble else "")
            )
            for message, count in trouble.most_common(6):
                print(f"    {count:4d}x {message}")
        list(pool.map(lambda c: c.remove(force=True), containers))
    finally:
        pool.shutdown()
        for side in sides:
            side.close()


def print_burst_table(figures: dict[str, tuple[list[float], list[float]]]) -> None:
    labels = list(figures)
    header = f"  {'delay (ms)':<36}" + "".join(f"{label:>44}" for label in labels)
    if "upstream" in figures:
        header += f"{'ours/upstream':>16}"
    print(header)
    for index, what in ((0, "start event       -> znode created"), (1, "first of kill/die -> znode removed")):
        cells, p99s = [], {}
        for label in labels:
            values = figures[label][index]
            if values:
                p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
                p99s[label] = p99
                cells.append(f"p50 {p50:5.0f} p95 {p95:5.0f} p99 {p99:5.0f} max {max(values):5.0f}")
            else:
                cells.append("no measurement")
        line = f"  {what:<36}" + "".join(f"{cell:>44}" for cell in cells)
        if "upstream" in figures:
            if p99s.get("upstream") and "ours" in p99s:
                ratio = p99s["ours"] / p99s["upstream"]
                line += f"{f'p99 x{ratio:.2f}':>12} {'OK' if ratio <= TARGET_BURST_RATIO else 'MISSED'}"
            else:
                line += f"{'n/a':>16}"
        print(line)
    if "upstream" in figures:
        print(
            f"  goal: ours/upstream p99 <= {TARGET_BURST_RATIO}x for both delays, zero lost and zero stale (same "
            "containers, same engine events)"
        )
    else:
        print(
            "  no same-run reference measured: pass --upstream-image IMAGE for upstream's figures and the ratios "
            "ours/upstream"
        )


def registrator_names() -> list[str]:
    from svcctl.config.settings import Settings
    from svcctl.ensemble.project import REGISTRATOR_SERVICES, container_prefix

    prefix = container_prefix(Settings.from_environ(os.environ).project)
    return [f"{prefix}{s}" for s in REGISTRATOR_SERVICES]


def resync_run(engine, zk, m: int, owner: str, project: str | None = None) -> None:
    """M containers running, no registrator: an empty tree. One registrator starts, wins the
    election and registers all M in its first resync."""
    service = f"resync_{uuid.uuid4().hex[:8]}"
    names = registrator_names()
    for name in names:
        engine.containers.get(name).stop(timeout=15)
    try:
        for _ in range(m):
            run_tiny(engine, owner, {"SERVICE_NAME": service}, project=project)
        # Wait for the stopped registrators' sessions to be gone with their nodes.
        deadline = time.time() + 30
        while zk.exists(f"/services/{service}") and zk.get_children(f"/services/{service}") and time.time() < deadline:
            time.sleep(0.2)
        clock = ZnodeClock(zk, f"/services/{service}")
        first = engine.containers.get(names[0])
        first.start()
        deadline = time.time() + 120
        while len(clock.appeared) < m and time.time() < deadline:
            time.sleep(0.02)
        done = max(clock.appeared.values()) if clock.appeared else float("nan")
        elected = None
        resync_ms = None
        for line in first.logs(since=int(time.time()) - 300).decode().splitlines():
            if "event=elected active" in line:
                resync_ms = None  # only the last term counts (the container's log holds earlier runs)
                stamp = line.split()[0][3:]  # ts=2026-11-26T23:23:02.068Z (UTC)
                elected = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + int(stamp[20:23]) / 1000
            if "event=resync " in line and "duration_ms=" in line and elected is not None and resync_ms is None:
                resync_ms = float(line.split("duration_ms=")[1].split()[0])
        print(f"resync from an empty tree: {len(clock.appeared)}/{m} containers registered")
        if elected is not None:
            total = done - elected
            scaled = total * 200 / m
            print(
                f"  election -> last znode: {total:.2f} s (registrator's own resync step: {resync_ms} ms); "
                f"scaled to 200: {scaled:.2f} s | ratio to target={scaled / TARGET_RESYNC_200_S:.2f} "
                f"({'OK' if scaled <= TARGET_RESYNC_200_S else 'MISSED'} target 200 <= {TARGET_RESYNC_200_S:.0f} s)"
            )
    finally:
        for name in names:
            engine.containers.get(name).start()
        remove_all(engine, owner)


def secure_run(engine, n: int, owner: str, open_up: list[float], open_down: list[float]) -> None:
    from bench.secure_stack import ensure_secure_cluster, secure_kazoo

    env = ensure_secure_cluster()
    project = stack_project(env["SVCCTL_PROJECT"])
    secure_zk = secure_kazoo(env)
    try:
        print("--- the secured twin (TLS on every connection, ACLs, Docker API through the proxy)")
        warm_up(engine, secure_zk, owner, project=project)
        up, down = latency_run(engine, secure_zk, n, owner, project=project)
        for label, opened, secured in (("start -> created", open_up, up), ("kill  -> removed", open_down, down)):
            p_open, p_secure = percentile(opened, 99), percentile(secured, 99)
            print(
                f"p99 {label}: open {p_open:.1f} ms, TLS+ACL {p_secure:.1f} ms (x{p_secure / p_open:.2f}; "
                f"{'OK' if p_secure <= TARGET_P99_MS else 'MISSED'} target p99 <= {TARGET_P99_MS:.0f} ms)"
            )
    finally:
        secure_zk.stop()
        secure_zk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--containers", type=int, default=50, help="sequential part: containers started one after the other"
    )
    parser.add_argument("--resync-containers", type=int, default=200)
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--skip-resync", action="store_true")
    parser.add_argument(
        "--burst",
        type=int,
        default=0,
        metavar="N",
        help="burst part: N containers started, then killed, by 8 threads at once",
    )
    parser.add_argument(
        "--upstream-image",
        metavar="IMAGE",
        help="a local gliderlabs/registrator image run during the burst as the same-run reference",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=10.0,
        metavar="S",
        help="burst: a znode still there S seconds after the kills is stale",
    )
    parser.add_argument(
        "--secure",
        action="store_true",
        help="sequential part: also on the secured twin (TLS+ACL), beside the open figures",
    )
    args = parser.parse_args()
    if args.upstream_image and not args.burst:
        parser.error("--upstream-image needs --burst N")

    import docker

    from svcctl.config.settings import default_zk_connect

    engine = docker.from_env(timeout=120)
    build_tiny(engine)
    zk_hosts = os.environ.get("SVCCTL_ZK") or default_zk_connect()
    zk = connect(zk_hosts)
    owner = f"bench-{uuid.uuid4().hex[:6]}"
    project = stack_project()
    print(f"engine {engine.version()['Version']}, {os.cpu_count()} cores, ensemble {zk.hosts}, label {LABEL}={owner}")
    try:
        warm_up(engine, zk, owner, project=project)
        if not args.skip_sequential:
            open_up, open_down = latency_run(engine, zk, args.containers, owner, project=project)
            if args.secure:
                secure_run(engine, args.containers, owner, open_up, open_down)
        if not args.skip_resync:
            resync_run(engine, zk, args.resync_containers, owner, project=project)
        if args.burst:
            upstream = None
            if args.upstream_image:
                member = zk_hosts.split(",")[0].split("/")[0]
                upstream = start_upstream(engine, args.upstream_image, member, owner)
                print(f"upstream: {args.upstream_image} on {member}{UPSTREAM_BASE} ({upstream.name})")
                warm_up(engine, zk, owner, upstream=True, project=project)
            burst_run(engine, zk_hosts, args.burst, owner, upstream, args.stale_after, project=project)
    finally:
        remove_all(engine, owner)
        zk.stop()
        zk.close()


if __name__ == "__main__":
    main()
