"""Fault scenarios: a fault injected while consumers call service_2, and what they felt.

Each scenario makes sure two instances of service_2 run and ZooKeeper matches Docker, starts a
gateway (HAProxy fed by its own ServiceCache, in this process) and two consumers — a load through
the gateway, and calls through a second ServiceCache that also samples which instances it holds —
then injects its fault, waits until ZooKeeper equals Docker again, undoes the fault (a stopped
registrator or member started again), and reports: requests sent and failed per consumer, the
longest time any instance that never stopped was missing from the cache, the time until ZooKeeper
equalled Docker, whether HAProxy lists every live instance UP, and the tree before and after.

On a cluster over hosts (`host-crash`) one instance runs on every host, "Docker" is every live
host's engine and "ZooKeeper" the hosts' whole registry; the crashed host is started again as the
undo, and waited for until its member serves and its registrators contend.

The expectation logic is pure (`fault_problems`); the rest drives the real engine and ensemble
through the classic scenarios' observation helpers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import DEFAULT_BASE, Settings
from svcctl.errors import BadInputError, CheckFailedError, SvcctlError, WaitTimeoutError
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import client_tls
from svcctl.wait import poll_until
from svcctl.walkthrough.scenarios import Observation, Step, StepOp, observe, read_tree, step_problems

if TYPE_CHECKING:
    import docker
    from kazoo.client import KazooClient

    from svcctl.consumer.gateway.controller import GatewayController

SERVICE = "service_2"
INSTANCES = 2
DEFAULT_FAULT_TIMEOUT = 60.0
SAMPLE_S = 0.01  # how often the cache consumer looks at its instances
SETTLE_S = 2.0  # load kept running after recovery, so a late failure is counted too
INSTANCES_PER_HOST = 1  # over hosts: one service_2 on every host, so some survive the crash and one goes with it
ROLLED_SUFFIX = "-rolled"  # the tag a rolling update moves to: the same image under another name


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    expectation: str
    hosts_only: bool = False
    swarm_only: bool = False  # a fault of Swarm's own machinery (a cluster over hosts as a stack)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "expectation": self.expectation,
            "hosts_only": self.hosts_only,
            "swarm_only": self.swarm_only,
        }


NO_GAP = "0 failed requests through the gateway and the cache; no instance missing from the cache"
FAULTS: tuple[Fault, ...] = (
    Fault(
        "registrator-handover",
        "graceful stop of the active registrator (a standby takes over), then started again",
        NO_GAP,
    ),
    Fault(
        "registrator-crash", "SIGKILL of the active registrator's process (its restart policy brings it back)", NO_GAP
    ),
    Fault("leader-loss", "the ZooKeeper leader restarted", NO_GAP),
    Fault("member-loss", "a ZooKeeper follower stopped (cluster status: degraded), then started again", NO_GAP),
    Fault(
        "instance-kill",
        "one service_2 container killed (SIGKILL), then started again",
        "0 failed requests (the gateway retries another instance); the killed one leaves the cache at once; the other "
        "never missing",
    ),
    Fault(
        "host-crash",
        "a host killed with everything on it (its member, registrators, service_2), then started again",
        "0 failed requests (the gateway retries the surviving hosts' instances); the crashed host's registrations "
        "leave ZooKeeper "
        "when its registrators' sessions expire; the other instances never missing (on a swarm: its tasks "
        "rescheduled on the other nodes and registered there)",
        hosts_only=True,
    ),
    Fault(
        "rolling-update",
        "a rolling `docker service update --image` of service_2 (start-first), then rolled back the same way",
        "0 failed requests through the gateway and the cache; every old task's registration replaced by its new one's",
        hosts_only=True,
        swarm_only=True,
    ),
)
FAULT_NAMES = tuple(f.name for f in FAULTS)


def find_fault(name: str) -> Fault:
    for fault in FAULTS:
        if fault.name == name.strip().lower():
            return fault
    raise BadInputError(
        f"unknown fault scenario {name!r}", f"choose one of {', '.join(FAULT_NAMES)} (see `svcctl scenario list`)"
    )


def is_fault(name: str) -> bool:
    return name.strip().lower() in FAULT_NAMES or name.strip().lower() == "faults"


def parse_faults(text: str, over_hosts: bool, on_swarm: bool = False) -> list[Fault]:
    """A fault's name, several joined by commas, or `faults`: every one this cluster can run (a
    cluster over hosts runs only the hosts' faults: the others act on this machine's engine; only
    a swarm has rolling updates)."""
    word = text.strip().lower()
    if word == "faults":
        return [f for f in FAULTS if f.hosts_only == over_hosts and (on_swarm or not f.swarm_only)]
    chosen = [find_fault(part) for part in word.split(",")]
    for fault in chosen:
        if fault.swarm_only and not on_swarm:
            raise BadInputError(
                f"{fault.name} needs a cluster on a swarm",
                "`svcctl hosts up 3 --swarm` and `svcctl cluster up --swarm`",
            )
        if fault.hosts_only and not over_hosts:
            raise BadInputError(
                f"{fault.name} needs a cluster over hosts",
                "`svcctl hosts up 3` and `svcctl cluster up --hosts …` first",
            )
        if over_hosts and not fault.hosts_only:
            raise BadInputError(
                f"{fault.name} runs on a cluster on one engine, not over hosts",
                "over hosts run host-crash; run the others against a local cluster (another SVCCTL_PROJECT)",
            )
    return chosen


# --- what the consumers felt ---------------------------------------------------------------------


@dataclass
class LoadStats:
    """One consumer's requests: sent, failed, and the first few failures (time offset, error)."""

    sent: int = 0
    failed: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, ok: bool, error: str | None, since: float) -> None:
        with self.lock:
            self.sent += 1
            if not ok:
                self.failed += 1
                if len(self.failures) < 20:
                    self.failures.append((round(time.monotonic() - since, 3), error or "?"))

    def to_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "failures": [{"at_s": t, "error": e} for t, e in self.failures],
        }


