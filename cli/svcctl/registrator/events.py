"""The engine's event stream as typed events, resumed with `since=` after any error."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from svcctl.registrator.logfmt import log
from svcctl.wait import Backoff

if TYPE_CHECKING:
    import docker

    from svcctl.registrator.inspector import ContainerInspector

# Engine actions that can change what a container registers (ports come with start). `oom` is
# not among them: a `die` follows when the container really ends. `kill` is: `docker stop`
# (and compose's stop/scale-down) first signals the container, which starts shutting down and
# refusing connections there, and emits `die` only when the process has exited, up to the stop
# timeout later. A load balancer drains at the signal; so do we (see signals.terminating_kill).
ACTIONS = frozenset({"start", "restart", "die", "stop", "kill", "pause", "unpause", "destroy", "rename", "update"})
# After these the container registers nothing, so it is not inspected: an inspect during the
# engine's teardown of a dying container waits for that teardown (~100 ms).
GONE_ACTIONS = frozenset({"die", "stop", "pause", "destroy"})
# After these a container registers nothing until it runs again (see drain.py).
HOLD_ACTIONS = frozenset({"die", "stop"})
# These end that hold: the container runs again, or it is gone for good.
HOLD_END_ACTIONS = frozenset({"start", "restart", "destroy"})


@dataclass(frozen=True)
class ContainerEvent:
    container_id: str
    action: str
    time: float  # the engine's event time (epoch seconds)
    signal: str | None = None  # `kill`: the signal, as the engine wrote it
    exit_code: int | None = None  # `die`: the process's exit code
    inspection: Future[dict | None] | None = None  # started when the event arrived

    @property
    def gone(self) -> bool:
        return self.action in GONE_ACTIONS


@dataclass(frozen=True)
class StreamResumed:
    """The stream broke and was resumed: events may have been missed, a full resync is due."""

    since: str | None


def parse_event(raw: dict) -> ContainerEvent | None:
    """A decoded engine event → ContainerEvent, or None when it cannot change registrations."""
    action = (raw.get("Action") or raw.get("status") or "").split(":")[0]
    if action not in ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    container_id = raw.get("id") or actor.get("ID")
    if not container_id:
        return None
    exit_code = attributes.get("exitCode") if action == "die" else None
    return ContainerEvent(
        container_id=container_id,
        action=action,
        time=event_nanos(raw) / 1e9,
        signal=attributes.get("signal") if action == "kill" else None,
        exit_code=int(exit_code) if exit_code is not None and str(exit_code).lstrip("-").isdigit() else None,
    )


def event_nanos(raw: dict) -> int:
    return int(raw.get("timeNano") or int(raw.get("time", time.time())) * 1_000_000_000)


class EngineEventSource:
    """Reads the engine's container events on a thread of its own and posts them in order;
    events that will need `docker inspect` get it started at once (pipelined)."""

    def __init__(
        self,
        engine: docker.DockerClient,
        inspector: ContainerInspector,
        post: Callable[[object], None],
        prefetch_when: Callable[[], bool] = lambda: True,
    ) -> None:
        self.engine = engine
        self.inspector = inspector
        self.post = post
        self.prefetch_when = prefetch_when  # standbys write nothing: they need no inspects
        self._stopping = threading.Event()
        self._stream = None

    def start(self) -> None:
        threading.Thread(target=self._run, name="docker-events", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # the stream may already be broken; closing is best effort
                pass

    def _run(self) -> None:
        since: str | None = None
        backoff = Backoff(0.5, factor=2, cap=10)
        resumed = False
        while not self._stopping.is_set():
            try:
                self._stream = self.engine.events(decode=True, since=since, filters={"type": "container"})
                if resumed:
                    log("event stream resumed", since=since)
                    self.post(StreamResumed(since))
                backoff.reset()
                for raw in self._stream:
                    nano = event_nanos(raw)
                    since = f"{nano // 1_000_000_000}.{nano % 1_000_000_000:09d}"
                    event = parse_event(raw)
                    if event is None:
                        continue
                    if not event.gone and event.action != "kill" and self.prefetch_when():
                        event = replace(event, inspection=self.inspector.prefetch(event.container_id))
                    self.post(event)
                if self._stopping.is_set():
                    return
                raise ConnectionError("event stream closed by the engine")
            except Exception as exc:
                if self._stopping.is_set():
                    return
                delay = backoff.failed()
                log(
                    "event stream lost",
                    logging.WARNING,
                    error=type(exc).__name__,
                    detail=str(exc)[:200] or None,
                    retry_in_s=delay,
                )
                resumed = True
                if self._stopping.wait(delay):
                    return
