"""`svcctl logs [COMPONENT] [-f] [--since]`: the project's containers' logs, as `docker compose
logs` shows them."""

from __future__ import annotations

import typer

from svcctl.walkthrough.logs import components

COMPONENTS_HELP = "zookeeper (the members), registrator, gateway, docker-proxy, or a sample service: " + ", ".join(
    components()[4:]
)


def logs(
    ctx: typer.Context,
    component: str = typer.Argument(
        None, metavar="[COMPONENT]", help=f"{COMPONENTS_HELP} [default: every container of the project]"
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing lines as they come (Ctrl-C ends it)."),
    since: str = typer.Option(
        None,
        "--since",
        metavar="WHEN",
        help="Only lines since then, as docker takes it: a duration (10m, 1h30m) or a time (RFC 3339).",
    ),
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Each line with the engine's time of it."),
) -> None:
    """The project's containers' logs by component, each line prefixed with its container (-f follows)."""
    from svcctl.docker.logs import LogLine, parse_since, read_logs, source_labels
    from svcctl.walkthrough.logs import check_component, log_containers

    check_component(component)
    moment = parse_since(since) if since else None
    chosen, down = log_containers(ctx.obj, component)
    for host in down:
        typer.echo(f"warning: host {host} does not answer; its containers' logs are not shown", err=True)
    width = max(len(label) for label in source_labels(chosen))

    def show(line: LogLine) -> None:
        stamp = f"{line.timestamp} " if timestamps and line.timestamp else ""
        typer.echo(f"{line.source:<{width}} | {stamp}{line.text}")

    read_logs(chosen, show, since=moment, follow=follow)


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)
