"""`svcctl up|scale|stop|ps`: the sample services (issue 4)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app (filled in by its issue)."""
