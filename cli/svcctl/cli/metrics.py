"""`svcctl metrics up|down|status`: a real Prometheus scraping the project's components, and
`svcctl metrics zk-exporter`: ZooKeeper's `mntr` as Prometheus metrics (the exporter's process)."""

from __future__ import annotations

import typer

from svcctl.cli.output import print_json, print_table, progress

app = typer.Typer(
    help="Prometheus metrics: a real Prometheus scraping the registrators, the gateway (HAProxy and its controller) "
    "and ZooKeeper.",
    no_args_is_help=True,
)


@app.command("up")
def up(
    ctx: typer.Context,
    port: int = typer.Option(9090, "--port", min=1, max=65535, help="Prometheus's port on 127.0.0.1."),
    timeout: float = typer.Option(60, "--timeout", min=1, help="Seconds to wait until Prometheus is ready."),
) -> None:
    """Start Prometheus (and the ZooKeeper exporter) with a scrape configuration generated for
    the project; twice is harmless, a changed configuration recreates it."""
    from svcctl.ensemble import metrics

    info = metrics.up(ctx.obj, port, timeout=timeout, on_progress=progress)
    typer.echo(f"Prometheus {info.container} ready on {info.url} ({len(info.targets)} targets)")


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop and remove Prometheus and the ZooKeeper exporter."""
    from svcctl.ensemble import metrics

    if not metrics.down(ctx.obj, on_progress=progress):
        typer.echo(f"no Prometheus ({metrics.container_name(ctx.obj)}) to remove")


@app.command("status")
def status(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Prometheus's URL and each scrape target's health (up/down) and last error."""
    from svcctl.ensemble import metrics

    info = metrics.status(ctx.obj)
    if json_out:
        print_json(info.to_dict())
        return
    typer.echo(f"Prometheus {info.container} ({info.state}) on {info.url}")
    rows = [
        (
            t.job,
            t.instance,
            " ".join(f"{k}={v}" for k, v in t.labels.items() if k != "project"),
            t.health,
            t.last_error or "",
        )
        for t in info.targets
    ]
    if rows:
        print_table(rows, ["job", "instance", "labels", "health", "last error"])


@app.command("zk-exporter")
def zk_exporter(
    ctx: typer.Context,
    listen: str = typer.Option("127.0.0.1:9184", "--listen", metavar="[HOST:]PORT", help="Where to serve /metrics."),
) -> None:
    """Serve ZooKeeper's `mntr` of every member (--zk) as Prometheus metrics until SIGTERM."""
    import signal
    import threading

    from svcctl.config.settings import parse_listen
    from svcctl.security.mode import client_tls
    from svcctl.zk.exporter import serve

    host, port = parse_listen(listen, "--listen")
    tls = client_tls(ctx.obj)
    members = [(h.host, h.port) for h in ctx.obj.zk_hosts]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = serve(members, host, port, tls.context() if tls is not None else None)
    progress(f"ZooKeeper exporter on http://{host}:{port}/metrics for {', '.join(f'{h}:{p}' for h, p in members)}")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="metrics")
