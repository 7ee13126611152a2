"""The registrator's Prometheus metrics: what the daemon sees at its seams (events in, writes out,
session and election changes, resyncs, failed steps), counted in a registry of its own (several
registrators may live in one process: the tests) and served over HTTP only when asked
(`-metrics ADDR`; upstream serves none).

The daemon calls the `on_*` methods from its one loop thread; the gauges that mirror state
(registrations held, role) read it when scraped, so they can never drift from the daemon's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info

from svcctl.errors import ConflictError

if TYPE_CHECKING:
    from svcctl.registrator.reconciler import Report
    from svcctl.registrator.writer import Outcome

NAMESPACE = "svcctl_registrator"
SESSION_STATES = ("CONNECTED", "SUSPENDED", "LOST")
# Event → znode: a few ms when the engine is idle, up to a second in a burst on a busy machine.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RegistratorMetrics:
    def __init__(
        self,
        *,
        registrator_id: str,
        engine_id: str,
        base: str,
        registrations: Callable[[], int],
        active: Callable[[], bool],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info(f"{NAMESPACE}", "This registrator: its id, its engine and its base path.", registry=r).info(
            {"registrator": registrator_id, "engine": engine_id, "base": base}
        )
        self.events = Counter(
            f"{NAMESPACE}_events", "Container events received from the engine, by action.", ["action"], registry=r
        )
        self.writes = Counter(
            f"{NAMESPACE}_writes",
            "Writes to ZooKeeper by operation (create, replace, update, delete) and outcome "
            "(done, raced, fenced, failed).",
            ["op", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            f"{NAMESPACE}_event_to_znode_seconds",
            "From the engine's event time to the registration written (or removed) in ZooKeeper.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.resyncs = Counter(
            f"{NAMESPACE}_resyncs", "Full reconciliations against `docker ps`, by reason.", ["reason"], registry=r
        )
        self.errors = Counter(f"{NAMESPACE}_errors", "Failed steps and failed writes, by kind.", ["kind"], registry=r)
        self.session = Enum(
            f"{NAMESPACE}_session_state", "The ZooKeeper session's state.", states=list(SESSION_STATES), registry=r
        )
        self.elections = Counter(f"{NAMESPACE}_elections_won", "Terms won in the election.", registry=r)
        Gauge(
            f"{NAMESPACE}_active",
            "1 while this registrator is the active writer of its engine, 0 on standby.",
            registry=r,
        ).set_function(lambda: 1.0 if active() else 0.0)
        Gauge(
            f"{NAMESPACE}_registrations",
            "Registrations this registrator holds in ZooKeeper (0 on standby).",
            registry=r,
        ).set_function(lambda: float(registrations()))
        self._server = None

    # --- the daemon's seams ----------------------------------------------------------------------

    def on_event(self, action: str) -> None:
        self.events.labels(action=action).inc()

    def on_writes(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self.writes.labels(op=str(outcome.op.kind), outcome=str(outcome.status)).inc()
            if not outcome.ok and str(outcome.status) == "failed":
                self.errors.labels(kind="write").inc()

    def on_synced(self, report: Report, event_time: float, now: float | None = None) -> None:
        """A sync after events: when it wrote, the time since the first of its events."""
        if report.changed:
            self.latency.observe(max(0.0, (now if now is not None else time.time()) - event_time))

    def on_resync(self, reason: str) -> None:
        self.resyncs.labels(reason=reason).inc()

    def on_session(self, state: str) -> None:
        if state in SESSION_STATES:
            self.session.state(state)

    def on_elected(self) -> None:
        self.elections.inc()

    def on_error(self, kind: str) -> None:
        self.errors.labels(kind=kind).inc()

    # --- serving ---------------------------------------------------------------------------------

    def serve(self, host: str, port: int) -> None:
        """/metrics on host:port, in a thread of prometheus_client's own."""
        from prometheus_client import start_http_server

        try:
            self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConflictError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}",
                "give -metrics a free port (or another address)",
            ) from None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class MeteredWriter:
    """The reconciler's writer, its outcomes counted: the one place every write passes."""

    def __init__(self, writer, metrics: RegistratorMetrics) -> None:
        self._writer = writer
        self._metrics = metrics

    def apply(self, ops, fence, encode):
        outcomes = self._writer.apply(ops, fence, encode)
        self._metrics.on_writes(outcomes)
        return outcomes

    def __getattr__(self, name: str):
        return getattr(self._writer, name)