class GapMeter:
    """The longest continuous stretch each watched address was absent from a sampled set."""

    def __init__(self, watched: set[str]) -> None:
        self.watched = set(watched)
        self.missing_since: dict[str, float] = {}
        self.longest: dict[str, float] = {a: 0.0 for a in watched}
        # The sampler thread samples while the fault (another thread) may unwatch its victim.
        self._lock = threading.Lock()

    def unwatch(self, address: str) -> None:
        """Stop measuring `address` (an instance the fault removes on purpose)."""
        with self._lock:
            self.watched.discard(address)
            self.longest.pop(address, None)
            self.missing_since.pop(address, None)

    def sample(self, present: set[str], now: float) -> None:
        with self._lock:
            for address in self.watched:
                if address in present:
                    started = self.missing_since.pop(address, None)
                    if started is not None:
                        self.longest[address] = max(self.longest[address], now - started)
                else:
                    self.missing_since.setdefault(address, now)

    def close(self, now: float) -> None:
        with self._lock:
            for address, started in list(self.missing_since.items()):
                self.longest[address] = max(self.longest[address], now - started)

    @property
    def max_gap(self) -> float:
        with self._lock:
            return max(self.longest.values(), default=0.0)


@dataclass
class FaultResult:
    fault: Fault
    instances_before: list[str] = field(default_factory=list)
    victim: str | None = None  # the fault's target: a container
    gateway: LoadStats = field(default_factory=LoadStats)
    cache_calls: LoadStats = field(default_factory=LoadStats)
    max_missing_s: float = 0.0  # the longest any instance that never stopped was missing from the cache
    missing_s: dict[str, float] = field(default_factory=dict)
    unroutable_s: float | None = None  # instance-kill: kill → the victim out of the cache
    converge_s: float | None = None  # the fault injected → ZooKeeper == Docker (None: never)
    degraded_seen: bool | None = None  # member-loss: cluster status said degraded meanwhile
    haproxy_up: dict[str, str] = field(default_factory=dict)  # live instance → its state in HAProxy afterwards
    tree_before: str = ""
    tree_after: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "scenario": self.fault.name,
            "title": self.fault.title,
            "expectation": self.fault.expectation,
            "ok": self.ok,
            "victim": self.victim,
            "instances_before": self.instances_before,
            "gateway": self.gateway.to_dict(),
            "cache_calls": self.cache_calls.to_dict(),
            "max_missing_s": round(self.max_missing_s, 3),
            "missing_s": {a: round(v, 3) for a, v in self.missing_s.items()},
            "unroutable_s": self.unroutable_s,
            "converge_s": self.converge_s,
            "degraded_seen": self.degraded_seen,
            "haproxy": self.haproxy_up,
            "problems": self.problems,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "tree_before": self.tree_before,
            "tree_after": self.tree_after,
        }


