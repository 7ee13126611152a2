"""Entry point: global options, the command groups, and the one error boundary."""

from __future__ import annotations

import sys

import typer

from .. import __version__
from ..config import Settings, default_zk_connect, parse_zk_hosts
from ..errors import SvcctlError
from . import build, cluster, demo, discover, doctor, registrator, scenario, services, zk

app = typer.Typer(
    name="svcctl",
    help="Automatic service registration: Docker containers → registrator → 3-node ZooKeeper ensemble.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    zk: str = typer.Option(None, "--zk", envvar="SVCCTL_ZK", help="ZooKeeper connection string HOST:PORT[,HOST:PORT...] [default: 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183]"),
    project_dir: str = typer.Option(None, "--project-dir", envvar="SVCCTL_PROJECT_DIR", help="Checkout holding compose/, images/ and services/ [default: found from the current directory]"),
) -> None:
    settings = Settings(zk=zk or default_zk_connect(), project_dir=project_dir)
    parse_zk_hosts(settings.zk)  # a bad --zk fails here, before any command runs
    ctx.obj = settings


@app.command()
def version() -> None:
    """Print svcctl's version."""
    typer.echo(__version__)


# Each command module adds its commands; the order is the order of `svcctl --help`.
for module in (doctor, build, cluster, services, scenario, demo, zk, discover, registrator):
    module.register(app)


def main() -> None:
    from .output import error_line

    try:
        # Standalone mode: Typer itself reports usage errors (exit 2) and Ctrl-C (exit 1).
        app()
    except SvcctlError as exc:
        error_line(exc.one_line())
        if exc.details:
            sys.stderr.write(exc.details.rstrip() + "\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        error_line("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
