"""The whole system as one live snapshot, for `svcctl ui`: the ensemble and its registrators
(`cluster status`'s readers), the registry (a ServiceCache: changes arrive at once, by watch),
Docker's side (`ps`'s cross-check), the gateway (`gateway status`) and an event stream that
joins them (engine events → registrations → gateway changes, with the time between them).

Readers that poll (the ensemble, ps, the gateway) run on one thread every POLL_S; the registry
and the engine's events push. Every change publishes a new snapshot to the subscribers (the
page's server-sent events)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import Settings
from svcctl.progress import Progress

if TYPE_CHECKING:
    from kazoo.client import KazooClient

    from svcctl.config.engines import EngineEndpoint
    from svcctl.consumer.cache import CacheChange, ServiceCache

logger = logging.getLogger(__name__)

POLL_S = 1.0  # the ensemble, ps and the gateway: asked this often
MAX_EVENTS = 300
# How long a registration is matched with the engine event that caused it (timing's pairing).
PAIRING_WINDOW_S = 60.0


@dataclass(frozen=True)
class LiveEvent:
    time: float
    source: str  # docker, registry, gateway, ensemble, registrator, action
    text: str
    latency_ms: float | None = None  # from the engine event that caused it

    def to_dict(self) -> dict:
        return {"time": self.time, "source": self.source, "text": self.text, "latency_ms": self.latency_ms}


class Hub:
    """Subscribers' queues: every published message goes to each (a slow page drops its oldest)."""

    def __init__(self) -> None:
        self._queues: set[queue.Queue[str]] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> queue.Queue[str]:
        q: queue.Queue[str] = queue.Queue(maxsize=64)
        with self._lock:
            self._queues.add(q)
        return q

    def unsubscribe(self, q: queue.Queue[str]) -> None:
        with self._lock:
            self._queues.discard(q)

    def publish(self, message: str) -> None:
        with self._lock:
            queues = list(self._queues)
        for q in queues:
            while True:
                try:
                    q.put_nowait(message)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass


