"""Which signals end a container: a registration goes at the engine's `kill` event of a
terminating signal (the server starts refusing connections there), not at `die`."""

from __future__ import annotations

import signal as signal_module

# The `kill` event's `signal` attribute is a number on the engines we know ("15") and a name on
# others ("SIGTERM"); a container's Config.StopSignal is usually a name ("SIGWINCH"), sometimes a
# number. The registrator runs on Linux, like the engine, so Python's signal table is theirs.
RTMIN, RTMAX = int(signal_module.SIGRTMIN), int(signal_module.SIGRTMAX)
# Signals whose default action ends the process. Others (HUP, USR1, USR2, WINCH…) are what
# servers use to reload or reopen logs: the container goes on serving, so it stays registered.
TERMINATING_SIGNALS = frozenset(
    int(s) for s in (signal_module.SIGINT, signal_module.SIGQUIT, signal_module.SIGKILL, signal_module.SIGTERM)
)


def signal_number(value: object) -> int | None:
    """ "15", "SIGTERM", "TERM", "sigterm", "SIGRTMIN+3" → a Linux signal number; None when it
    names no signal (absent, empty, unknown)."""
    text = str(value if value is not None else "").strip().upper()
    if text.isdigit():
        number = int(text)
        return number if 0 < number <= RTMAX else None
    text = text.removeprefix("SIG")
    for base, origin, sign in (("RTMIN+", RTMIN, 1), ("RTMAX-", RTMAX, -1)):
        if text.startswith(base) and text[len(base) :].isdigit():
            number = origin + sign * int(text[len(base) :])
            return number if RTMIN <= number <= RTMAX else None
    if text in ("RTMIN", "RTMAX"):
        return RTMIN if text == "RTMIN" else RTMAX
    try:
        return int(signal_module.Signals["SIG" + text])
    except KeyError:
        return None


def terminating_kill(signal: object, stop_signal: object = None) -> bool:
    """Does a `kill` event with this signal mean the container is about to end? Yes for the
    signals that terminate by default, and for the container's own STOPSIGNAL: that is what
    `docker stop` sends, and an image may choose one that terminates only that server gracefully
    (Apache's SIGWINCH: our service_2). No for reload signals (HUP, USR1…) and for an unknown or
    missing signal (die still follows when the container really ends)."""
    number = signal_number(signal)
    if number is None:
        return False
    return number in TERMINATING_SIGNALS or (stop_signal is not None and number == signal_number(stop_signal))