def fault_problems(result: FaultResult) -> list[str]:
    """Everything that did not hold. Pure."""
    problems = []
    if result.gateway.sent == 0:
        problems.append("no request went through the gateway")
    if result.gateway.failed:
        problems.append(f"{result.gateway.failed} of {result.gateway.sent} requests through the gateway failed")
    if result.cache_calls.failed:
        problems.append(
            f"{result.cache_calls.failed} of {result.cache_calls.sent} calls through the ServiceCache failed"
        )
    if result.converge_s is None:
        problems.append("ZooKeeper did not match Docker again")
    for address, state in sorted(result.haproxy_up.items()):
        if state != "UP":
            problems.append(f"HAProxy lists live instance {address} as {state}")
    if result.fault.name in ("instance-kill", "host-crash"):
        if result.unroutable_s is None:
            problems.append(
                "the killed instance never left the cache"
                if result.fault.name == "instance-kill"
                else "the crashed host's instances never left the cache"
            )
    if result.fault.name != "instance-kill" and result.max_missing_s > 0:
        gone = ", ".join(f"{a} {s:.3f}s" for a, s in sorted(result.missing_s.items()) if s > 0)
        problems.append(f"instances that never stopped went missing from the cache: {gone}")
    if result.fault.name == "member-loss" and result.degraded_seen is False:
        problems.append("cluster status never said degraded while a member was down")
    return problems


# --- the consumers ---------------------------------------------------------------------------------


