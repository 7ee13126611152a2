"""`svcctl cluster up|status|down`."""

from __future__ import annotations

import typer

from svcctl.cli.output import WIDE_OPT, print_json, print_table, progress, use_wide
from svcctl.config.settings import Settings
from svcctl.ensemble import current
from svcctl.ensemble.members import MemberStatus, ensemble_health, mode_name, require_healthy
from svcctl.progress import no_progress
from svcctl.security.mode import SecurityPolicy

app = typer.Typer(help="The 3-node ZooKeeper ensemble and its registrators.", no_args_is_help=True)


def _print_nodes(nodes: list[MemberStatus]) -> None:
    over_hosts = any(n.host for n in nodes)
    print_table(
        [
            ((n.host,) if over_hosts else ())
            + (
                n.container,
                n.state,
                n.member,
                n.stats.mode,
                n.stats.zxid,
                n.stats.connections,
                latency_text(n.stats.latency_avg, n.stats.latency_max),
                n.stats.znode_count,
            )
            for n in nodes
        ],
        (["host"] if over_hosts else [])
        + ["member", "state", "address", "mode", "zxid", "conns", "avg/max ms", "znodes"],
    )


def latency_text(average: float | None, maximum: int | None) -> str | None:
    """A member's request latency as `avg/max` milliseconds (None: it did not say)."""
    if average is None and maximum is None:
        return None
    return f"{'-' if average is None else average}/{'-' if maximum is None else maximum}"


def _registrators(settings: Settings, nodes: list[MemberStatus]) -> list:
    from svcctl.zk.fourletter import SERVING_MODES

    # ZooKeeper is asked only when a member serves: no ensemble must not mean a slow status.
    zk_reachable = any(n.stats.mode in SERVING_MODES for n in nodes)
    return current.ensemble(settings).registrators(zk_reachable)


def _print_registrators(rows: list) -> None:
    from svcctl.cli.registrator import print_registrators

    if not rows:
        return
    typer.echo("")
    print_registrators(rows)


def _security(settings: Settings) -> dict:
    from svcctl.security.mode import OPEN, SECURE, project_mode

    mode = project_mode(settings) or OPEN
    info = {"mode": mode}
    if mode == SECURE:
        from svcctl.security.mode import project_pki

        info["ca"] = str(project_pki(settings).ca)
    return info


def _print_all(settings: Settings, nodes: list[MemberStatus], json_out: bool, health: str | None = None) -> None:
    rows = _registrators(settings, nodes)
    security = _security(settings)
    health = health or ensemble_health([n.stats.mode for n in nodes])
    if json_out:
        print_json(
            {
                "health": health,
                "security": security,
                "members": [n.to_dict() for n in nodes],
                "registrators": [r.to_dict() for r in rows],
            }
        )
    else:
        typer.echo(
            f"security: {mode_name(security['mode'])}"
            + (
                f" (CA for consumers: {security['ca']})"
                if "ca" in security
                else " (no TLS, no ACLs: `svcctl cluster up --secure` on a new cluster)"
            )
        )
        typer.echo(f"ensemble: {health}")
        _print_nodes(nodes)
        _print_registrators(rows)


def _project_hosts(settings: Settings) -> list[str]:
    """The project's running simulated hosts, the swarm `cluster up --swarm` runs on by default."""
    from svcctl.ensemble.hosts import parse_contexts
    from svcctl.errors import NotFoundError
    from svcctl.toolkit.hosts import ls

    running = [h.name for h in ls(settings) if h.state == "running"]
    if not running:
        raise NotFoundError(
            f"project {settings.project} has no hosts to form the swarm's cluster",
            "`svcctl hosts up 3 --swarm` first (or name the nodes' contexts: --hosts CTX1,CTX2,CTX3)",
        )
    return parse_contexts(",".join(running))


@app.command()
def up(
    ctx: typer.Context,
    timeout: float = typer.Option(120, help="Seconds to wait for quorum."),
    hosts: str = typer.Option(
        None,
        "--hosts",
        metavar="CTX1,CTX2,CTX3",
        help="Docker contexts: member i and the registrators of host i run on host i (recorded for later commands).",
    ),
    secure: bool = typer.Option(
        False,
        "--secure",
        help="TLS on every connection, ACLs on the registry, registrators without the engine socket (PKI under the "
        "state directory's pki/, made once).",
    ),
    rotate: bool = typer.Option(False, "--rotate", help="With --secure: remake the PKI and restart the cluster on it."),
    swarm: bool = typer.Option(
        False,
        "--swarm",
        help="As a stack on the hosts' swarm (`svcctl hosts up 3 --swarm`): member i pinned to host i's node, a "
        "registrator per node (mode: global); --hosts names the nodes [default: the project's hosts].",
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Start the ensemble (and registrators) and wait for one leader and two followers."""
    from svcctl.ensemble.hosts import parse_contexts

    policy = SecurityPolicy.from_flags(secure=secure, rotate=rotate)
    contexts = parse_contexts(hosts) if hosts is not None else None
    if swarm and contexts is None and ctx.obj.layout is None:
        contexts = _project_hosts(ctx.obj)
    settings, nodes = current.ensemble(ctx.obj, contexts, swarm=swarm).up(
        policy, timeout=timeout, on_progress=no_progress if json_out else progress
    )
    _print_all(settings, nodes, json_out)


@app.command()
def status(
    ctx: typer.Context,
    wide: bool = WIDE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per member: container, state, port, mode, zxid, connections, latency, znode count; then the registrators."""
    use_wide(wide)
    nodes = current.ensemble(ctx.obj).status()
    _print_all(ctx.obj, nodes, json_out, ensemble_health([n.stats.mode for n in nodes]))
    require_healthy(nodes)


@app.command()
def down(
    ctx: typer.Context,
    volumes: bool = typer.Option(False, "--volumes", help="Also delete the ZooKeeper data volumes."),
) -> None:
    """Remove the project's containers; data stays unless --volumes."""
    current.ensemble(ctx.obj).down(volumes=volumes, on_progress=progress)
    typer.echo("cluster removed" + (" with its volumes" if volumes else " (data volumes kept)"))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="cluster")
