"""Reconciliation: what the engine runs → what ZooKeeper holds, for some containers (after their
events) or for all (a full resync), through the fenced writer. Keeps the owned map (container →
the paths we registered for it) and what the engine's events say about containers: draining
after a terminating signal, kept after a failed exit (`-deregister on-success`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from svcctl.registrator.events import HOLD_ACTIONS, HOLD_END_ACTIONS, ContainerEvent
from svcctl.registrator.logfmt import log
from svcctl.registrator.registry import read_nodes, read_tree
from svcctl.registrator.signals import signal_number, terminating_kill
from svcctl.registrator.writer import OutcomeStatus
from svcctl.registry.model import OpKind, Options, Registration, container_registrations, desired_map, plan
from svcctl.registry.payload import RegistrationPayload

if TYPE_CHECKING:
    from concurrent.futures import Future

    from svcctl.registrator.drain import DrainTracker
    from svcctl.registrator.inspector import ContainerInspector
    from svcctl.registrator.writer import FencedWriter, Outcome
    from svcctl.zk.znode import ZnodeSnapshot

FAILED = "failed"  # Report.counts' key of the writes that failed
EMPTY_SERVICE_MIN_AGE_MS = 10_000  # an empty service node younger than this may be about to get a child


@dataclass
class Report:
    # Per op kind, and the writes that failed.
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((*(k.value for k in OpKind), FAILED), 0))
    needs_resync: bool = False  # a write raced, failed or was fenced: re-plan from fresh reads
    fenced: bool = False  # a write found our election lock node gone

    def add(self, other: Report) -> None:
        for kind, count in other.counts.items():
            self.counts[kind] += count
        self.needs_resync |= other.needs_resync
        self.fenced |= other.fenced

    @property
    def changed(self) -> bool:
        return any(count for kind, count in self.counts.items() if kind != OpKind.CONFLICT)


class Reconciler:
    def __init__(
        self,
        *,
        base: str,
        options: Options,
        engine_id: str,
        registrator_id: str,
        inspector: ContainerInspector,
        drains: DrainTracker,
        writer: FencedWriter,
        client,
        keep_failed: bool = False,
    ) -> None:
        self.base = base
        self.options = options
        self.engine_id = engine_id
        self.registrator_id = registrator_id
        self.inspector = inspector
        self.drains = drains
        self.writer = writer
        self.client = client  # a provider of the current kazoo client
        self.keep_failed = keep_failed  # -deregister on-success
        self.owned: dict[str, set[str]] = {}  # container id → paths we registered for it
        self.kept: set[str] = set()  # containers that exited non-zero (kept registered)
        self._conflicts_logged: set[str] = set()

    @property
    def registrations(self) -> int:
        return sum(len(p) for p in self.owned.values())

    # --- what the events say -------------------------------------------------------------------

    def observe(self, event: ContainerEvent) -> bool:
        """Bookkeeping of one event, in the engine's order, whether or not we may write (a standby
        remembers drains for its first resync). Returns whether the container must be synced."""
        cid = event.container_id
        if event.action == "kill":
            if self.keep_failed or not self._starts_drain(event):
                return False  # a reload signal (HUP, USR1…): the container goes on serving
            self.drains.begin(cid)
            log(
                "draining",
                container_id=cid[:12],
                signal=event.signal,
                hold_s=self.drains.hold,
                note="terminating signal: deregistered now, not at die",
            )
        elif event.action in HOLD_ACTIONS and not self.drains.is_draining(cid):
            self.drains.begin(cid)
        elif event.action in HOLD_END_ACTIONS:
            self.drains.end(cid)
        if event.action in ("destroy", "start", "restart"):
            self.kept.discard(cid)
        if event.action == "destroy":
            self.inspector.forget(cid)
        if event.action == "die" and self.keep_failed and event.exit_code:
            self.kept.add(cid)
            log(
                "kept registered",
                container_id=cid[:12],
                exit_code=event.exit_code,
                note="-deregister on-success: until it is removed or runs again",
            )
        return True

    def _starts_drain(self, event: ContainerEvent) -> bool:
        """terminating_kill with the container's STOPSIGNAL, needed only for a signal that does
        not terminate by default (the container still runs: that inspect is quick)."""
        if signal_number(event.signal) is None:
            return False
        if terminating_kill(event.signal):
            return True
        try:
            stop_signal = self.inspector.stop_signal(event.container_id)
        except Exception as exc:  # the engine is busy or gone: keep the registration, die still follows
            log("inspect failed", logging.WARNING, container_id=event.container_id[:12], error=type(exc).__name__)
            return False
        return terminating_kill(event.signal, stop_signal)

    def pending_inspection(self, events: list[ContainerEvent]) -> Future | None:
        """The inspect view() would wait for, while it is still running (None: no wait)."""
        last = events[-1]
        if last.gone or self.drains.is_draining(last.container_id):
            return None
        latest = next((e.inspection for e in reversed(events) if e.inspection is not None), None)
        return latest if latest is not None and not latest.done() else None

    def view(self, events: list[ContainerEvent]) -> dict | None:
        """The container's inspect data after its latest events (None: it registers nothing)."""
        last = events[-1]
        if last.gone or self.drains.is_draining(last.container_id):
            return None
        for event in reversed(events):
            if event.inspection is not None:
                return event.inspection.result()
        return self.inspector.inspect(last.container_id)

    # --- the two kinds of work -------------------------------------------------------------------

    def sync(
        self, views: dict[str, dict | None], *, session: int, fence: str, cause: str, event_time: float | None = None
    ) -> Report:
        """After events: only these containers' nodes are read and written."""
        started = time.time()
        desired: dict[str, Registration] = {}
        for info in views.values():
            desired.update(desired_map(self.registrations_of(info), self.base)[0])
        known = set().union(*(self.owned.get(cid, set()) for cid in views))
        if not desired and not known:
            return Report()
        # Paths we never registered are almost always absent (a container's first start): they
        # are created without a read — one round trip less — and read only when the create finds
        # the node there (a dead registrator's, another engine's), then planned again.
        presumed_absent = set(desired) - known
        report, recheck = self._sync_paths(
            desired, known, views, session, fence, cause, event_time or started, presumed_absent
        )
        if recheck:
            again, _ = self._sync_paths(
                {p: desired[p] for p in recheck}, set(recheck), views, session, fence, cause, event_time or started
            )
            report.add(again)
        for cid in views:
            if cid in self.kept:
                continue
            mine = {p for p, reg in desired.items() if reg.container_id == cid}
            if mine:
                self.owned[cid] = mine
            else:
                self.owned.pop(cid, None)
        return report

    def _sync_paths(
        self,
        desired: dict[str, Registration],
        read: set[str],
        views,
        session: int,
        fence: str,
        cause: str,
        since: float,
        presumed_absent: set[str] = frozenset(),
    ) -> tuple[Report, list[str]]:
        actual = read_nodes(self.client(), sorted(read))
        ops = plan(desired, actual, engine_id=self.engine_id, registrator_id=self.registrator_id, session_id=session)
        # A path of a container's earlier life that another container now holds is not ours to
        # delete, nor is a kept container's (see observe).
        ops = [op for op in ops if not (op.kind == OpKind.DELETE and self._keeps(actual[op.path], views))]
        return self._apply(ops, fence, cause, since, presumed_absent)

    def _keeps(self, node: ZnodeSnapshot, views: Iterable[str] | None = None) -> bool:
        """A delete the plan proposes must not happen: the node is a kept container's or, after
        events of the containers in `views`, another container's."""
        container = _container_of(node)
        return container in self.kept or (views is not None and container not in (*views, None))

    def full_resync(self, *, session: int, fence: str, reason: str) -> Report:
        """The whole BASE tree against `docker ps`: add what is missing, take over what a dead
        registrator of this engine left, fix changed data, remove what no longer runs."""
        started = time.time()
        infos = self.inspector.running_containers()
        self.drains.keep_only(info.get("Id") for info in infos)
        regs = [r for info in infos if not self.drains.is_draining(info.get("Id")) for r in self.registrations_of(info)]
        desired, duplicates = desired_map(regs, self.base)
        for dup in duplicates:
            log(
                "duplicate",
                logging.WARNING,
                path=dup.path(self.base),
                container=dup.container_name,
                protocol=dup.protocol,
            )
        if self.keep_failed:
            self.kept = self.inspector.failed_exits()
        actual, empty = read_tree(self.client(), self.base)
        ops = plan(desired, actual, engine_id=self.engine_id, registrator_id=self.registrator_id, session_id=session)
        ops = [op for op in ops if not (op.kind == OpKind.DELETE and self._keeps(actual[op.path]))]
        report, _ = self._apply(ops, fence, f"resync:{reason}", started)
        self.owned = {}
        for path, reg in desired.items():
            self.owned.setdefault(reg.container_id, set()).add(path)
        if self.kept:  # a kept container's nodes stay its own (decoded only then)
            for path, node in actual.items():
                container = _container_of(node) if path not in desired else None
                if container in self.kept:
                    self.owned.setdefault(container, set()).add(path)
        now_ms = time.time() * 1000
        for parent in empty:
            if self.writer.prune_parent(parent, older_than_ms=EMPTY_SERVICE_MIN_AGE_MS, now_ms=now_ms):
                log("service removed", path=parent, reason="no instances left")
        if report.changed or reason != "periodic":
            log(
                "resync",
                reason=reason,
                containers=len(infos),
                registrations=len(desired),
                duration_ms=round((time.time() - started) * 1000, 1),
                **{k: v for k, v in report.counts.items() if v},
            )
        return report

    def forget_owned(self) -> None:
        """The session is gone and every registration with it."""
        self.owned.clear()

    def registrations_of(self, info: dict | None) -> list[Registration]:
        if info is None:
            return []
        naming = container_registrations(info, self.options)
        for refusal in naming.refused:
            log(
                "refused",
                logging.WARNING,
                container=refusal.container_name,
                port=refusal.port,
                name=refusal.name,
                reason=refusal.reason,
            )
        return naming.registrations

    # --- writing and telling ---------------------------------------------------------------------

    def _apply(
        self, ops, fence: str, cause: str, since: float, presumed_absent: set[str] = frozenset()
    ) -> tuple[Report, list[str]]:
        """Write the plan, count and log the outcomes; returns the report and the presumed-absent
        paths whose create found a node (to read and plan again)."""
        report, recheck = Report(), []
        for op in ops:
            if op.kind == OpKind.CONFLICT:
                report.counts[OpKind.CONFLICT] += 1
                if op.path not in self._conflicts_logged:
                    self._conflicts_logged.add(op.path)
                    log(
                        "conflict",
                        logging.WARNING,
                        path=op.path,
                        reason=op.reason,
                        container=op.registration.container_name,
                    )
        now = time.time()

        def encode(reg: Registration) -> bytes:
            return RegistrationPayload.of(reg, self.engine_id, self.registrator_id, now).encode()

        outcomes = self.writer.apply(ops, fence, encode)
        fenced = 0
        for outcome in outcomes:
            raced = outcome.status is OutcomeStatus.RACED
            if raced and outcome.op.kind == OpKind.CREATE and outcome.op.path in presumed_absent:
                recheck.append(outcome.op.path)
                continue
            if not outcome.ok:
                report.counts[FAILED] += 1
                report.needs_resync = True
                fenced += outcome.status is OutcomeStatus.FENCED
                if outcome.status is not OutcomeStatus.FENCED:
                    log(
                        "write raced" if outcome.status is OutcomeStatus.RACED else "write failed",
                        logging.WARNING,
                        op=outcome.op.kind,
                        path=outcome.op.path,
                        error=outcome.error,
                    )
                continue
            report.counts[outcome.op.kind] += 1
            self._tell(outcome, cause, since)
        report.fenced = fenced > 0
        if fenced:
            log(
                "writes fenced",
                logging.WARNING,
                ops=fenced,
                cause=cause,
                reason="our election lock node is gone: this session is not the elected one",
            )
        for parent in {o.op.path.rsplit("/", 1)[0] for o in outcomes if o.ok and o.op.kind == OpKind.DELETE}:
            if self.writer.prune_parent(parent):
                log("service removed", path=parent, reason="no instances left")
        return report, recheck

    def _tell(self, outcome: Outcome, cause: str, since: float) -> None:
        op, reg = outcome.op, outcome.op.registration
        latency_ms = round((time.time() - since) * 1000, 1)
        if op.kind == OpKind.DELETE:
            log("deregister", path=op.path, reason=op.reason, cause=cause, latency_ms=latency_ms)
            return
        log(
            "register" if op.kind != OpKind.UPDATE else "update",
            path=op.path,
            service=reg.name,
            container=reg.container_name,
            container_id=reg.container_id[:12],
            protocol=reg.protocol,
            takeover=op.kind == OpKind.REPLACE or None,
            cause=cause,
            latency_ms=latency_ms,
        )
        self._conflicts_logged.discard(op.path)


def _container_of(node: ZnodeSnapshot) -> str | None:
    payload = RegistrationPayload.decode(node.data)
    return payload.container_id if payload is not None else None
