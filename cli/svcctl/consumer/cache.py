"""The consumer side: a live service cache over `/services` (subscribe → cache → pick → notify)
and HTTP calls through it.

The cache is driven by `zk.watch.TreeWatcher` events; `ServiceTable` applies them and is pure, so
the logic is testable from recorded events. Instances are read from the registration payload
(registrator's keys plus our `svcctl` object) and fall back to the node name `IP:PORT`.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import DEFAULT_BASE
from svcctl.errors import BadInputError, NotFoundError
from svcctl.registry.payload import RegistrationPayload
from svcctl.zk.watch import TreeWatcher, ZkEvent, ZkEventKind

if TYPE_CHECKING:
    from kazoo.client import KazooClient


class Strategy(StrEnum):
    """How a call picks among a service's live instances."""

    round_robin = "round_robin"
    random = "random"


STRATEGIES = tuple(s.value for s in Strategy)


@dataclass(frozen=True)
class Instance:
    service: str
    node: str  # the znode name, `IP:PORT`
    ip: str
    port: int
    container_id: str | None = None
    container_name: str | None = None
    registered_at: float | None = None
    private_port: int | None = None
    owner_session: int | None = None  # the ZooKeeper session owning the ephemeral registration

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.address} ({self.container_name or (self.container_id or '?')[:12]})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "address": self.address,
            "ip": self.ip,
            "port": self.port,
            "private_port": self.private_port,
            "container_id": self.container_id,
            "container_name": self.container_name,
            "registered_at": self.registered_at,
        }


def parse_instance(service: str, node: str, data: bytes | None) -> Instance | None:
    """An Instance from a registration node; None when neither payload nor name gives an address."""
    payload = RegistrationPayload.decode(data)
    host, _, port_text = node.rpartition(":")
    ip = (payload.ip if payload is not None else None) or host
    port = payload.public_port if payload is not None else None
    if port is None:
        port = int(port_text) if port_text.isdigit() else None
    if not ip or port is None:
        return None
    if payload is None:
        return Instance(service=service, node=node, ip=ip, port=port)
    return Instance(
        service=service,
        node=node,
        ip=ip,
        port=port,
        container_id=payload.container_id or payload.container_hostname,
        container_name=payload.container_name,
        registered_at=payload.registered_at,
        private_port=payload.private_port,
    )


@dataclass
class CacheChange:
    """What changed for one service (passed to listeners)."""

    service: str
    added: list[Instance] = field(default_factory=list)
    removed: list[Instance] = field(default_factory=list)
    updated: list[Instance] = field(default_factory=list)
    service_added: bool = False
    service_removed: bool = False
    event: ZkEvent | None = None


