"""`svcctl hosts up|ls|stop|start|down`: simulated Docker hosts on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from svcctl.cli.output import WIDE_OPT, print_json, print_table, progress, use_wide
from svcctl.progress import no_progress

if TYPE_CHECKING:
    from svcctl.toolkit.hosts import HostInfo

app = typer.Typer(
    help="Simulated Docker hosts: engines in containers, one bridge network, a Docker context each.",
    no_args_is_help=True,
)


def _print_hosts(hosts: list[HostInfo]) -> None:
    if not hosts:
        typer.echo("no host (start some with `svcctl hosts up`)")
        return
    in_swarm = any(h.swarm_role for h in hosts)
    print_table(
        [
            (
                h.name,
                h.address,
                h.state,
                h.engine_version or "-",
                "-" if h.containers is None else h.containers,
                *((f"{h.swarm_role or '-'} ({h.swarm_state})" if h.swarm_state else h.swarm_role or "-",) * in_swarm),
                h.engine,
            )
            for h in hosts
        ],
        ["host / context", "address", "state", "engine", "containers", *(("swarm",) * in_swarm), "endpoint"],
        narrow_drop=("endpoint",),  # tcp://ADDRESS:2376: the address says it
    )


@app.command()
def up(
    ctx: typer.Context,
    count: int = typer.Argument(3, metavar="[N]", help="How many hosts (1-9)."),
    images: str = typer.Option(
        None, "--images", help="Comma-separated images to load [default: every image of the project]."
    ),
    swarm: bool = typer.Option(
        False, "--swarm", help="Join the hosts into one Docker Swarm (managers: 1, or 3 from 3 hosts on)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Start N Docker engines, each in its own container with its own address and context, the
    project's images loaded; with --swarm, joined into one swarm (each node labelled
    io.svcctl.host=<host>)."""
    from svcctl.toolkit import hosts as core

    names = [n.strip() for n in images.split(",") if n.strip()] if images else None
    on_progress = no_progress if json_out else progress
    hosts = core.up(ctx.obj, count, names, on_progress=on_progress)
    if swarm:
        hosts = core.form_swarm(ctx.obj, on_progress=on_progress)
    if json_out:
        print_json([h.to_dict() for h in hosts])
    else:
        _print_hosts(hosts)


@app.command("ls")
def ls(
    ctx: typer.Context,
    wide: bool = WIDE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per host: name (= Docker context), address, state, engine version, running containers."""
    from svcctl.toolkit import hosts as core

    use_wide(wide)
    hosts = core.ls(ctx.obj)
    if json_out:
        print_json([h.to_dict() for h in hosts])
    else:
        _print_hosts(hosts)


@app.command()
def stop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The host, e.g. svcctl-host2."),
    graceful: bool = typer.Option(False, "--graceful", help="Stop the inner containers first instead of a crash."),
) -> None:
    """Crash a host (kill its engine and everything on it); --graceful shuts it down instead."""
    from svcctl.toolkit import hosts as core

    core.stop(ctx.obj, name, graceful, on_progress=progress)
    typer.echo(f"{name} stopped")


@app.command()
def start(ctx: typer.Context, name: str = typer.Argument(..., help="The host, e.g. svcctl-host2.")) -> None:
    """Start a stopped host again (same address); containers with a restart policy come back."""
    from svcctl.toolkit import hosts as core

    host = core.start(ctx.obj, name, on_progress=progress)
    typer.echo(f"{name} running at {host.address} (engine {host.engine_version or '?'})")


@app.command()
def down(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Remove the hosts with everything on them, their volumes, Docker contexts and network."""
    from svcctl.toolkit import hosts as core

    report = core.down(ctx.obj, on_progress=no_progress if json_out else progress)
    if json_out:
        print_json(report.to_dict())
        return
    typer.echo(
        f"removed {len(report.containers)} host(s), {len(report.volumes)} volume(s), {len(report.contexts)} context(s)"
        + (f", network {report.network}" if report.network else "")
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="hosts")