def diff_roles(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines for the registrators whose role changed (a handover reads as both lines)."""
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if new is None:
            lines.append(f"{name} gone (was {old})")
        elif old is None:
            lines.append(f"{name} appears as {new}")
        else:
            lines.append(f"{name}: {old} → {new}")
    return lines


def diff_states(before: dict[str, str], after: dict[str, str], what: str) -> list[str]:
    """Lines for the members (or gateway servers) whose state changed."""
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            lines.append(f"{what} {name}: {old or 'absent'} → {new or 'gone'}")
    return lines


def registry_diff(services: dict[str, list[dict]], docker: list[dict]) -> dict[str, str]:
    """Per znode path, how the registry and Docker disagree (empty: they agree):
    `missing` (a running container of the project has no registration), `stale`, `other-container`,
    and `not-in-docker` (a registration of one of the project's containers that no longer runs)."""
    differences: dict[str, str] = {}
    project_ids = {row["container_id"] for row in docker}
    running_ids = {row["container_id"] for row in docker if row["state"] == "running"}
    for row in docker:
        if row["znode"] and row["registered"] in ("no", "stale", "other-container") and row["state"] == "running":
            differences[row["znode"]] = "missing" if row["registered"] == "no" else row["registered"]
        elif row["znode"] and row["registered"] == "stale":
            differences[row["znode"]] = "stale"
    for name, instances in services.items():
        for inst in instances:
            container = inst.get("container_id") or ""
            if container in project_ids and container not in running_ids:
                differences[f"/services/{name}/{inst['address']}"] = "not-in-docker"
    return differences


class LiveState:
    def __init__(self, settings: Settings, poll_s: float = POLL_S) -> None:
        self.settings = settings
        self.poll_s = poll_s
        self.hub = Hub()
        self.events: deque[LiveEvent] = deque(maxlen=MAX_EVENTS)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._client: KazooClient | None = None
        self._cache: ServiceCache | None = None
        self._engine_started: dict[str, float] = {}  # container id → its engine event's time
        self._registered_at: dict[str, float] = {}  # znode → when the registry told us (timings)
        self._gateway_totals: dict[str, tuple[float, int]] = {}  # server → (when, total sessions)
        self.version = 0
        self.polled: dict[str, Any] = {
            "health": "unknown",
            "members": [],
            "registrators": [],
            "docker": [],
            "gateway": None,
            "errors": {},
        }
        self.action: dict[str, Any] = {"running": None, "last": None}
        self.security = self._security()

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        from svcctl.consumer.cache import ServiceCache
        from svcctl.security.mode import client_tls
        from svcctl.zk.client import make_client, start_client

        tls = client_tls(self.settings)  # a secured cluster: the project's reader identity
        self._client = make_client(self.settings.zk_hosts, tls=tls)
        start_client(self._client, self.settings.zk_hosts, connect_timeout=10.0, tls=tls)
        # No orphan grace: the page shows the registry exactly as it is.
        self._cache = ServiceCache(self._client, orphan_grace=0.0)
        self._cache.add_listener(self._on_registry)
        self._cache.start()
        self._poll_once()
        targets = [(self._poll_loop, (), "ui-poll")]
        for endpoint, host in self._engines():
            targets.append((self._engine_events, (endpoint, host), f"ui-engine-events-{host or 'local'}"))
        for target, args, name in targets:
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._publish()

    def stop(self) -> None:
        self._stop.set()
        if self._cache is not None:
            self._cache.stop()
        if self._client is not None:
            self._client.stop()
            self._client.close()

    # --- the snapshot ----------------------------------------------------------------------------

    def _security(self) -> dict:
        from svcctl.security.mode import OPEN, SECURE, project_mode

        mode = project_mode(self.settings) or OPEN
        if self.settings.zk_ca:
            return {"mode": SECURE, "identity": "the --zk-cert identity"}
        return {"mode": mode, "identity": "reader" if mode == SECURE else None}

    def snapshot(self) -> dict:
        now = time.time()
        services: dict[str, list[dict]] = {}
        if self._cache is not None:
            for name, instances in sorted(self._cache.services().items()):
                rows = []
                for inst in sorted(instances, key=lambda i: i.address):
                    row = inst.to_dict()
                    row["age_s"] = round(now - inst.registered_at, 1) if inst.registered_at else None
                    rows.append(row)
                services[name] = rows
        with self._lock:
            polled = dict(self.polled)
            events = [e.to_dict() for e in self.events]
            action = dict(self.action)
        return {
            "version": self.version,
            "time": now,
            "project": self.settings.project,
            "zk": ",".join(str(h) for h in self.settings.zk_hosts),
            "over_hosts": self.settings.layout is not None,
            "security": self.security,
            "services": services,
            "differences": registry_diff(services, polled["docker"]),
            **polled,
            "events": events,
            "action": action,
        }

    def _publish(self) -> None:
        with self._lock:
            self.version += 1
        self.hub.publish(json.dumps(self.snapshot(), default=str))

    def add_event(self, source: str, text: str, latency_ms: float | None = None, when: float | None = None) -> None:
        with self._lock:
            self.events.append(LiveEvent(when or time.time(), source, text, latency_ms))

    # --- pushed: the registry and the engine -----------------------------------------------------

    def _on_registry(self, change: CacheChange) -> None:
        now = time.time()
        for inst in change.added:
            started = self._engine_started.get(inst.container_id or "")
            latency = round((now - started) * 1000, 1) if started and now - started < PAIRING_WINDOW_S else None
            self.add_event("registry", f"+ /services/{change.service}/{inst.node} ({inst.container_name})", latency)
        for inst in change.removed:
            self.add_event("registry", f"- /services/{change.service}/{inst.node} ({inst.container_name})")
        for inst in change.updated:
            self.add_event("registry", f"~ /services/{change.service}/{inst.node} replaced ({inst.container_name})")
        self._publish()

    def _engines(self) -> list[tuple[EngineEndpoint, str | None]]:
        """The engines whose events the page follows: this command's, and each host's of a
        cluster over hosts or on a swarm (named by its host)."""
        engines: list[tuple[EngineEndpoint, str | None]] = [(self.settings.engine, None)]
        layout = self.settings.layout
        if layout is not None:
            engines += [(m.endpoint, m.context) for m in layout.hosts if m.engine != self.settings.engine.host]
        return engines

    def _engine_events(self, endpoint: EngineEndpoint, host: str | None) -> None:
        """One engine's container events (start, kill, die, stop) of this project's containers
        (Compose's, or its swarm stack's tasks), as the registrators see them."""
        from svcctl.docker.engine import client_for, docker_client
        from svcctl.docker.labels import COMPOSE_PROJECT, STACK_NAMESPACE

        where = f" on {host}" if host else ""
        while not self._stop.is_set():
            try:
                client = client_for(endpoint, timeout=60) if host else docker_client(endpoint, timeout=60)
                stream = client.events(decode=True, filters={"type": "container"})
                for raw in stream:
                    if self._stop.is_set():
                        break
                    action = str(raw.get("Action") or raw.get("status") or "")
                    if action not in ("start", "kill", "die", "stop", "destroy", "restart"):
                        continue
                    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
                    # This project's containers only: the engine may run other stacks.
                    if self.settings.project not in (attributes.get(COMPOSE_PROJECT), attributes.get(STACK_NAMESPACE)):
                        continue
                    when = int(raw.get("timeNano") or 0) / 1e9 or time.time()
                    name = attributes.get("name", str(raw.get("id", ""))[:12])
                    if action == "start":
                        self._engine_started[str(raw.get("id"))] = when
                    signal = f" signal {attributes['signal']}" if action == "kill" and "signal" in attributes else ""
                    self.add_event("docker", f"{action} {name}{signal}{where}", when=when)
                    self._publish()
            except Exception as exc:  # the engine went away: say so once, retry
                self.add_event("docker", f"engine events{where} interrupted: {type(exc).__name__}")
                self._stop.wait(2.0)

    # --- polled: the ensemble, ps, the gateway ---------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                if self._poll_once():
                    self._publish()
            except Exception as exc:  # one failed poll must not end the page's updates
                logger.warning("poll failed: %s", exc)

    def _poll_once(self) -> bool:
        """Read everything that is polled; True when anything changed."""
        from svcctl.ensemble import current
        from svcctl.ensemble.members import ensemble_health
        from svcctl.zk.fourletter import SERVING_MODES

        errors: dict[str, str] = {}
        ensemble = current.ensemble(self.settings)
        members, registrators = [], []
        try:
            nodes = ensemble.status()
            members = [n.to_dict() for n in nodes]
            registrators = [
                r.to_dict() for r in ensemble.registrators(any(n.stats.mode in SERVING_MODES for n in nodes))
            ]
            health = ensemble_health([n.stats.mode for n in nodes])
        except Exception as exc:
            errors["ensemble"] = f"{type(exc).__name__}: {exc}"
            health = "unknown"
        docker = self._read(errors, "docker", self._ps, [])
        gateway = self._read(errors, "gateway", self._gateway, None)
        with self._lock:
            before = self.polled
            after = {
                "health": health,
                "members": members,
                "registrators": registrators,
                "docker": docker,
                "gateway": gateway,
                "errors": errors,
            }
            self.polled = after
        self._tell_changes(before, after)
        return json.dumps(before, sort_keys=True, default=str) != json.dumps(after, sort_keys=True, default=str)

    @staticmethod
    def _read(errors: dict[str, str], what: str, reader: Callable[[], Any], default: Any) -> Any:
        try:
            return reader()
        except Exception as exc:
            errors[what] = f"{type(exc).__name__}: {exc}"
            return default

    def _ps(self) -> list[dict]:
        from svcctl.walkthrough.services import ps, ps_all_hosts

        if self.settings.layout is not None:
            rows, _down = ps_all_hosts(self.settings)
        else:
            rows = ps(self.settings)
        return [r.to_dict() for r in rows]

    def _gateway(self) -> dict | None:
        from svcctl.ensemble import gateway

        if gateway.running_info(self.settings) is None:
            return None
        info = gateway.status(self.settings)
        now = time.time()
        for service in info.services:
            for server in service["servers"]:
                key = f"{service['service']}/{server['server']}"
                then = self._gateway_totals.get(key)
                total = int(server.get("total_sessions") or 0)
                rate = (total - then[1]) / (now - then[0]) if then and now > then[0] else 0.0
                server["rate"] = round(max(0.0, rate), 2)
                self._gateway_totals[key] = (now, total)
        return info.to_dict()

    def _tell_changes(self, before: dict, after: dict) -> None:
        def modes(polled: dict) -> dict[str, str]:
            return {m["container"] or m["member"]: m["mode"] for m in polled["members"]}

        def roles(polled: dict) -> dict[str, str]:
            return {r["container"]: r["role"] for r in polled["registrators"]}

        def servers(polled: dict) -> dict[str, str]:
            gateway = polled.get("gateway") or {}
            return {
                f"{s['service']}/{srv['server']}": srv["state"]
                for s in gateway.get("services", [])
                for srv in s["servers"]
            }

        if before["members"]:  # not on the first read: that is the initial state, not a change
            for line in diff_states(modes(before), modes(after), "member"):
                self.add_event("ensemble", line)
        if before["registrators"]:
            for line in diff_roles(roles(before), roles(after)):
                self.add_event("registrator", line)
        if before.get("gateway") is not None or after.get("gateway") is None:
            for line in diff_states(servers(before), servers(after), "server"):
                self.add_event("gateway", line)

    # --- actions ---------------------------------------------------------------------------------

    def run_action(self, name: str, work: Callable[[Progress], str]) -> bool:
        """Run `work` on a thread of its own, one action at a time; False when one runs already.
        Its progress lines and its outcome go to the event stream."""
        with self._lock:
            if self.action["running"] is not None:
                return False
            self.action = {"running": name, "last": self.action["last"], "started": time.time()}

        def progress(line: str) -> None:
            self.add_event("action", f"{name}: {line}")
            self._publish()

        def run() -> None:
            started = time.time()
            try:
                outcome, ok = work(progress), True
            except Exception as exc:  # an action's failure is shown, never raised into the server
                outcome, ok = f"{type(exc).__name__}: {exc}", False
            with self._lock:
                self.action = {
                    "running": None,
                    "last": {"name": name, "ok": ok, "outcome": outcome, "duration_s": round(time.time() - started, 1)},
                }
            self.add_event("action", f"{name}: {'done' if ok else 'FAILED'} — {outcome}")
            self._publish()

        threading.Thread(target=run, name=f"ui-action-{name}", daemon=True).start()
        self.add_event("action", f"{name}: started")
        self._publish()
        return True