class ServiceTable:
    """The local copy: service name → {node name → Instance}. Pure: `apply` takes one watch event
    (paths relative to `base`) and returns the change it made, if any."""

    def __init__(self, base: str = DEFAULT_BASE) -> None:
        self.base = base.rstrip("/") or "/"
        self.services: dict[str, dict[str, Instance]] = {}

    def _split(self, path: str) -> list[str]:
        prefix = self.base.rstrip("/") + "/"
        if not path.startswith(prefix):
            return []
        return path[len(prefix) :].split("/")

    def apply(self, event: ZkEvent) -> CacheChange | None:
        if event.kind in (ZkEventKind.SESSION_LOST, ZkEventKind.SESSION_RECONNECTED):
            return None  # the watcher re-reads and reports the differences as ordinary events
        if event.path == self.base and event.kind == ZkEventKind.NODE_DELETED:
            # The whole registry went away: every service goes with it (one change per service).
            changes = [
                CacheChange(n, removed=list(s.values()), service_removed=True, event=event)
                for n, s in self.services.items()
            ]
            self.services.clear()
            return (
                changes[0]
                if len(changes) == 1
                else (CacheChange("*", service_removed=True, event=event) if changes else None)
            )
        parts = self._split(event.path)
        if len(parts) == 1:
            name = parts[0]
            if event.kind in (
                ZkEventKind.CHILD_ADDED,
                ZkEventKind.NODE_CREATED,
                ZkEventKind.DATA_CHANGED,
                ZkEventKind.NODE_REPLACED,
            ):
                # A replaced service node keeps its instances here: the watcher reports each
                # instance's own replacement or removal next, so none goes missing meanwhile.
                if name not in self.services:
                    self.services[name] = {}
                    return CacheChange(name, service_added=True, event=event)
            elif event.kind in (ZkEventKind.CHILD_REMOVED, ZkEventKind.NODE_DELETED):
                if name in self.services:
                    gone = list(self.services.pop(name).values())
                    return CacheChange(name, removed=gone, service_removed=True, event=event)
            return None
        if len(parts) != 2:
            return None
        name, node = parts
        if event.kind in (ZkEventKind.CHILD_ADDED, ZkEventKind.DATA_CHANGED, ZkEventKind.NODE_REPLACED):
            # A replaced registration (another registrator session took it over) is an update:
            # the instance never stopped, so it never leaves the table.
            instance = parse_instance(name, node, event.data)
            if instance is not None and event.ephemeral_owner:
                instance = replace(instance, owner_session=event.ephemeral_owner)
            new_service = name not in self.services
            service = self.services.setdefault(name, {})
            if instance is None:
                return CacheChange(name, service_added=True, event=event) if new_service else None
            before = service.get(node)
            service[node] = instance
            if before is None:
                return CacheChange(name, added=[instance], service_added=new_service, event=event)
            if before != instance:
                return CacheChange(name, updated=[instance], event=event)
            return None
        if event.kind in (ZkEventKind.CHILD_REMOVED, ZkEventKind.NODE_DELETED):
            service = self.services.get(name)
            if service and node in service:
                return CacheChange(name, removed=[service.pop(node)], event=event)
        return None

    def removed_by(self, event: ZkEvent) -> list[Instance]:
        """The instances `apply(event)` would remove, without applying it."""
        if event.kind not in (ZkEventKind.CHILD_REMOVED, ZkEventKind.NODE_DELETED):
            return []
        if event.path == self.base:
            return [i for service in self.services.values() for i in service.values()]
        parts = self._split(event.path)
        if len(parts) == 1:
            return list(self.services.get(parts[0], {}).values())
        if len(parts) == 2:
            found = self.services.get(parts[0], {}).get(parts[1])
            return [found] if found is not None else []
        return []

    def instances(self, name: str) -> list[Instance]:
        return sorted(self.services.get(name, {}).values(), key=lambda i: (i.ip, i.port))


class Picker:
    """Round-robin (a counter per service over the sorted live list) or random choice."""

    def __init__(self, strategy: str = "round_robin", rng: random.Random | None = None) -> None:
        if strategy not in STRATEGIES:
            raise BadInputError(f"unknown strategy {strategy!r}", f"use one of {', '.join(STRATEGIES)}")
        self.strategy = Strategy(strategy)
        self.rng = rng or random.Random()
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def pick(self, service: str, instances: list[Instance], exclude: set[str] | None = None) -> Instance | None:
        candidates = [i for i in instances if not exclude or i.address not in exclude]
        if not candidates:
            return None
        if self.strategy is Strategy.random:
            return self.rng.choice(candidates)
        with self._lock:
            n = self._next.get(service, 0)
            self._next[service] = n + 1
        return candidates[n % len(candidates)]


# How long a registration that went with its owner's session stays in the cache.
ORPHAN_GRACE_S = 5.0


