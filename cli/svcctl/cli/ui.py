"""`svcctl ui`: the whole system live on a local web page."""

from __future__ import annotations

import typer

from svcctl.cli.output import progress


def ui(
    ctx: typer.Context,
    port: int = typer.Option(8500, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (actions are accepted from loopback clients only)."
    ),
) -> None:
    """The ensemble, the registrators, the services and their instances, the registry beside
    Docker and the live event stream on one web page that updates itself; run a scenario, scale
    a service or stop an instance from it. Ctrl-C ends it."""
    import importlib.util
    import signal
    import threading

    from svcctl.config.settings import parse_ip
    from svcctl.errors import SvcctlError

    if importlib.util.find_spec("flask") is None:
        raise SvcctlError("svcctl ui needs Flask, which is not installed", "pip install 'svcctl[ui]'")
    from svcctl.live.state import LiveState
    from svcctl.live.web import make_server

    host = parse_ip(host, "--host")
    live = LiveState(ctx.obj)
    server = make_server(live, host, port)
    live.start()
    shown = f"[{host}]" if ":" in host else host
    security = live.security
    progress(
        f"svcctl ui on http://{shown}:{server.server_port}/ (project {ctx.obj.project}; "
        + (f"secured cluster, connected as {security['identity']})" if security["identity"] else "open cluster)")
    )
    stopped = threading.Event()

    def stop(*_args) -> None:
        if not stopped.is_set():
            stopped.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
        server.server_close()
    progress("svcctl ui stopped")


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
