"""Containers that must stay unregistered until they run again: those that got a terminating
signal and may still run while they shut down, and those that ended.

Their registrations go at the signal (or at die); without this record a resync would see them in
`docker ps` and register them again — for the rest of a drain, and even just after `die`: the
engine's container list can still show a container as running for a moment after its die event.
Every registrator keeps it, active or standby (all read the events), so a takeover mid-drain does
not re-register either, and keeps it across session loss: it is the engine's state, not
ZooKeeper's. An entry ends when the container runs again (start/restart), when it is destroyed
or no longer listed by `docker ps`, or at its deadline: a container that ignored the signal and
keeps serving is registered again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

# A `docker stop` ends in SIGKILL after its timeout (10 s by default, compose's
# stop_grace_period), so `die` normally comes long before the hold ends; a container that ignores
# a `docker kill -s TERM` and keeps serving must not stay out of ZooKeeper forever.
DRAIN_HOLD_S = 180.0


class DrainTracker:
    def __init__(self, hold: float = DRAIN_HOLD_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold = hold
        self.clock = clock
        self._deadlines: dict[str, float] = {}

    def begin(self, container_id: str) -> None:
        self._deadlines[container_id] = self.clock() + self.hold

    def end(self, container_id: str) -> None:
        self._deadlines.pop(container_id, None)

    def is_draining(self, container_id: str) -> bool:
        deadline = self._deadlines.get(container_id)
        return deadline is not None and self.clock() < deadline

    def expire(self) -> list[str]:
        """End the holds that passed; returns those containers (still running? register again)."""
        now = self.clock()
        expired = [cid for cid, deadline in self._deadlines.items() if now >= deadline]
        for cid in expired:
            del self._deadlines[cid]
        return expired

    def keep_only(self, running: Iterable[str]) -> None:
        """Forget containers no longer running (their die may have come while we read)."""
        alive = set(running)
        for cid in [c for c in self._deadlines if c not in alive]:
            del self._deadlines[cid]

    def __len__(self) -> int:
        return len(self._deadlines)
