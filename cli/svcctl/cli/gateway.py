"""`svcctl gateway [--port P]` (foreground) and `svcctl gateway up|down|status` (the project's
gateway container): HAProxy in the data path, driven from ZooKeeper."""

from __future__ import annotations

import typer

from svcctl.cli.output import print_json, print_table, progress

app = typer.Typer(
    help="The HTTP gateway: header service_name (+ api_name) → a live instance, through HAProxy fed from ZooKeeper. "
    "Without a subcommand it runs in the foreground (a local haproxy; Ctrl-C ends it); `up` runs it in the background "
    "as part of the project.",
    invoke_without_command=True,
)

PORT_HELP = "Port to listen on (0: any free port)."
HOST_HELP = "Address to listen on."
STATS_HELP = "Port of HAProxy's stats page on 127.0.0.1 (0: any free port)."


@app.callback()
def gateway(
    ctx: typer.Context,
    port: int = typer.Option(8080, "--port", min=0, max=65535, help=PORT_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help=HOST_HELP),
    stats_port: int = typer.Option(8404, "--stats-port", min=0, max=65535, help=STATS_HELP),
) -> None:
    """Without a subcommand: the gateway in the foreground (the controller and a local haproxy;
    Ctrl-C ends it). GET /services lists what it knows."""
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from svcctl.consumer.gateway.controller import run_gateway
    from svcctl.security.mode import client_tls
    from svcctl.security.pki import GATEWAY_READER

    tls = client_tls(ctx.obj, identity=f"reader:{GATEWAY_READER}")  # the gateway's own reader identity
    stop = threading.Event()
    # `docker stop` (SIGTERM) ends the gateway like Ctrl-C: HAProxy stops softly, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def ready(controller) -> None:
        known = ", ".join(f"{n} ({len(i)})" for n, i in controller.cache.services().items()) or "none yet"
        progress(
            f"gateway listening on http://{controller.host}:{controller.port}; stats on "
            f"http://127.0.0.1:{controller.stats_port}/; services: {known}"
        )

    try:
        run_gateway(ctx.obj.zk_hosts, host, port, stats_port, on_event=progress, on_ready=ready, stop=stop, tls=tls)
    except KeyboardInterrupt:
        pass
    progress("gateway stopped")


@app.command("up")
def up(
    ctx: typer.Context,
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help=HOST_HELP),
    stats_port: int = typer.Option(
        8404, "--stats-port", min=1, max=65535, help="Port of HAProxy's stats page on 127.0.0.1."
    ),
    timeout: float = typer.Option(60, "--timeout", min=1, help="Seconds to wait until it answers."),
) -> None:
    """Start the gateway in the background, as part of the project (host network); twice is
    harmless, changed options recreate it."""
    from svcctl.ensemble import gateway as stack

    info = stack.up(ctx.obj, host, port, stats_port, timeout=timeout, on_progress=progress)
    typer.echo(f"gateway {info.container} answers on {info.url}; stats page {info.stats_url}")


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop and remove the gateway's container."""
    from svcctl.ensemble import gateway as stack

    if not stack.down(ctx.obj, on_progress=progress):
        typer.echo(f"no gateway ({stack.container_name(ctx.obj)}) to remove")


@app.command("status")
def status(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Per service its servers: state (UP/DOWN/MAINT/DRAIN), current sessions, totals, from
    HAProxy's own stats; and the stats page's URL."""
    from svcctl.ensemble import gateway as stack

    info = stack.status(ctx.obj)
    if json_out:
        print_json(info.to_dict())
        return
    typer.echo(f"gateway {info.container} ({info.state}) on {info.url}; stats page {info.stats_url}")
    print_servers(info)


def print_servers(info) -> None:
    """`gateway status`' table: each service (all its servers), then each server."""
    rows = []
    for service in info.services:
        rows.append((service["service"], "(all)", "", service["current_sessions"], service["total_sessions"]))
        for server in service["servers"]:
            rows.append(("", server["server"], server["state"], server["current_sessions"], server["total_sessions"]))
    if rows:
        print_table(rows, ["service", "server", "state", "sessions", "total"])
    elif info.state == "running":
        typer.echo("no services yet")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="gateway")
