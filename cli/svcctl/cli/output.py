"""Printing for every command: tables, JSON, progress lines (stderr) and the error line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import typer


def env_help(text: str, variable: str) -> str:
    """An option's help naming the variable Settings reads in its stead, as typer's `envvar=`
    shows one (typer itself does not read it: Settings.from_environ does, once)."""
    return f"{text}  [env var: {variable}]"


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(rows: Iterable[Iterable[Any]], headers: list[str]) -> None:
    from tabulate import tabulate

    typer.echo(tabulate([["-" if v is None else v for v in row] for row in rows], headers=headers, tablefmt="simple"))


def progress(message: str) -> None:
    """Progress of long work goes to stderr so stdout stays parseable."""
    typer.echo(f"… {message}", err=True)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def error_line(message: str) -> None:
    sys.stderr.write(f"svcctl: error: {message}\n")


def quiet_kazoo_logging() -> None:
    """kazoo logs every refused member at WARNING; with no handler configured Python prints them
    on stderr. A member being down is normal (the next one answers), and none answering is
    reported as one error line, so the CLI silences kazoo's logger."""
    import logging

    logger = logging.getLogger("kazoo")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
