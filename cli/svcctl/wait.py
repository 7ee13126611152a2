"""The one polling loop: read until a condition holds or a deadline passes (quorum, convergence,
an endpoint answering, an engine starting; the tests wait with it too)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

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
