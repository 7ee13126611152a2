"""`svcctl discover|call|gateway`: the consumer side (issue 5)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app (filled in by its issue)."""
