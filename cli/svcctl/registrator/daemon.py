"""The registrator daemon: wires the parts (see the package's docstring) and dispatches their
typed events on ONE loop thread, so writes are ordered and never race each other.

Threads: the engine's event stream (events.py), the election (leadership.py), kazoo's own
threads (session states), a small inspect pool (inspector.py); each only posts to the queue.
Only the elected registrator writes, and only while its session is the one it was elected with.
"""

from __future__ import annotations

import logging
import os
import queue
import signal as signal_module
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import RegistryUri
from svcctl.errors import DockerUnavailableError
from svcctl.registrator.drain import DRAIN_HOLD_S, DrainTracker
from svcctl.registrator.events import ContainerEvent, EngineEventSource, StreamResumed
from svcctl.registrator.inspector import ContainerInspector
from svcctl.registrator.leadership import Demoted, Elected, Leadership
from svcctl.registrator.logfmt import log
from svcctl.registrator.metrics import MeteredWriter, RegistratorMetrics
from svcctl.registrator.reconciler import Reconciler
from svcctl.registrator.session import RetryPolicy, SessionChanged, SessionKeeper
from svcctl.registrator.writer import FencedWriter
from svcctl.registry.election import election_path
from svcctl.registry.model import Options

if TYPE_CHECKING:
    import docker

    from svcctl.config.engines import EngineEndpoint
    from svcctl.zk.tls import ZkTls

MAX_BATCH = 256  # queued items handled together: a burst's events become one sync


@dataclass
class Config:
    uri: RegistryUri
    options: Options
    registrator_id: str
    resync: float = 30.0  # seconds between full reconciliations; 0 = only on (re)connects
    session_timeout: float = 10.0
    handover_wait: float = 5.0  # on SIGTERM: how long to wait for a standby to take over
    drain_hold: float = DRAIN_HOLD_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keep_failed: bool = False  # -deregister on-success: keep containers that exited non-zero
    tls: ZkTls | None = None  # a secured ensemble: TLS, and the identity our nodes' ACLs name
    swarm_node_ip: bool = False  # -swarm-node-ip: advertise the address of the engine's swarm node
    metrics: tuple[str, int] | None = None  # -metrics HOST:PORT: serve Prometheus metrics there


@dataclass(frozen=True)
class StopRequested:
    reason: str


def default_registrator_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def connect_engine(engine: EngineEndpoint) -> docker.DockerClient:
    """The engine client; a missing socket is a clear, fatal error (exit 3 at the CLI)."""
    from svcctl.docker.engine import docker_client

    address = engine.host
    if address.startswith("unix://") and not os.path.exists(address[len("unix://") :]):
        raise DockerUnavailableError(
            f"Docker socket {address[len('unix://') :]} does not exist",
            "mount it into the registrator (-v /var/run/docker.sock:/var/run/docker.sock:ro) or set DOCKER_HOST",
        )
    return docker_client(engine, timeout=30)


def swarm_node_address(client: docker.DockerClient) -> str:
    """The address the engine's swarm node advertises: where its tasks' host-mode ports are
    reached from the other nodes (a mode: global registrator is given no address of its own)."""
    from svcctl.docker.swarm import node_address
    from svcctl.errors import BadInputError

    address = node_address(client)
    if address is None:
        raise BadInputError(
            "-swarm-node-ip: the engine is in no swarm",
            "run it on a swarm node (`svcctl hosts up 3 --swarm`), or give the address with -ip",
        )
    return address


