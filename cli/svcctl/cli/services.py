"""`svcctl up|scale|stop|ps`: the sample services."""

from __future__ import annotations

import typer

from svcctl.cli.output import WIDE_OPT, print_json, print_table, progress, use_wide
from svcctl.walkthrough import services as core
from svcctl.walkthrough.samples import known_services

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
    """Stop and remove every instance of the services (their registrations go); unlike `docker
    compose stop`, nothing is kept: the next `up` starts a fresh container."""
    core.stop(ctx.obj, names, on_progress=progress)
    typer.echo("stopped " + ", ".join(dict.fromkeys(names)))


def ps(
    ctx: typer.Context,
    all_hosts: bool = typer.Option(
        False,
        "--all-hosts",
        help="Every host of the cluster recorded by `cluster up --hosts` (on a swarm: always).",
    ),
    wide: bool = WIDE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per container: service, state, health, host port, and whether ZooKeeper has its registration."""
    use_wide(wide)
    down: list[str] = []
    all_hosts = all_hosts or core.on_swarm(ctx.obj)  # a swarm's tasks run on every node
    if all_hosts:
        instances, down = core.ps_all_hosts(ctx.obj)
    else:
        instances = core.ps(ctx.obj)
    if json_out:
        rows = [ps_json(i) for i in instances]
        print_json({"instances": rows, "hosts_down": down} if all_hosts else rows)
        return
    for host in down:
        typer.echo(f"warning: host {host} does not answer; its containers are not listed", err=True)
    if not instances:
        typer.echo("no sample service is running (start one with `svcctl up service_1`)")
        return
    print_ps(instances, all_hosts)


def ps_json(row: core.PsRow) -> dict:
    """A container of `ps --json`: `registered` says how it stands (one of six), `in_zookeeper`
    whether its own registration is there."""
    return {**row.to_dict(), "in_zookeeper": row.registered == core.Registered.YES}


def print_ps(instances: list[core.PsRow], all_hosts: bool = False) -> None:
    """`ps`'s table; the znode column (its service and host port say it) only with --wide."""
    print_table(
        [
            ((i.host,) if all_hosts else ())
            + (i.service, i.container, i.state, i.health, i.host_port, i.registered, i.znode)
            for i in instances
        ],
        (["host"] if all_hosts else [])
        + ["service", "container", "state", "health", "host port", "in zookeeper", "znode"],
        narrow_drop=("znode",),
    )


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    # ignore_unknown_options: a negative N ("-1") is an argument to refuse with a reason, not an option.
    app.command("scale", context_settings={"ignore_unknown_options": True})(scale)
    app.command("stop")(stop)
    app.command("ps")(ps)
