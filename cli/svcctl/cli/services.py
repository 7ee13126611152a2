"""`svcctl up|scale|stop|ps`: the sample services (issue 4)."""

from __future__ import annotations

import typer

from .. import services as core
from ..samples import known_services
from .output import print_json, print_table, progress

SERVICES_HELP = "Sample services: " + ", ".join(known_services()) + "."


def up(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., help=SERVICES_HELP, show_default=False),
) -> None:
    """Start one instance of each service (instances already running are left alone)."""
    scales = core.up(ctx.obj, names, on_progress=progress)
    typer.echo(", ".join(f"{name}: {count} running" for name, count in scales.items()))


def scale(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=SERVICES_HELP, show_default=False),
    count: int = typer.Argument(..., metavar="N", help="Instances to run (0 stops them all).", show_default=False),
) -> None:
    """Run exactly N instances of a service, each on its own random loopback port."""
    core.scale(ctx.obj, name, count, on_progress=progress)
    typer.echo(f"{name}: {count} running")


def stop(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., help=SERVICES_HELP, show_default=False),
) -> None:
    """Stop and remove every instance of the services (their registrations go)."""
    core.stop(ctx.obj, names, on_progress=progress)
    typer.echo("stopped " + ", ".join(dict.fromkeys(names)))


def ps(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Per container: service, state, health, host port, and whether ZooKeeper has its registration."""
    instances = core.ps(ctx.obj)
    if json_out:
        print_json([i.to_dict() for i in instances])
        return
    if not instances:
        typer.echo("no sample service is running (start one with `svcctl up service_1`)")
        return
    print_table(
        [(i.service, i.container, i.state, i.health, i.host_port, i.registered, i.znode) for i in instances],
        ["service", "container", "state", "health", "host port", "in zookeeper", "znode"],
    )


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    # ignore_unknown_options: a negative N ("-1") is an argument to refuse with a reason, not an option.
    app.command("scale", context_settings={"ignore_unknown_options": True})(scale)
    app.command("stop")(stop)
    app.command("ps")(ps)
