"""The one polling loop: done ends it with the value, the deadline with the last value read, and
an error raised by the read (the thing waited for died) at once. The one backoff: its waits grow
to a cap, start over after a reset, end after its tries; a retry through it stops at once when
asked to."""

import threading
import time

import pytest

from svcctl.wait import Backoff, poll_until, retry


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


def test_a_backoff_grows_by_its_factor_up_to_its_cap_and_starts_over_after_a_reset():
    backoff = Backoff(0.5, factor=2, cap=10)
    assert backoff.delay == 0.5 and backoff.failures == 0  # a look does not count
    assert [backoff.failed() for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10, 10, 10]
    assert backoff.failures == 8 and not backoff.exhausted  # no tries given: no end
    backoff.reset()
    assert backoff.failed() == 0.5
    steady = Backoff(1, factor=1)
    assert [steady.failed() for _ in range(3)] == [1, 1, 1]
    down_for_days = Backoff(0.5, factor=2, cap=10)
    assert [down_for_days.failed() for _ in range(5000)][-1] == 10  # no float overflow however long it fails


def test_a_backoff_is_exhausted_after_its_tries():
    backoff = Backoff(1, factor=1, tries=3)
    backoff.failed(), backoff.failed()
    assert not backoff.exhausted
    backoff.failed()
    assert backoff.exhausted


class Busy(Exception):
    pass


def test_retry_tries_again_what_it_is_told_to_and_raises_the_rest_at_once():
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Busy()
        return "removed"

    assert retry(flaky, Backoff(0.001, tries=5), lambda exc: isinstance(exc, Busy)) == "removed" and len(calls) == 3
    calls.clear()
    with pytest.raises(ValueError):
        retry(lambda: calls.append(1) or int("x"), Backoff(0.001, tries=5), lambda exc: isinstance(exc, Busy))
    assert len(calls) == 1


def test_retry_raises_the_last_error_when_the_tries_are_spent():
    calls = []

    def busy() -> None:
        calls.append(1)
        raise Busy(len(calls))

    with pytest.raises(Busy) as info:
        retry(busy, Backoff(0.001, factor=1, tries=4), lambda exc: isinstance(exc, Busy))
    assert len(calls) == 4 and info.value.args == (4,)


def test_retry_ends_at_once_when_stopped_during_a_wait():
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()

    def busy() -> None:
        raise Busy()

    with pytest.raises(Busy):
        retry(busy, Backoff(30), lambda exc: isinstance(exc, Busy), stop=stop)
    assert time.monotonic() - started < 5