class ServiceCache:
    """A live local copy of `/services/<name>` (or every service under `base` when name is None).

    Survives the service node being deleted and re-created and session expiry (the watcher
    re-reads and diffs). Listeners get a CacheChange per change, on the watcher's thread.
    """

    def __init__(
        self,
        client: KazooClient,
        name: str | None = None,
        base: str = DEFAULT_BASE,
        strategy: str = "round_robin",
        orphan_grace: float = ORPHAN_GRACE_S,
    ) -> None:
        self.client = client
        self.orphan_grace = orphan_grace
        # Registrations that went with their owner's session (a registrator that crashed or
        # stopped with no standby to hand over to): kept this long, so a successor re-creating
        # them leaves no gap; a live owner deleting one (the kill-signal drain) is obeyed at once.
        self._orphans: dict[tuple[str, str], tuple[Instance, float]] = {}
        self._writers: set[int] = set()  # sessions seen holding a registrator's election node
        self._live: tuple[float, set[int]] = (float("-inf"), set())  # when read, the sessions in an election then
        self._orphan_timers: set[threading.Timer] = set()
        self.name = name
        self.base = base.rstrip("/") or "/"
        self.table = ServiceTable(self.base)
        self.picker = Picker(strategy)
        self._listeners: list[Callable[[CacheChange], None]] = []
        self._seen: set[str] = set()
        self._lock = threading.RLock()
        root = f"{self.base}/{name}" if name else self.base
        self.watcher = TreeWatcher(client, root, self._on_event, depth=1 if name else 2, emit_initial=True)

    def add_listener(self, callback: Callable[[CacheChange], None]) -> None:
        self._listeners.append(callback)

    def start(self, timeout: float = 10.0) -> ServiceCache:
        self.watcher.start(timeout)
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._orphan_timers = self._orphan_timers, set()
        for timer in timers:
            timer.cancel()
        self.watcher.stop()

    def __enter__(self) -> ServiceCache:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_event(self, event: ZkEvent) -> None:
        # The election is read before the table changes, never between: a removal and the
        # orphans it leaves reach readers in one step, so no reader sees an instance in neither.
        may_orphan = self.orphan_grace > 0 and not event.initial and event.path != self.base
        with self._lock:
            may_orphan = may_orphan and any(i.owner_session in self._writers for i in self.table.removed_by(event))
        live = self._live_writers() if may_orphan else None
        with self._lock:
            change = self.table.apply(event)
            self._seen.update(self.table.services)
            if change is not None:
                for instance in change.added + change.updated:
                    self._orphans.pop((change.service, instance.node), None)
                if may_orphan and change.removed:
                    change = self._keep_orphans(change, live)
        if change is not None and self.orphan_grace > 0:
            owners = {i.owner_session for i in change.added + change.updated if i.owner_session}
            if owners - self._writers:
                self._live_writers(max_age=0.5)  # a new owner: is it a registrator's session?
        if change is not None:
            self._notify(change)

    def _notify(self, change: CacheChange) -> None:
        for callback in list(self._listeners):
            callback(change)

    def _live_writers(self, max_age: float | None = None) -> set[int] | None:
        """The sessions of every registrator in an election (active or standby) now, read again
        when the last read is older than `max_age` (None: older than the firing being handled,
        whose change the read must see); each is remembered as a writer. None when the read
        fails (a failover in progress): the caller decides without it."""
        from kazoo.exceptions import KazooException

        from svcctl.errors import NotFoundError, SvcctlError
        from svcctl.registry.election import ELECTION_ROOT
        from svcctl.zk.ops import snapshots

        read_at, sessions = self._live
        fresh = read_at >= self.watcher.item_started if max_age is None else time.monotonic() - read_at <= max_age
        if fresh:
            return sessions
        try:
            nodes = snapshots(self.client, ELECTION_ROOT, max_depth=2)
            sessions = {node.ephemeral_owner for node in nodes.values() if node.ephemeral_owner}
        except NotFoundError:
            sessions = set()
        except (KazooException, SvcctlError):
            return None
        self._live = (time.monotonic(), sessions)
        self._writers |= sessions
        return sessions

    def _keep_orphans(self, change: CacheChange, live: set[int] | None) -> CacheChange | None:
        """Keep the removed instances whose owner was a registrator whose session is gone (not
        one that is alive and deleted them, nor a client that is no registrator). `live`: the
        sessions in an election, read after this firing (the owner's election node goes with
        its session, in the same step); None when the election could not be read: keep them,
        the grace bounds the error. Called with the lock held, in the step that applied the
        change."""
        candidates = [i for i in change.removed if i.owner_session in self._writers]
        kept = candidates if live is None else [i for i in candidates if i.owner_session not in live]
        if not kept:
            return change
        deadline = time.monotonic() + self.orphan_grace
        for instance in kept:
            self._orphans[(change.service, instance.node)] = (instance, deadline)
        timer = threading.Timer(self.orphan_grace, lambda: self._orphan_timer_fired(timer))
        timer.daemon = True
        self._orphan_timers.add(timer)
        timer.start()
        change.removed = [i for i in change.removed if i not in kept]
        if change.removed or change.added or change.updated or change.service_added:
            return change
        return None

    def _orphan_timer_fired(self, timer: threading.Timer) -> None:
        with self._lock:
            self._orphan_timers.discard(timer)
        # Expiry changes reach listeners on the watcher's thread, like every other change.
        self.watcher.call_soon(self._expire_orphans)

    def _expire_orphans(self) -> None:
        now = time.monotonic()
        gone: dict[str, list[Instance]] = {}
        with self._lock:
            for key, (instance, deadline) in list(self._orphans.items()):
                if deadline <= now:
                    del self._orphans[key]
                    if key[1] not in self.table.services.get(key[0], {}):
                        gone.setdefault(key[0], []).append(instance)
        for service, instances in gone.items():
            self._notify(CacheChange(service, removed=instances))

    def orphans(self) -> list[Instance]:
        """Instances kept after their owner's session went, not yet re-registered."""
        with self._lock:
            return [instance for instance, _deadline in self._orphans.values()]

    def known(self, name: str) -> bool:
        with self._lock:
            return name in self.table.services

    def ever_seen(self, name: str) -> bool:
        """Registered now or at some point since start: the registrator deletes a service node
        with its last instance, yet that service is 'without instances', not unknown."""
        with self._lock:
            return name in self.table.services or name in self._seen

    def services(self) -> dict[str, list[Instance]]:
        with self._lock:
            names = set(self.table.services) | {service for service, _node in self._orphans}
            return {name: self._instances(name) for name in sorted(names)}

    def instances(self, name: str) -> list[Instance]:
        with self._lock:
            return self._instances(name)

    def _instances(self, name: str) -> list[Instance]:
        found = self.table.instances(name)
        registered = {i.node for i in found}
        found += [i for (service, node), (i, _d) in self._orphans.items() if service == name and node not in registered]
        return sorted(found, key=lambda i: (i.ip, i.port))

    def pick(self, name: str, exclude: set[str] | None = None) -> Instance | None:
        return self.picker.pick(name, self.instances(name), exclude)