class Consumers:
    """The gateway (with its own cache), a load through it, and calls through a second cache
    that also samples which instances it holds. Started before the fault, stopped after."""

    def __init__(self, settings: Settings, watched: set[str], threads: int = 2) -> None:
        self.settings = settings
        self.watched = watched
        self.threads = threads
        self.gateway = LoadStats()
        self.cache_calls = LoadStats()
        self.gaps = GapMeter(watched)
        self.victim_addresses: set[str] = set()  # the instances the fault removes on purpose
        self.victim_gone_at: float | None = None
        self.controller: GatewayController | None = None
        self.port = 0
        self._stop = threading.Event()
        self._gateway_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = time.monotonic()
        self._ready = threading.Event()
        self._gateway_error: BaseException | None = None
        self._client: KazooClient | None = None
        self.cache = None

    def start(self, timeout: float = 30.0) -> None:
        from svcctl.consumer.cache import ServiceCache
        from svcctl.consumer.gateway.controller import free_port, run_gateway
        from svcctl.zk.client import started_client

        self.port = free_port()

        def on_ready(controller: GatewayController) -> None:
            self.controller = controller
            self._ready.set()

        def serve() -> None:
            try:
                run_gateway(
                    self.settings.zk_hosts,
                    "127.0.0.1",
                    self.port,
                    0,
                    lambda _m: None,
                    on_ready,
                    self._gateway_stop,
                    tls=client_tls(self.settings),
                )
            except BaseException as exc:  # noqa: BLE001 - reported by start() on the caller's thread
                self._gateway_error = exc
                self._ready.set()

        threading.Thread(target=serve, name="fault-gateway", daemon=True).start()
        if not self._ready.wait(timeout) or self._gateway_error is not None:
            self._gateway_stop.set()
            raise SvcctlError(
                f"the scenario's gateway did not start: {self._gateway_error or 'timeout'}",
                "`svcctl doctor` checks haproxy",
            )
        self._client = started_client(self.settings.zk_hosts, tls=client_tls(self.settings))
        self.cache = ServiceCache(self._client, SERVICE).start()
        # The gateway must route to every watched instance before the fault.
        if not poll_until(self._gateway_routes_all, bool, time.monotonic() + timeout, 0.2):
            # Failures under the fault would otherwise be blamed on it.
            raise CheckFailedError(
                f"before the fault: the scenario's gateway does not route to every {SERVICE} instance within "
                f"{timeout:.0f}s",
                "`svcctl zk ls -r /services` and `docker ps` show what is registered and running",
            )
        self._started = time.monotonic()
        for i in range(self.threads):
            self._spawn(self._gateway_load, f"fault-load-{i}")
        self._spawn(self._cache_load, "fault-cache-calls")
        self._spawn(self._sampler, "fault-cache-sampler")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _gateway_routes_all(self) -> bool:
        return self.watched <= {a for a, s in self.haproxy_states().items() if s == "UP"}

    def haproxy_states(self) -> dict[str, str]:
        try:
            rows = self.controller.status() if self.controller else []
        except SvcctlError:
            return {}
        return {
            s["server"]: s["state"] for row in rows if row.get("service") == SERVICE for s in row.get("servers", [])
        }

    def _gateway_load(self) -> None:
        import http.client

        from svcctl.consumer.cache import http_get

        while not self._stop.is_set():
            try:
                status, _body = http_get("127.0.0.1", self.port, "/", timeout=5.0, headers={"service_name": SERVICE})
                self.gateway.record(
                    200 <= status < 300, None if 200 <= status < 300 else f"HTTP {status}", self._started
                )
            except (OSError, http.client.HTTPException) as exc:
                self.gateway.record(False, f"{type(exc).__name__}: {exc}", self._started)
            time.sleep(0.005)

    def _cache_load(self) -> None:
        from svcctl.consumer.cache import call_once

        seq = 0
        while not self._stop.is_set():
            seq += 1
            result = call_once(self.cache, SERVICE, "/", seq, timeout=5.0)
            self.cache_calls.record(result.ok, result.error, self._started)
            time.sleep(0.02)

    def _sampler(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            present = {i.address for i in self.cache.instances(SERVICE)}
            self.gaps.sample(present, now)
            if self.victim_addresses and self.victim_gone_at is None and not self.victim_addresses & present:
                self.victim_gone_at = now
            time.sleep(SAMPLE_S)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.gaps.close(time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self._gateway_stop.set()
        if self.cache is not None:
            self.cache.stop()
        if self._client is not None:
            self._client.stop()
            self._client.close()


# --- the faults ------------------------------------------------------------------------------------


def _project_registrators(settings: Settings, zk: KazooClient) -> list:
    from svcctl.ensemble.project import container_prefix
    from svcctl.registrator.status import registrators

    prefix = container_prefix(settings.project)
    try:
        found = registrators(zk, DEFAULT_BASE)
    except Exception:  # noqa: BLE001 - our session moving to another member: none seen this time
        return []
    return [r for r in found if r.id.startswith(prefix) and "registrator" in r.id]


def _active_registrator(settings: Settings, zk: KazooClient) -> str:
    active = [r.id for r in _project_registrators(settings, zk) if r.role == "active"]
    if not active:
        raise CheckFailedError(
            "no active registrator of this project",
            "`svcctl cluster up` starts them; `svcctl cluster status` shows them",
        )
    return active[0]


def _members(settings: Settings) -> list:
    from svcctl.ensemble import current

    return current.ensemble(settings).status()


def _on_swarm(settings: Settings) -> bool:
    return settings.layout is not None and settings.layout.on_swarm


def _wait(condition: Callable[[], Any], what: str, timeout: float) -> None:
    if not poll_until(condition, bool, time.monotonic() + timeout, 0.2):
        raise CheckFailedError(
            f"timed out after {timeout:.0f}s waiting for {what}",
            "`svcctl cluster status` shows the ensemble and registrators",
        )


def _kill_process(docker_client: docker.DockerClient, name: str) -> None:
    """SIGKILL the container's main process from the host (a crash: unlike `docker kill`, the
    restart policy applies)."""
    import os
    import signal

    container = docker_client.containers.get(name)
    pid = int(container.attrs["State"]["Pid"])
    if pid <= 0:
        raise CheckFailedError(f"{name} is not running", "`svcctl cluster up`")
    # The engine's pid means something here only when the engine runs on this machine: with a
    # remote engine (a context, DOCKER_HOST, a VM) it could name an unrelated local process.
    try:
        ours = container.id in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        ours = False
    if not ours:
        raise CheckFailedError(
            f"{name}'s process (pid {pid}) is not on this machine: the engine runs elsewhere",
            "run registrator-crash on the engine's own host, as root",
        )
    try:
        os.kill(pid, signal.SIGKILL)
    except PermissionError:
        raise CheckFailedError(
            f"not allowed to kill {name}'s process (pid {pid})",
            "run the fault scenarios as root, on the engine's own host",
        ) from None


class Injector:
    """One fault: `inject` breaks, `restore` undoes; both on the real engine."""

    def __init__(
        self,
        fault: Fault,
        settings: Settings,
        zk: KazooClient,
        engines: Engines,
        result: FaultResult,
        consumers: Consumers,
        on_progress: Progress,
    ) -> None:
        self.fault, self.settings, self.zk, self.engines, self.docker = fault, settings, zk, engines, engines.local
        self.result, self.consumers, self.on_progress = result, consumers, on_progress
        self.stopped: list[str] = []
        self.killed_at: float | None = None
        self.restored = False
        self.removed = 0  # instances the fault takes away until restore
        self.crashed_host: str | None = None
        self.rolled_from: str | None = None  # the image a rolling update replaced

    def inject(self) -> None:
        getattr(self, "_" + self.fault.name.replace("-", "_"))()

    def _registrator_handover(self) -> None:
        name = _active_registrator(self.settings, self.zk)
        self.result.victim = name
        self.on_progress(f"{self.fault.name}: docker stop {name} (graceful: it hands over)")
        self.docker.containers.get(name).stop(timeout=30)
        self.stopped.append(name)

    def _registrator_crash(self) -> None:
        name = _active_registrator(self.settings, self.zk)
        self.result.victim = name
        self.on_progress(f"{self.fault.name}: SIGKILL of {name}'s process")
        container = self.docker.containers.get(name)
        restarts = container.attrs.get("RestartCount", 0)
        _kill_process(self.docker, name)

        def back() -> bool:
            container.reload()
            return container.attrs.get("RestartCount", 0) > restarts and container.status == "running"

        # The restart policy brings it back.
        _wait(back, f"{name} to be restarted by its restart policy", 60)

    def _leader_loss(self) -> None:
        leader = [m for m in _members(self.settings) if m.stats.mode == "leader"]
        if not leader:
            raise CheckFailedError("the ensemble has no leader", "`svcctl cluster up`")
        name = leader[0].container
        self.result.victim = name
        self.on_progress(f"{self.fault.name}: docker restart {name} (the leader)")
        self.docker.containers.get(name).restart(timeout=10)
        self._wait_quorum()

    def _member_loss(self) -> None:
        from svcctl.ensemble.members import DEGRADED, ensemble_health

        followers = [m for m in _members(self.settings) if m.stats.mode == "follower"]
        if not followers:
            raise CheckFailedError("the ensemble has no follower", "`svcctl cluster up`")
        name = followers[-1].container
        self.result.victim = name
        self.on_progress(f"{self.fault.name}: docker stop {name} (a follower)")
        self.docker.containers.get(name).stop(timeout=10)
        self.stopped.append(name)
        self.result.degraded_seen = bool(
            poll_until(
                lambda: ensemble_health([m.stats.mode for m in _members(self.settings)]) == DEGRADED,
                bool,
                time.monotonic() + 20,
                0.5,
            )
        )
        time.sleep(2.0)  # a while with one member down, under load

    def _instance_kill(self) -> None:
        from svcctl.docker.containers import engine_containers
        from svcctl.walkthrough.services import project_instances, registration_key, sample_service_of

        views = [
            v
            for v in project_instances(engine_containers(self.docker), self.settings.project, SERVICE)
            if v.state == "running"
        ]
        victim = views[-1]
        service = sample_service_of(victim)
        self.result.victim = victim.name
        address = registration_key(victim, service) if service else None
        if address:
            self.consumers.gaps.unwatch(address)
            self.consumers.victim_addresses = {address}
        self.removed = 1
        self.on_progress(f"{self.fault.name}: docker kill {victim.name}")
        self.killed_at = time.monotonic()
        self.docker.containers.get(victim.name).kill()
        self.stopped.append(victim.name)

    def _host_crash(self) -> None:
        from svcctl.toolkit import hosts
        from svcctl.walkthrough.services import project_instances, registration_key, sample_service_of

        name = choose_crash_host([(m.host or "", m.stats.mode) for m in _members(self.settings)])
        views = [
            v
            for v in project_instances(self.engines.views_of(name), self.settings.project, SERVICE)
            if v.state == "running"
        ]
        addresses = {key for v in views if (service := sample_service_of(v)) and (key := registration_key(v, service))}
        if not addresses:
            raise CheckFailedError(
                f"no {SERVICE} instance runs on {name}, the host to crash",
                f"`svcctl --context {name} scale {SERVICE} 1`",
            )
        self.result.victim = name
        for address in addresses:
            self.consumers.gaps.unwatch(address)
        self.consumers.victim_addresses = addresses
        # Swarm starts the crashed node's tasks on the others: as many instances as before.
        self.removed = 0 if _on_swarm(self.settings) else len(addresses)
        self.on_progress(
            f"{self.fault.name}: killing host {name} (its engine and {', '.join(sorted(addresses))} with it)"
        )
        self.engines.down.add(name)
        self.crashed_host = name
        self.killed_at = time.monotonic()
        hosts.stop(self.settings, name)

    def _rolling_update(self) -> None:
        from svcctl.walkthrough import swarm_services

        image = swarm_services.image_of(self.settings, SERVICE)
        self.rolled_from = image
        self.result.victim = f"{self.settings.project}_{SERVICE}"
        for address in self.result.instances_before:  # every task is replaced, by design
            self.consumers.gaps.unwatch(address)
        self.on_progress(f"{self.fault.name}: service update --image {image}{ROLLED_SUFFIX} (start-first)")
        swarm_services.roll(self.settings, SERVICE, image + ROLLED_SUFFIX)

    def _restart_host(self, name: str) -> None:
        from svcctl.toolkit import hosts

        self.on_progress(f"{self.fault.name}: starting host {name} again")
        hosts.start(self.settings, name)
        self.engines.down.discard(name)
        self._wait_quorum()

        per_host = 1 if _on_swarm(self.settings) else 2  # a swarm runs one registrator task per node

        def contending() -> bool:
            theirs = [r for r in _project_registrators(self.settings, self.zk) if r.id.startswith(f"{name}-")]
            return len(theirs) >= per_host and any(r.role == "active" for r in theirs)

        _wait(contending, f"{name}'s registrators to contend again", 90)

    def _wait_quorum(self) -> None:
        from svcctl.ensemble.members import quorum_reached

        _wait(
            lambda: quorum_reached([m.stats.mode for m in _members(self.settings)]),
            "the ensemble's quorum (one leader, two followers)",
            120,
        )

    def restore(self) -> None:
        """Undo the fault, once (the run's `finally` calls it again when the run failed before)."""
        if self.restored:
            return
        self.restored = True
        for name in self.stopped:
            self.on_progress(f"{self.fault.name}: docker start {name}")
            self.docker.containers.get(name).start()
        if self.fault.name in ("member-loss", "leader-loss"):
            self._wait_quorum()
        if self.crashed_host is not None:
            self._restart_host(self.crashed_host)
        if self.rolled_from is not None:
            from svcctl.walkthrough import swarm_services

            self.on_progress(f"{self.fault.name}: service update --image {self.rolled_from} (back, start-first)")
            swarm_services.roll(self.settings, SERVICE, self.rolled_from)
        if self.fault.name in ("registrator-handover", "registrator-crash"):
            _wait(
                lambda: (
                    sum(1 for r in _project_registrators(self.settings, self.zk)) >= 2
                    and any(r.role == "active" for r in _project_registrators(self.settings, self.zk))
                ),
                "the registrators to contend again",
                60,
            )
        self.stopped = []


# --- the runner ------------------------------------------------------------------------------------


def choose_crash_host(members: list[tuple[str, str]]) -> str:
    """The host to crash, from (host, its member's mode) in layout order: the last follower, so
    the quorum (and the consumers' ZooKeeper) survive without a leader election; only when the
    others still make a majority. Pure."""
    from svcctl.zk.fourletter import SERVING_MODES

    serving = [host for host, mode in members if mode in SERVING_MODES]
    followers = [host for host, mode in members if mode == "follower"]
    if not followers or len(serving) - 1 <= len(members) // 2:
        modes = ", ".join(f"{host}={mode}" for host, mode in members)
        raise CheckFailedError(
            f"no host can crash with the quorum kept ({modes})",
            "every member must serve first: `svcctl cluster status`",
        )
    return followers[-1]


class Engines:
    """The Docker engines a fault scenario observes: this process's, or every host's of a cluster
    over hosts. A host the fault crashed is not asked (it runs nothing; asking its dead address
    would only wait for a timeout)."""

    def __init__(self, settings: Settings, local: docker.DockerClient) -> None:
        self.settings, self.local = settings, local
        self.down: set[str] = set()
        self._clients: dict[str, docker.DockerClient] = {}

    def _client(self, context: str) -> docker.DockerClient:
        from svcctl.docker.engine import client_for

        if context not in self._clients:
            member = next(m for m in self.settings.layout.hosts if m.context == context)  # type: ignore[union-attr]
            self._clients[context] = client_for(member.endpoint, timeout=10)
        return self._clients[context]

    def views_of(self, context: str) -> list:
        from svcctl.docker.containers import engine_containers

        if context in self.down:
            return []
        address = next(m.address for m in self.settings.layout.hosts if m.context == context)  # type: ignore[union-attr]
        return [v.published_on(address) for v in engine_containers(self._client(context))]

    def views(self) -> list:
        from svcctl.docker.containers import engine_containers

        if self.settings.layout is None:
            return engine_containers(self.local)
        return [v for m in self.settings.layout.hosts for v in self.views_of(m.context)]


def _observe(settings: Settings, zk: KazooClient, engines: Engines) -> Observation:
    """observe() on this engine; over hosts, every live host's containers against the whole
    registry (the ensemble is the hosts' own: it holds their instances and nothing else)."""
    from svcctl.walkthrough.scenarios import observation
    from svcctl.walkthrough.services import read_registration_payloads

    if settings.layout is None:
        return observe(settings, zk, engines.local, SERVICE)
    return observation(engines.views(), read_registration_payloads(zk), settings.project, SERVICE)


def _ensure_instances(
    settings: Settings, zk: KazooClient, engines: Engines, timeout: float, on_progress: Progress
) -> list[str]:
    """Exactly INSTANCES of service_2 running (over hosts: INSTANCES_PER_HOST on every host),
    registered; returns their addresses."""

    from collections import Counter

    from svcctl.walkthrough import services
    from svcctl.walkthrough.scenarios import format_diff
    from svcctl.walkthrough.services import project_instances

    if settings.layout is None:
        services.scale(settings, SERVICE, INSTANCES, on_progress)
        target = INSTANCES
    elif settings.layout.on_swarm:
        target = INSTANCES_PER_HOST * len(settings.layout.hosts)
        running = [v for v in project_instances(engines.views(), settings.project, SERVICE) if v.state == "running"]
        per_node = Counter((v.ports.get("80/tcp") or [("", 0)])[0][0] for v in running)  # by node address
        if len(per_node) != len(settings.layout.hosts) or set(per_node.values()) != {INSTANCES_PER_HOST}:
            # Swarm keeps tasks where they run: placed afresh they spread evenly over the nodes.
            on_progress(f"{SERVICE}: placing {target} tasks afresh, {INSTANCES_PER_HOST} per node")
            services.stop(settings, [SERVICE], on_progress)
        services.scale(settings, SERVICE, target, on_progress)
    else:
        for member in settings.layout.hosts:
            on_progress(f"{member.context}: {SERVICE} x{INSTANCES_PER_HOST}")
            services.scale(
                settings.for_context(member.context),
                SERVICE,
                INSTANCES_PER_HOST,
                on_progress,
                engine=member.endpoint,
            )
        target = INSTANCES_PER_HOST * len(settings.layout.hosts)
    if not poll_until(lambda: _converged(settings, zk, engines, target), bool, time.monotonic() + timeout, 0.2):
        seen = _observe(settings, zk, engines)
        probe = Step(0, f"{SERVICE} x{target}", StepOp.SCALE, SERVICE, target, "")
        raise CheckFailedError(
            "before the fault: ZooKeeper does not match Docker",
            "is the registrator running? `svcctl cluster status`",
            details=format_diff(seen.expected, seen.seen, step_problems(probe, target, seen.running, seen.diff())),
        )
    return _project_addresses(settings, engines)


def _project_addresses(settings: Settings, engines: Engines) -> list[str]:
    from svcctl.walkthrough.services import project_instances, registration_key, sample_service_of

    out = []
    for view in project_instances(engines.views(), settings.project, SERVICE):
        service = sample_service_of(view)
        key = registration_key(view, service) if service and view.state == "running" else None
        if key:
            out.append(key)
    return sorted(out)


def _converged(settings: Settings, zk: KazooClient, engines: Engines, target: int) -> bool:
    probe = Step(0, "after the fault", StepOp.SCALE, SERVICE, target, "")
    try:
        seen = _observe(settings, zk, engines)
    except Exception:  # noqa: BLE001 - our own session moving to another member, a host's engine slow: look again
        return False
    return not step_problems(probe, target, seen.running, seen.diff())


def run_fault(
    settings: Settings, fault: Fault, timeout: float = DEFAULT_FAULT_TIMEOUT, on_progress: Progress = no_progress
) -> FaultResult:
    from svcctl.consumer.cache import ORPHAN_GRACE_S
    from svcctl.docker.engine import docker_client as make_docker
    from svcctl.zk.client import zk_session

    if timeout <= 0:
        raise BadInputError(f"bad timeout {timeout}", "give a number of seconds greater than 0")
    if fault.hosts_only and settings.layout is None:
        raise BadInputError(
            f"{fault.name} needs a cluster over hosts", "`svcctl hosts up 3` and `svcctl cluster up --hosts …` first"
        )
    started = time.monotonic()
    result = FaultResult(fault=fault)
    engines = Engines(settings, make_docker(settings.engine))
    with zk_session(settings.zk_hosts, tls=client_tls(settings)) as zk:
        on_progress(f"{fault.name}: {SERVICE} instances, ZooKeeper == Docker")
        result.instances_before = _ensure_instances(settings, zk, engines, timeout, on_progress)
        result.tree_before = read_tree(zk)
        consumers = Consumers(settings, set(result.instances_before))
        injector = Injector(fault, settings, zk, engines, result, consumers, on_progress)
        try:
            on_progress(f"{fault.name}: gateway and consumers starting")
            consumers.start()
            time.sleep(1.0)  # a baseline under load
            fault_at = time.monotonic()
            injector.inject()
            everyone = len(result.instances_before)
            if poll_until(
                lambda: _converged(settings, zk, engines, everyone - injector.removed), bool, fault_at + timeout, 0.1
            ):
                result.converge_s = round(time.monotonic() - fault_at, 3)
            if consumers.victim_addresses:
                # ZooKeeper dropped them; the cache keeps an orphan for its grace. A host back
                # within it would register the same addresses again before they ever left.
                poll_until(
                    lambda: consumers.victim_gone_at is not None, bool, time.monotonic() + ORPHAN_GRACE_S + 10, 0.1
                )
            injector.restore()
            if injector.removed:
                # Started again: registered again, and routable before the load stops.
                poll_until(lambda: _converged(settings, zk, engines, everyone), bool, time.monotonic() + timeout, 0.1)
            live = set(_project_addresses(settings, engines))
            poll_until(
                lambda: live <= {a for a, s in consumers.haproxy_states().items() if s == "UP"},
                bool,
                time.monotonic() + 30,
                0.2,
            )
            time.sleep(SETTLE_S)
            consumers.stop()
            if consumers.victim_gone_at is not None and injector.killed_at is not None:
                result.unroutable_s = round(consumers.victim_gone_at - injector.killed_at, 3)
            states = consumers.haproxy_states()
            result.haproxy_up = {a: states.get(a, "absent") for a in sorted(live)}
        finally:
            try:
                injector.restore()
            finally:
                consumers.close()
        result.gateway, result.cache_calls = consumers.gateway, consumers.cache_calls
        result.missing_s = dict(consumers.gaps.longest)
        result.max_missing_s = consumers.gaps.max_gap
        result.tree_after = read_tree(zk)
    result.problems = fault_problems(result)
    result.seconds = time.monotonic() - started
    return result


def run_faults(
    settings: Settings,
    faults: list[Fault],
    timeout: float = DEFAULT_FAULT_TIMEOUT,
    on_progress: Progress = no_progress,
    on_result: Callable[[FaultResult], None] = lambda _r: None,
) -> list[FaultResult]:
    """Each fault in order (all of them run: one failing does not hide the others)."""
    results = []
    for fault in faults:
        try:
            result = run_fault(settings, fault, timeout, on_progress)
        except (CheckFailedError, WaitTimeoutError) as exc:
            # A fault whose recovery failed or timed out is a failed expectation; the others
            # still run. Anything else (bad input, no ensemble) ends the run with its own error.
            result = FaultResult(fault=fault)
            result.problems = [exc.cause]
        results.append(result)
        on_result(result)
    return results


def fault_failures(results: list[FaultResult]) -> CheckFailedError | None:
    bad = [r for r in results if not r.ok]
    if not bad:
        return None
    return CheckFailedError(
        f"fault scenario {bad[0].fault.name} failed: {bad[0].problems[0]}",
        "see the report above; `svcctl gateway status` and `svcctl cluster status` show the state",
        details="\n".join(f"{r.fault.name}: {p}" for r in bad for p in r.problems),
    )
