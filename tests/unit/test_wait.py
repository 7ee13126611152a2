"""The one polling loop: done ends it with the value, the deadline with the last value read, and
an error raised by the read (the thing waited for died) at once."""

import time

import pytest

from svcctl.wait import poll_until


def test_done_returns_the_value_and_the_deadline_the_last_one_read():
    reads = iter(range(100))
    assert poll_until(lambda: next(reads), lambda v: v == 3, time.monotonic() + 5, interval=0) == 3
    last = poll_until(lambda: next(reads), lambda v: False, time.monotonic() + 0.05, interval=0.01)
    assert last > 3  # it kept reading until the deadline, and says what it saw last


def test_an_error_of_the_read_ends_the_wait_at_once():
    started = time.monotonic()

    def read() -> bool:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="exited"):
        poll_until(read, bool, time.monotonic() + 30)
    assert time.monotonic() - started < 1