def snapshot_services(
    client: KazooClient, base: str = DEFAULT_BASE, name: str | None = None
) -> dict[str, list[Instance]]:
    """One read of the registry (no watches) for `discover`."""
    from svcctl.zk.ops import children_of, snapshots

    root = f"{base.rstrip('/')}/{name}" if name else base
    try:
        nodes = snapshots(client, root)
    except NotFoundError:
        if name:
            raise NotFoundError(
                f"service {name!r} is not registered (no {root})", "list services with `svcctl discover`"
            ) from None
        return {}  # no registry yet: nothing registered
    children = children_of(nodes)
    names = [name] if name else children.get(root, [])
    out: dict[str, list[Instance]] = {}
    for svc in names:
        svc_path = f"{base.rstrip('/')}/{svc}"
        found = []
        for node in children.get(svc_path, []):
            snapshot = nodes.get(f"{svc_path}/{node}")
            inst = parse_instance(svc, node, snapshot.data if snapshot else None)
            if inst is not None:
                found.append(inst)
        out[svc] = sorted(found, key=lambda i: (i.ip, i.port))
    return out


# --- calls ------------------------------------------------------------------------------------


@dataclass
class CallResult:
    """One HTTP GET of an instance: `svcctl call`'s calls and the scenarios' probes."""

    seq: int = 0
    ok: bool = False
    instance: Instance | None = None
    status: int | None = None
    body: str = ""
    elapsed_ms: float = 0.0
    attempts: list[str] = field(default_factory=list)  # `address: error` of instances that failed first
    error: str | None = None
    path: str = "/"
    expected: str | None = None  # the exact answer a probe wants; None: any 2xx/3xx status will do

    @property
    def url(self) -> str | None:
        return f"http://{self.instance.address}{self.path}" if self.instance else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ok": self.ok,
            "service": self.instance.service if self.instance else None,
            "instance": self.instance.address if self.instance else None,
            "endpoint": self.instance.address if self.instance else None,
            "container": (self.instance.container_name or self.instance.container_id) if self.instance else None,
            "url": self.url,
            "status": self.status,
            "body": self.body,
            "expected": self.expected,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "attempts": self.attempts,
            "error": self.error,
        }


