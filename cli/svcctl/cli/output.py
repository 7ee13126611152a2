"""Printing for every command: tables, JSON, progress lines (stderr), ages and the error line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import typer

# Every table fits this many columns unless --wide is given.
TABLE_WIDTH = 100
# Between two columns of tabulate's "simple" format.
COLUMN_GAP = 2
# A column wrapped to fit is never narrower than this (nor than its header).
MIN_COLUMN_WIDTH = 8
# A word of the first column up to this long is never cut when a cell wraps (a znode path, a name).
UNBROKEN_WORD = 48


class OutputMode:
    """How this run prints, set once from the command line: `-q` silences progress lines (errors
    and results still print), `--wide` lets tables take the columns they need."""

    quiet: bool = False
    wide: bool = False


WIDE_OPT = typer.Option(
    False, "--wide", help=f"Tables with every column, unwrapped (default: they fit {TABLE_WIDTH} columns)."
)


def use_wide(wide: bool) -> None:
    """A command's `--wide`: its tables keep every column, unwrapped."""
    OutputMode.wide = OutputMode.wide or wide


def env_help(text: str, variable: str) -> str:
    """An option's help naming the variable Settings reads in its stead, as typer's `envvar=`
    shows one (typer itself does not read it: Settings.from_environ does, once)."""
    return f"{text}  [env var: {variable}]"


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def fit_column_widths(
    widths: Sequence[int], floors: Sequence[int], limit: int = TABLE_WIDTH, gap: int = COLUMN_GAP
) -> list[int | None]:
    """The widest a column may be (None: as wide as it is) so that the row fits `limit`: the widest
    columns are capped first, at one common width, never below their floor (the header) or
    MIN_COLUMN_WIDTH. Pure; when even the floors do not fit, every column is at its floor."""
    spacing = gap * max(0, len(widths) - 1)
    if sum(widths) + spacing <= limit:
        return [None] * len(widths)

    def floor(i: int) -> int:
        return min(widths[i], max(floors[i], MIN_COLUMN_WIDTH))

    cap = max(widths)
    while cap > 1 and sum(min(w, max(cap, floor(i))) for i, w in enumerate(widths)) + spacing > limit:
        cap -= 1
    return [max(cap, floor(i)) if w > max(cap, floor(i)) else None for i, w in enumerate(widths)]


def render_table(
    rows: Iterable[Iterable[Any]],
    headers: list[str],
    narrow_drop: Sequence[str] = (),
    wide: bool | None = None,
) -> str:
    """A table as text: within TABLE_WIDTH unless `wide` (default: the run's --wide), by dropping
    the columns named in `narrow_drop`, then wrapping the widest cells at spaces (the first
    column, which names the row, never inside a word of up to UNBROKEN_WORD characters)."""
    from tabulate import tabulate

    wide = OutputMode.wide if wide is None else wide
    cells = [["-" if v is None else v for v in row] for row in rows]
    if not wide and narrow_drop:
        keep = [i for i, h in enumerate(headers) if h not in narrow_drop]
        headers = [headers[i] for i in keep]
        cells = [[row[i] for i in keep] for row in cells]
    maxcolwidths: list[int | None] | None = None
    if not wide and cells:
        # The first column names the row (a znode path, a container, a host): it is never cut
        # inside a word of up to UNBROKEN_WORD characters; the other cells wrap as they must.
        floors = [len(h) for h in headers]
        floors[0] = max(floors[0], *(min(_longest_word(row[0]), UNBROKEN_WORD) for row in cells))
        widths = [max(floors[i], *(_cell_width(row[i]) for row in cells)) for i in range(len(headers))]
        maxcolwidths = fit_column_widths(widths, floors)
        if not any(maxcolwidths):
            maxcolwidths = None
    import tabulate as tabulate_module

    # tabulate pads each header by MIN_PADDING (2) on top of the gap between columns: two
    # columns lost per column. Without it a column is as wide as its widest cell or header.
    padding, tabulate_module.MIN_PADDING = tabulate_module.MIN_PADDING, 0
    try:
        return tabulate(cells, headers=headers, tablefmt="simple", maxcolwidths=maxcolwidths)
    finally:
        tabulate_module.MIN_PADDING = padding


def _longest_word(value: Any) -> int:
    return max((len(word) for word in str(value).split()), default=0)


def _cell_width(value: Any) -> int:
    return max((len(line) for line in str(value).splitlines()), default=0)


def print_table(rows: Iterable[Iterable[Any]], headers: list[str], narrow_drop: Sequence[str] = ()) -> None:
    typer.echo(render_table(rows, headers, narrow_drop))


def progress(message: str) -> None:
    """Progress of long work goes to stderr so stdout stays parseable; `-q` silences it."""
    if not OutputMode.quiet:
        typer.echo(f"… {message}", err=True)


def age_text(seconds: float | None) -> str:
    """How long ago, the one format of every table: `45s`, `12m`, `5h`, `3d` (`-`: unknown)."""
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole}s"
    if whole < 2 * 3600:
        return f"{whole // 60}m"
    if whole < 2 * 86400:
        return f"{whole // 3600}h"
    return f"{whole // 86400}d"


def since_text(moment: float | None, now: float | None = None) -> str:
    """A moment (seconds since the epoch) as its age: `45s ago`; `-` for none."""
    if not moment:
        return "-"
    return f"{age_text((time.time() if now is None else now) - moment)} ago"


def stamp_text(moment: float) -> str:
    """A moment as local date and time: `2024-05-01 12:00:00.123` (a stream's lines)."""
    import datetime

    return datetime.datetime.fromtimestamp(moment).isoformat(sep=" ", timespec="milliseconds")


def moment_text(moment: float, now: float | None = None) -> str:
    """A moment with its date and its age: `2024-05-01 12:00:00.123 (45s ago)`."""
    return f"{stamp_text(moment)} ({since_text(moment, now)})"


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
