"""Waiting and retrying: the one polling loop (read until a condition holds or a deadline passes:
quorum, convergence, an endpoint answering, an engine starting; the tests wait with it too) and
the one backoff (the waits between the tries of what fails for a while: an engine's event
stream, a volume still in use, the registrator's session). A ZooKeeper operation that fails
retries with kazoo's own KazooRetry."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(read: Callable[[], T], done: Callable[[T], bool], deadline: float, interval: float = 0.1) -> T:
    """Call `read` until `done(value)` holds or `deadline` (time.monotonic()) passes, sleeping
    `interval` between reads; returns the last value read, so the caller tells success from
    timeout with `done(value)` and can report what it saw last."""
    while True:
        value = read()
        if done(value):
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return value
        time.sleep(min(interval, remaining))


class Backoff:
    """The waits between the tries of something that fails for a while: `initial` seconds after
    the first failure, `factor` times the previous wait after each further one, never more than
    `cap`; `tries` (None: no end) bounds how many tries there are. `reset` after a success, so
    that the next fault starts again at `initial`."""

    def __init__(self, initial: float, factor: float = 2.0, cap: float = math.inf, tries: int | None = None) -> None:
        self.initial, self.factor, self.cap, self.tries = initial, factor, cap, tries
        self.failures = 0  # since the last reset
        self.delay = min(cap, initial)  # the wait the next failure calls for

    def failed(self) -> float:
        """One more failure: the wait before the next try."""
        delay = self.delay
        self.failures += 1
        # Grown from the last wait, not as initial·factor**failures: a stream that stays down
        # for days counts failures no float power of them survives.
        self.delay = min(self.cap, delay * self.factor)
        return delay

    @property
    def exhausted(self) -> bool:
        """Every try is spent: no next one."""
        return self.tries is not None and self.failures >= self.tries

    def reset(self) -> None:
        self.failures = 0
        self.delay = min(self.cap, self.initial)


def retry(
    call: Callable[[], T], backoff: Backoff, retry_on: Callable[[Exception], bool], stop: threading.Event | None = None
) -> T:
    """`call` until it returns. An exception `retry_on` accepts is tried again after the
    backoff's next wait; it is raised when the tries are spent, at once when `stop` is set
    during a wait, and any other exception at once."""
    while True:
        try:
            return call()
        except Exception as exc:
            if not retry_on(exc):
                raise
            delay = backoff.failed()
            if backoff.exhausted:
                raise
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                raise