def http_get(
    ip: str, port: int, path: str, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """The one HTTP GET of svcctl (http.client: no proxy from the environment is used)."""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_instance(
    instance: Instance, path: str, timeout: float = 5.0, expected: str | None = None, seq: int = 0
) -> CallResult:
    """One GET of one instance; `ok` when the status is 2xx/3xx, or, with `expected`, when it is
    200 with exactly that body. A connection failure is in `error`, status None."""
    result = CallResult(seq=seq, instance=instance, path=path, expected=expected)
    start = time.perf_counter()
    try:
        status, body = http_get(instance.ip, instance.port, path, timeout)
    except (OSError, http.client.HTTPException) as exc:
        result.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return result
    result.elapsed_ms = (time.perf_counter() - start) * 1000
    result.status, result.body = status, body.decode("utf-8", "replace").strip()
    if expected is None:
        result.ok = 200 <= status < 400
        result.error = None if result.ok else f"HTTP {status}"
    else:
        result.ok = status == 200 and result.body == expected
        result.error = None if result.ok else f"HTTP {status} {result.body!r}"
    return result


def call_once(cache: ServiceCache, name: str, path: str, seq: int, timeout: float = 5.0) -> CallResult:
    """One GET through the cache: pick round-robin; a refused (or otherwise failed) connection is
    retried on the next instance until every live instance was tried once."""
    tried: set[str] = set()
    attempts: list[str] = []
    while True:
        instance = cache.pick(name, exclude=tried)
        if instance is None:
            if not tried:
                error = "unknown service" if not cache.ever_seen(name) else "no live instance"
            else:
                error = "every instance failed"
            return CallResult(seq=seq, path=path, attempts=attempts, error=error)
        tried.add(instance.address)
        result = get_instance(instance, path, timeout, seq=seq)
        if result.status is None:
            attempts.append(f"{instance.address}: {result.error.split(':')[0] if result.error else '?'}")
            continue
        result.attempts = attempts
        return result


def call_service(
    cache: ServiceCache,
    name: str,
    path: str = "/",
    count: int = 10,
    interval: float = 0.5,
    on_result: Callable[[CallResult], None] | None = None,
    timeout: float = 5.0,
) -> list[CallResult]:
    """`count` calls (0 = until interrupted) `interval` seconds apart; results in order (for
    count 0 none are kept: on_result sees each, and an endless run must not grow a list)."""
    if not path.startswith("/"):
        path = "/" + path
    results: list[CallResult] = []
    seq = 0
    while count <= 0 or seq < count:
        seq += 1
        result = call_once(cache, name, path, seq, timeout)
        if count > 0:
            results.append(result)
        if on_result is not None:
            on_result(result)
        if count <= 0 or seq < count:
            time.sleep(interval)
    return results
