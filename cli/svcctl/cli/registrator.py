"""`svcctl registrator run|status`: the registrator daemon."""

from __future__ import annotations

from enum import StrEnum

import typer

from svcctl.cli.output import WIDE_OPT, env_help, print_json, print_table, since_text, use_wide
from svcctl.config.settings import DEFAULT_BASE

app = typer.Typer(help="The registrator: Docker containers → ZooKeeper registrations.", no_args_is_help=True)


class Deregister(StrEnum):
    always = "always"
    on_success = "on-success"


@app.command(context_settings={"ignore_unknown_options": False, "help_option_names": ["-h", "--help"]})
def run(
    ctx: typer.Context,
    uri: str = typer.Argument(
        ..., metavar="zookeeper://HOST:PORT[,HOST:PORT...]/BASE", help="Registry URI; BASE defaults to /services."
    ),
    ip: str = typer.Option(
        None,
        "-ip",
        "--ip",
        help="Advertise this address for every host-mapped port (default: the port's published host IP, the host's "
        "address when bound to 0.0.0.0).",
    ),
    swarm_node_ip: bool = typer.Option(
        False,
        "-swarm-node-ip",
        "--swarm-node-ip",
        help="Advertise the address of the engine's swarm node (`docker info` .Swarm.NodeAddr) for every host-mapped "
        "port: for a registrator run as a mode: global swarm service, one per node.",
    ),
    internal: bool = typer.Option(
        False,
        "-internal",
        "--internal",
        help="Register the container IP and exposed port instead of the published one.",
    ),
    explicit: bool = typer.Option(
        False, "-explicit", "--explicit", help="Only register containers with SERVICE_NAME / SERVICE_<port>_NAME set."
    ),
    resync: float = typer.Option(
        30.0,
        "-resync",
        "--resync",
        min=0,
        help="Seconds between full reconciliations against `docker ps` (0: only after reconnects and takeovers).",
    ),
    cleanup: bool = typer.Option(
        False,
        "-cleanup",
        "--cleanup",
        help="Remove dangling registrations of this engine: always done by every resync (accepted for compatibility).",
    ),
    deregister: Deregister = typer.Option(
        Deregister.always,
        "-deregister",
        "--deregister",
        case_sensitive=False,
        help="always: a container's registrations go when it stops (at the terminating signal); "
        "on-success: a container that exited non-zero stays registered until it is removed or runs again "
        "(no draining at the signal).",
    ),
    retry_attempts: int = typer.Option(
        -1,
        "-retry-attempts",
        "--retry-attempts",
        min=-1,
        help="Attempts to reach ZooKeeper at start before exiting with exit code 4 (-1: forever).",
    ),
    retry_interval: int = typer.Option(
        2000, "-retry-interval", "--retry-interval", min=1, help="Milliseconds between those attempts."
    ),
    tags: str = typer.Option("", "-tags", "--tags", help="Comma-separated tags appended to every registration's Tags."),
    ip_label: str = typer.Option(
        None,
        "-useIpFromLabel",
        "--useIpFromLabel",
        "--use-ip-from-label",
        help="Advertise the address in this container label (e.g. a macvlan address), when the container has it.",
    ),
    label_filters: list[str] = typer.Option(
        [],
        "-label-filter",
        "--label-filter",
        envvar="SVCCTL_LABEL_FILTER",
        metavar="KEY[=VALUE]",
        help="Register only the containers carrying this label (with this value), as `docker ps --filter "
        "label=…`; repeat it: all must hold (the variable: space-separated). E.g. com.docker.compose.project=NAME: "
        "one Compose project (what a named svcctl project's registrators run with), "
        "com.docker.stack.namespace=NAME: one Swarm stack's tasks. Out-of-scope containers register nothing, and a "
        "resync removes this engine's registrations of them [default: every container of the engine].",
    ),
    ttl: int = typer.Option(
        0,
        "-ttl",
        "--ttl",
        min=0,
        help="Accepted for compatibility; not used by the ZooKeeper backend "
        "(ephemeral nodes live as long as our session).",
    ),
    ttl_refresh: int = typer.Option(
        0, "-ttl-refresh", "--ttl-refresh", min=0, help="Accepted for compatibility; not used by the ZooKeeper backend."
    ),
    session_timeout: float = typer.Option(
        10.0,
        "-session-timeout",
        "--session-timeout",
        help="ZooKeeper session timeout in seconds: how long a dead registrator's nodes survive it.",
    ),
    registrator_id: str = typer.Option(
        None,
        "-id",
        "--id",
        envvar="SVCCTL_REGISTRATOR_ID",
        help="This registrator's name in the election [default: HOSTNAME:PID].",
    ),
    host_ip: str = typer.Option(
        None,
        "-host-ip",
        "--host-ip",
        help="Address advertised for ports bound to 0.0.0.0 [default: the host's address].",
    ),
    zk_ca: str = typer.Option(
        None,
        "-zk-ca",
        "--zk-ca",
        help=env_help(
            "CA certificate (PEM) of a secured ensemble: TLS to ZooKeeper [default: the project's PKI when its "
            "cluster is secured].",
            "SVCCTL_ZK_CA",
        ),
    ),
    zk_cert: str = typer.Option(
        None,
        "-zk-cert",
        "--zk-cert",
        help=env_help(
            "Client certificate (PEM): the identity our nodes' ACLs name (all rights for it, read for anyone).",
            "SVCCTL_ZK_CERT",
        ),
    ),
    zk_key: str = typer.Option(
        None, "-zk-key", "--zk-key", help=env_help("Private key (PEM) of -zk-cert.", "SVCCTL_ZK_KEY")
    ),
    zk_writers: list[str] = typer.Option(
        [],
        "-zk-writer",
        "--zk-writer",
        envvar="SVCCTL_ZK_WRITERS",
        help="Another identity (x509 subject, e.g. CN=svcctl-registrator@host2) given all rights on our nodes, as the "
        "other hosts' registrators of a cluster over hosts; repeat it (the variable: space-separated).",
    ),
    metrics: str = typer.Option(
        None,
        "-metrics",
        "--metrics",
        metavar="[HOST:]PORT",
        envvar="SVCCTL_REGISTRATOR_METRICS",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (HOST defaults to 127.0.0.1) [default: off].",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also log kazoo's own messages."),
) -> None:
    """Run the registrator in the foreground (logfmt lines on stderr) until SIGTERM."""
    import logging
    from dataclasses import replace

    from svcctl.config.settings import parse_ip, parse_listen, parse_registry_uri
    from svcctl.errors import BadInputError
    from svcctl.net import host_address
    from svcctl.registrator.daemon import Config, default_registrator_id, run_registrator
    from svcctl.registrator.logfmt import log, setup_logging
    from svcctl.registrator.session import RetryPolicy
    from svcctl.registry.model import LabelFilter, Options, split_tags
    from svcctl.security.mode import client_tls

    registry = parse_registry_uri(uri)
    # Our own options first, then the global ones (or SVCCTL_ZK_CA/_CERT/_KEY), then the project's registrator identity.
    settings = replace(
        ctx.obj, zk_ca=zk_ca or ctx.obj.zk_ca, zk_cert=zk_cert or ctx.obj.zk_cert, zk_key=zk_key or ctx.obj.zk_key
    )
    tls = client_tls(settings, identity="registrator", hosts=registry.hosts)
    if zk_writers and (tls is None or not tls.cert):
        raise BadInputError(
            "-zk-writer names identities for the ACLs of a secured registry", "give it with -zk-ca/-zk-cert/-zk-key"
        )
    if tls is not None:
        tls = replace(tls, writers=tuple(zk_writers))
        tls.validate()
        expired = tls.expired()  # a daemon may parse its certificate up front
        if expired is not None:
            raise expired
    if session_timeout <= 0:
        raise BadInputError("-session-timeout must be > 0", "e.g. -session-timeout 10")
    ip = parse_ip(ip, "-ip") if ip else None
    if ip and swarm_node_ip:
        raise BadInputError("-ip and -swarm-node-ip both name the address to advertise", "give one of them")
    host_ip = parse_ip(host_ip, "-host-ip") if host_ip else None
    setup_logging()
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR)
    if verbose:  # the CLI silences kazoo's logger for one-shot commands; the daemon wants it
        logging.getLogger("kazoo").propagate = True
    if ttl or ttl_refresh:
        log(
            "ttl not used",
            ttl=ttl,
            ttl_refresh=ttl_refresh,
            note="the ZooKeeper backend needs no TTL: a registration is "
            "an ephemeral node that lives as long as our session",
        )
    if cleanup:
        log(
            "cleanup",
            note="always on: every resync removes this engine's registrations of containers that no longer run",
        )
    options = Options(
        ip=ip,
        internal=internal,
        explicit=explicit,
        host_ip=host_ip or host_address(),
        tags=tuple(split_tags(tags)),
        ip_label=ip_label or None,
        label_filters=tuple(LabelFilter.parse(text) for text in label_filters if text.strip()),
    )
    config = Config(
        registry,
        options,
        registrator_id or default_registrator_id(),
        resync=resync,
        session_timeout=session_timeout,
        retry=RetryPolicy(retry_attempts, retry_interval / 1000),
        keep_failed=deregister == Deregister.on_success,
        tls=tls,
        swarm_node_ip=swarm_node_ip,
        metrics=parse_listen(metrics, "-metrics") if metrics else None,
    )
    run_registrator(config, settings.engine)


@app.command()
def status(
    ctx: typer.Context,
    base: str = typer.Option(DEFAULT_BASE, "--base", help="Where the registrations live."),
    wide: bool = WIDE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The registrators per engine: active or standby, since when, registrations owned."""
    use_wide(wide)
    from svcctl.ensemble.status import RegistratorRow
    from svcctl.registrator.status import read_registrators

    found = read_registrators(ctx.obj, base)
    if json_out:
        print_json([r.to_dict() for r in found])
        return
    print_registrators([RegistratorRow.from_status(r) for r in found])


def print_registrators(rows: list) -> None:
    """The one registrators table (`registrator status`, `cluster status`): RegistratorRow each;
    the container column says `-` where the engine was not asked."""
    print_table(
        [
            (
                r.container,
                r.state,
                r.role,
                since_text(r.since),
                r.registrations,
                r.session,
                (r.engine or "")[:17] or None,
            )
            for r in rows
        ],
        ["registrator", "container", "role", "since", "registrations", "session", "engine"],
        narrow_drop=("session",),
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="registrator")
