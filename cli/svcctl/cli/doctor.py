"""`svcctl doctor [--fix] [--json]`."""

from __future__ import annotations

import typer

from svcctl.cli.output import print_json, print_table, progress
from svcctl.errors import CheckFailedError
from svcctl.progress import no_progress
from svcctl.security.mode import client_tls
from svcctl.toolkit.doctor import fix as fix_all
from svcctl.toolkit.doctor import run_checks


def doctor(
    ctx: typer.Context,
    fix: bool = typer.Option(False, "--fix", help="Install and start what is missing (root on Debian/Ubuntu)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check the engine, Compose v2, the API version, the base image, ZooKeeper and whether it is
    secured (in that order)."""
    settings = ctx.obj
    tls = client_tls(settings)
    checks = fix_all(settings, no_progress if json_out else progress, tls) if fix else run_checks(settings, tls)
    if json_out:
        print_json([c.to_dict() for c in checks])
    else:
        print_checks(checks)
    failed = [c.name for c in checks if c.required and not c.ok]
    if failed:
        raise CheckFailedError(
            f"doctor: {', '.join(failed)} failed", "run `svcctl doctor --fix` as root, or follow the fix column"
        )


def print_checks(checks: list) -> None:
    """The doctor's table (`doctor`, `demo`): each check, OK/FAIL/WARN, what it saw, the fix."""
    print_table(
        [(c.name, c.status, c.detail, "" if c.ok else c.fix) for c in checks], ["check", "status", "detail", "fix"]
    )


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
