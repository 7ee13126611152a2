"""Which kill events drain a container (pure: the signal table)."""

from __future__ import annotations

import pytest

from svcctl.registrator.signals import signal_number, terminating_kill


@pytest.mark.parametrize(
    "signal, stop_signal, expected",
    [
        # Terminating by default, as numbers (engines up to now) and as names (in any spelling).
        ("15", None, True),
        ("SIGTERM", None, True),
        ("TERM", None, True),
        ("sigterm", None, True),
        (" 15 ", None, True),
        ("9", None, True),
        ("SIGKILL", None, True),
        ("2", None, True),
        ("SIGINT", None, True),
        ("3", None, True),
        ("SIGQUIT", None, True),
        # Reload / housekeeping signals: the server goes on serving.
        ("1", None, False),
        ("SIGHUP", None, False),
        ("10", None, False),
        ("SIGUSR1", None, False),
        ("12", None, False),
        ("SIGUSR2", None, False),
        ("28", None, False),
        ("SIGWINCH", None, False),
        ("18", None, False),
        ("SIGCONT", None, False),
        # The container's own STOPSIGNAL is what `docker stop` sends: Apache's graceful stop.
        ("28", "SIGWINCH", True),
        ("SIGWINCH", "28", True),
        ("28", "WINCH", True),
        ("1", "SIGWINCH", False),
        ("37", "SIGRTMIN+3", True),
        ("SIGRTMIN+3", "SIGRTMIN+3", True),
        ("36", "SIGRTMIN+3", False),
        ("15", "SIGWINCH", True),  # a TERM still terminates whatever the image's stop signal
        # Nothing usable: keep the registration (die still follows when the container ends).
        (None, None, False),
        ("", None, False),
        ("SIGBOGUS", None, False),
        ("0", None, False),
        ("99", None, False),
        ("bogus", "bogus", False),
        (None, "SIGTERM", False),
    ],
)
def test_terminating_kill_classification(signal, stop_signal, expected):
    assert terminating_kill(signal, stop_signal) is expected


def test_signal_number():
    assert [
        signal_number(v)
        for v in ("15", "SIGTERM", "term", "SIGRTMIN", "SIGRTMIN+3", "SIGRTMAX-1", "SIGRTMAX+1", "x", None)
    ] == [15, 15, 15, 34, 37, 63, None, None, None]
