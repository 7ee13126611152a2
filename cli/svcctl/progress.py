"""How the core reports progress of long work without printing: a callback taking one line."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def no_progress(_message: str) -> None:
    """The default callback: library callers that do not care get silence."""
