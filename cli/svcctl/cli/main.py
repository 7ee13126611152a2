"""Entry point: global options, the command groups, and the one error boundary."""

from __future__ import annotations

import sys

import typer

from .. import __version__
from ..config import Settings, default_zk_connect, parse_zk_hosts
from ..errors import BadInputError, SvcctlError
from . import build, cluster, demo, discover, doctor, registrator, scenario, services, zk
from .output import quiet_kazoo_logging

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
    zk_ca: str = typer.Option(None, "--zk-ca", envvar="SVCCTL_ZK_CA", help="CA certificate (PEM) of a secured ensemble: TLS to ZooKeeper [default: the project's .svcctl/pki/ when its cluster is secured]"),
    zk_cert: str = typer.Option(None, "--zk-cert", envvar="SVCCTL_ZK_CERT", help="Client certificate (PEM) for a secured ensemble: the identity its ACLs know."),
    zk_key: str = typer.Option(None, "--zk-key", envvar="SVCCTL_ZK_KEY", help="Private key (PEM) of --zk-cert."),
) -> None:
    quiet_kazoo_logging()
    settings = Settings(zk=zk or default_zk_connect(), project_dir=project_dir, zk_ca=zk_ca, zk_cert=zk_cert, zk_key=zk_key)
    parse_zk_hosts(settings.zk)  # a bad --zk fails here, before any command runs
    ctx.obj = settings


@app.command()
def version(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Print svcctl's version."""
    if json_out:
        import json

        typer.echo(json.dumps({"version": __version__}))
        return
    typer.echo(__version__)


# Each command module adds its commands; the order is the order of `svcctl --help`.
for module in (doctor, build, cluster, services, scenario, demo, zk, discover, registrator):
    module.register(app)


def main() -> None:
    """Run the CLI; every failure ends here as one line on stderr and an exit code from the table
    in errors.py. Click runs in non-standalone mode so usage errors get the same one line."""
    import os

    from ..errors import from_foreign
    from .output import error_line

    try:
        from typer._click import exceptions as click_errors  # typer >= 0.20 vendors click
    except ImportError:  # older typer depends on click itself
        from click import exceptions as click_errors  # type: ignore[no-redef]

    try:
        code = app(standalone_mode=False, prog_name="svcctl")
    except SvcctlError as exc:
        _fail(exc)
    except click_errors.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "svcctl"
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as Click would
            sys.stderr.write(exc.format_message().rstrip() + "\n")
        else:
            message = exc.format_message().rstrip().rstrip(".")
            error_line(f"{message[:1].lower()}{message[1:]}; fix: see `{command} --help`")
        sys.exit(BadInputError.exit_code)
    except (click_errors.Abort, KeyboardInterrupt):
        error_line("interrupted")
        sys.exit(130)
    except click_errors.ClickException as exc:
        error_line(exc.format_message())
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("SVCCTL_DEBUG"):
            raise
        _fail(from_foreign(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _fail(exc: SvcctlError) -> None:
    from .output import error_line

    error_line(exc.one_line())
    if exc.details:
        sys.stderr.write(exc.details.rstrip() + "\n")
    sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
