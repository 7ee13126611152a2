"""`svcctl discover|call`: the consumer side; the gateway is in gateway.py."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from svcctl.cli.output import age_text, print_json, print_table, progress
from svcctl.consumer.cache import Strategy
from svcctl.security.mode import client_tls

if TYPE_CHECKING:
    from svcctl.consumer.cache import CacheChange


def report_change(change: CacheChange) -> None:
    """A progress line per instance added or removed after the initial load (call)."""
    if change.event is not None and change.event.initial:
        return
    for inst in change.added:
        progress(f"{change.service}: instance added: {inst.label}")
    for inst in change.removed:
        progress(f"{change.service}: instance removed: {inst.label}")
    if change.service_removed:
        progress(f"{change.service}: service removed")


def _client(ctx: typer.Context):
    from svcctl.zk.client import started_client

    hosts = ctx.obj.zk_hosts
    client = started_client(hosts, connect_timeout=5.0, tls=client_tls(ctx.obj))
    return client


def discover(
    ctx: typer.Context,
    name: str = typer.Argument(None, help="One service (default: all)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Services and their instances: address, container, age."""
    from svcctl.consumer.cache import snapshot_services
    from svcctl.zk.client import zk_session

    with zk_session(ctx.obj.zk_hosts, tls=client_tls(ctx.obj)) as client:
        services = snapshot_services(client, name=name)
    if json_out:
        print_json({svc: [i.to_dict() for i in insts] for svc, insts in services.items()})
        return
    print_services(services)


def print_services(services: dict) -> None:
    """`discover`'s table: service -> its instances (Instance each)."""
    rows = []
    for svc, insts in services.items():
        if not insts:
            rows.append((svc, "(no instances)", None, None))
        for inst in insts:
            rows.append(
                (
                    svc,
                    inst.address,
                    inst.container_name or (inst.container_id or "")[:12] or None,
                    age_text(time.time() - inst.registered_at) if inst.registered_at else None,
                )
            )
    if rows:
        print_table(rows, ["service", "address", "container", "age"])
    else:
        typer.echo("no services registered")


def call(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Service name."),
    path: str = typer.Argument("/", help="HTTP path to GET."),
    count: int = typer.Option(10, "--count", "-n", min=0, help="Number of calls (0 = until Ctrl-C)."),
    interval: float = typer.Option(0.5, "--interval", min=0, help="Seconds between calls."),
    strategy: Strategy = typer.Option(
        Strategy.round_robin.value, "--strategy", help="How to pick the instance of each call."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per call, per line."),
) -> None:
    """HTTP GETs through the live cache, round-robin; prints which instance answered.
    Exit 0 only when every call was answered with a 2xx/3xx status."""
    import json

    from svcctl.consumer.cache import ServiceCache, call_service
    from svcctl.errors import CheckFailedError, NotFoundError

    client = _client(ctx)
    try:
        cache = ServiceCache(client, name, strategy=strategy)

        cache.add_listener(report_change)
        cache.start()
        try:
            if not cache.known(name):
                raise NotFoundError(f"service {name!r} is not registered", "list services with `svcctl discover`")

            calls = 0
            failed: list = []  # kept for the final verdict; answered calls are only counted

            def show(result) -> None:
                nonlocal calls
                calls += 1
                if not result.ok:
                    failed.append(result)
                if json_out:
                    typer.echo(json.dumps(result.to_dict()))
                elif result.ok or result.instance is not None:
                    retried = f"  (after {', '.join(result.attempts)})" if result.attempts else ""
                    body = result.body if len(result.body) <= 60 else result.body[:59] + "…"
                    typer.echo(
                        f"#{result.seq:<3} {result.instance.label}  {result.status}  {result.elapsed_ms:.1f} ms  "
                        f"{body}{retried}"
                    )
                else:
                    retried = f" ({', '.join(result.attempts)})" if result.attempts else ""
                    typer.echo(f"#{result.seq:<3} FAILED: {result.error}{retried}")

            try:
                call_service(cache, name, path, count=count, interval=interval, on_result=show)
            except KeyboardInterrupt:  # the way to end `-n 0`: a summary, not an error
                progress(f"interrupted after {calls} calls")
        finally:
            cache.stop()
    finally:
        client.stop()
        client.close()
    if failed:
        unanswered = sum(1 for r in failed if r.status is None)
        statuses = sorted({r.status for r in failed if r.status is not None})
        why = ", ".join(
            part
            for part in (
                f"{unanswered} not answered" if unanswered else "",
                f"{len(failed) - unanswered} answered with HTTP {'/'.join(map(str, statuses))}" if statuses else "",
            )
            if part
        )
        raise CheckFailedError(
            f"{len(failed)} of {calls} calls to {name} failed ({why})",
            "check the path, `svcctl discover` and the service's containers",
        )


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
    app.command("call")(call)
