"""`svcctl registrator run`: the registrator daemon (issue 3)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the root app (filled in by its issue)."""