class Registrator:
    def __init__(self, config: Config, engine: docker.DockerClient, engine_id: str) -> None:
        self.config = config
        self.engine_id = engine_id
        # SimpleQueue, not Queue: stop() puts from the SIGTERM handler, which runs on the main
        # thread, possibly while that thread is inside get(). Queue's lock is not reentrant (a
        # deadlock); SimpleQueue.put is reentrant and documented as safe from signal handlers.
        self.queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.inspector = ContainerInspector(engine)
        # Counted always (cheap), served only with -metrics. The gauges read the parts made below.
        self.metrics = RegistratorMetrics(
            registrator_id=config.registrator_id,
            engine_id=engine_id,
            base=config.uri.base,
            registrations=lambda: self.reconciler.registrations,
            active=lambda: self.leadership.active,
        )
        self.session = SessionKeeper(config.uri.hosts, config.session_timeout, self.queue.put, tls=config.tls)
        self.reconciler = Reconciler(
            base=config.uri.base,
            options=config.options,
            engine_id=engine_id,
            registrator_id=config.registrator_id,
            inspector=self.inspector,
            drains=DrainTracker(config.drain_hold),
            writer=MeteredWriter(FencedWriter(lambda: self.session.client), self.metrics),
            client=lambda: self.session.client,
            keep_failed=config.keep_failed,
        )
        self.leadership = Leadership(
            self.session,
            election_path(engine_id, config.uri.base),
            config.registrator_id,
            engine_id,
            config.uri.base,
            self.queue.put,
            lambda: self.reconciler.registrations,
            x509_identity=config.tls.identity() if config.tls is not None else None,
        )
        self.events = EngineEventSource(engine, self.inspector, self.queue.put, prefetch_when=self.leadership.can_write)
        self.dirty = True  # a full resync is due as soon as we may write
        self.next_resync = 0.0
        self.stopping = threading.Event()
        self.stopped = threading.Event()
        self.hand_over = False

    # --- lifecycle -------------------------------------------------------------------------------

    def run(self) -> None:
        """Blocks until stop(). ZooKeeper being down at start is waited out as the retry policy
        says (ZooKeeperUnavailableError when exhausted)."""
        c = self.config
        log(
            "starting",
            registrator=c.registrator_id,
            engine=self.engine_id,
            zk=c.uri.connect_string(),
            base=c.uri.base,
            resync_s=c.resync,
            session_timeout_s=c.session_timeout,
            ip=c.options.ip,
            internal=c.options.internal,
            explicit=c.options.explicit,
            label_filter=" ".join(map(str, c.options.label_filters)) or None,
            deregister="on-success" if c.keep_failed else "always",
            retry_attempts=c.retry.attempts,
            tls=c.tls is not None,
            identity=c.tls.identity() if c.tls is not None else None,
            docker_host=os.environ.get("DOCKER_HOST"),
            metrics=f"{c.metrics[0]}:{c.metrics[1]}" if c.metrics else None,
        )
        try:
            if c.metrics is not None:
                self.metrics.serve(*c.metrics)
            if not self.session.connect(c.retry, self.stopping):
                return
            self.metrics.on_session("CONNECTED")
            self.events.start()
            self.leadership.start()
            self._loop()
        finally:
            self._shutdown()

    def stop(self, reason: str = "stop requested") -> None:
        """Safe from a signal handler: only sets flags and wakes the loop."""
        if not self.stopping.is_set():
            self.hand_over = self.leadership.active
            # stopping before the term ends: Demoted must find it set, so the owned paths are
            # kept for the handover (see handle).
            self.stopping.set()
            self.leadership.stop()
            self.queue.put(StopRequested(reason))

    def _shutdown(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.events.stop()
        if self.session.client is not None:
            if self.hand_over:
                paths = [p for ps in self.reconciler.owned.values() for p in ps]
                self.leadership.wait_for_handover(paths, self.config.handover_wait)
            self.session.close()
        self.inspector.close()
        self.metrics.close()
        log("stopped", registrator=self.config.registrator_id)

    # --- the loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.is_set():
            batch = self._next_batch()
            try:
                self.handle(batch)
                for cid in self.reconciler.drains.expire():
                    self.dirty = True  # still running after the signal? the resync registers it again
                    log("drain hold expired", container_id=cid[:12], hold_s=self.config.drain_hold)
                if self.session.check_dead() or self.session.check_stuck():
                    self._on_session(SessionChanged("LOST", replaced=True))
                resync_due = self.config.resync > 0 and time.monotonic() >= self.next_resync
                if self.leadership.can_write() and (self.dirty or resync_due):
                    self._resync("state change" if self.dirty else "periodic")
            except Exception as exc:  # one failed step must never end the daemon
                self.dirty = True
                self.metrics.on_error("step")
                log("step failed", logging.WARNING, error=type(exc).__name__, detail=str(exc)[:300] or None)
                time.sleep(0.2)

    def _next_batch(self) -> list[object]:
        timeout = 1.0
        if self.config.resync > 0 and self.leadership.active:
            timeout = max(0.05, min(timeout, self.next_resync - time.monotonic()))
        try:
            batch = [self.queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def handle(self, batch: list[object]) -> None:
        """One batch of queued items, in order; the container events among them become one sync."""
        synced: dict[str, list[ContainerEvent]] = {}
        for item in batch:
            match item:
                case ContainerEvent():
                    self.metrics.on_event(item.action)
                    if self.reconciler.observe(item):
                        synced.setdefault(item.container_id, []).append(item)
                case StreamResumed():
                    self.dirty = True
                    log("resync requested", reason="event stream resumed")
                case SessionChanged():
                    self._on_session(item)
                case Elected():
                    self.dirty = True
                    self.metrics.on_elected()
                case Demoted():
                    # Not when stopping: the handover needs the paths we own (the session lives
                    # on until the successor has taken them over).
                    if not self.stopping.is_set():
                        self.reconciler.forget_owned()
                case StopRequested(reason=reason):
                    log("stopping", reason=reason, active=self.leadership.active)
        # Containers are written as soon as their inspects are in: one slow inspect (the engine
        # busy with a burst) holds back only its own container. While dirty, the full resync
        # that follows covers them all.
        while synced and self.leadership.can_write() and not self.dirty:
            pending = {
                cid: f
                for cid, events in synced.items()
                if (f := self.reconciler.pending_inspection(events)) is not None
            }
            if len(pending) == len(synced):
                futures.wait(pending.values(), return_when=futures.FIRST_COMPLETED)
                continue
            ready = {cid: synced.pop(cid) for cid in list(synced) if cid not in pending}
            self._sync(ready)

    def _sync(self, containers: dict[str, list[ContainerEvent]]) -> None:
        views = {cid: self.reconciler.view(events) for cid, events in containers.items()}
        cause = ",".join(sorted({e.action for events in containers.values() for e in events}))
        first = min(e.time for events in containers.values() for e in events)
        report = self.reconciler.sync(
            views, session=self.leadership.lead_session, fence=self.leadership.lead_node, cause=cause, event_time=first
        )
        self.metrics.on_synced(report, first)
        self._after_writes(report)

    def _resync(self, reason: str) -> None:
        self.dirty = False
        self.next_resync = time.monotonic() + self.config.resync
        self.metrics.on_resync(reason)
        self._after_writes(
            self.reconciler.full_resync(
                session=self.leadership.lead_session, fence=self.leadership.lead_node, reason=reason
            )
        )
        self.leadership.publish_identity()

    def _after_writes(self, report) -> None:
        if report.needs_resync:
            self.dirty = True  # re-planned from fresh reads, once we may write (again)
        if report.fenced:
            self.leadership.demote()  # our lock node is gone: this term is void, contend again

    def _on_session(self, change: SessionChanged) -> None:
        self.dirty = True
        self.session.note_state(change.state)
        self.metrics.on_session(change.state)
        if change.state == "SUSPENDED":
            log(
                "zookeeper suspended",
                logging.WARNING,
                note="connection to the member lost; keeping state and waiting for the session to move",
            )
        elif change.state == "LOST":
            self.leadership.demote()
            log(
                "zookeeper session lost",
                logging.WARNING,
                registrations=self.reconciler.registrations,
                replaced=change.replaced or None,
                note="every registration of the session is gone; re-creating them after reconnect and re-election",
            )
            self.reconciler.forget_owned()
        elif change.state == "CONNECTED":
            session = self.session.session_id
            log(
                "zookeeper connected",
                session=hex(session),
                member=self.session.member(),
                same_session=session == self.leadership.lead_session if self.leadership.active else None,
            )


def run_registrator(
    config: Config,
    engine: EngineEndpoint,
    install_signals: bool = True,
    on_ready: Callable[[Registrator], None] | None = None,
) -> None:
    """Connect to `engine` (Settings.engine: in a registrator's container, its DOCKER_HOST or the
    mounted socket), then run until SIGTERM/SIGINT (an immediate handover to a standby when we
    are active)."""
    import sys

    from svcctl.docker.engine import engine_id

    # An event crosses three threads (engine stream, inspect pool, loop) and kazoo's two: with
    # CPython's default 5 ms GIL switch interval each hand-off can wait that long under a burst.
    sys.setswitchinterval(0.0005)
    client = connect_engine(engine)
    if config.swarm_node_ip:
        config = replace(config, options=replace(config.options, ip=swarm_node_address(client)))
    registrator = Registrator(config, client, engine_id(client))
    if install_signals:

        def handle(signum: int, _frame: Any) -> None:
            registrator.stop(f"signal {signal_module.Signals(signum).name}")

        signal_module.signal(signal_module.SIGTERM, handle)
        signal_module.signal(signal_module.SIGINT, handle)
    if on_ready is not None:
        on_ready(registrator)
    registrator.run()
