"""Kazoo sessions with the ensemble, mapped to domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import ZkHost, format_zk_hosts
from svcctl.errors import SvcctlError, ZooKeeperUnavailableError

if TYPE_CHECKING:
    from kazoo.client import KazooClient

    from svcctl.zk.tls import ZkTls


def make_client(hosts: list[ZkHost], timeout: float = 10.0, tls: ZkTls | None = None, **kwargs: Any) -> KazooClient:
    """A kazoo client on every member; with `tls`, over TLS with its CA and identity."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    # Retry the connection across members forever by default in daemons; one-shot commands
    # pass a bounded start timeout instead.
    kwargs.setdefault("connection_retry", KazooRetry(max_tries=-1, delay=0.2, backoff=2, max_delay=2))
    kwargs.setdefault("command_retry", KazooRetry(max_tries=3, delay=0.1, backoff=2, max_delay=1))
    if tls is not None:
        kwargs.update(tls.kazoo_kwargs())
    return KazooClient(hosts=format_zk_hosts(hosts), timeout=timeout, **kwargs)


# A session normally opens in milliseconds; once it has not within this, the members are asked
# with `srvr` why, so that a dead or quorum-less ensemble is reported at once, not at the timeout.
PROBE_AFTER = 0.5


def start_client(client: KazooClient, hosts: list[ZkHost], connect_timeout: float, tls: ZkTls | None = None) -> None:
    import time

    from svcctl.wait import poll_until

    started = time.monotonic()
    event = client.start_async()
    probed = False

    def session_opened() -> bool:
        nonlocal probed
        if event.wait(0.05):
            return True
        if not probed and time.monotonic() - started >= min(PROBE_AFTER, connect_timeout):
            probed = True
            error = unavailable_error(hosts, member_modes(hosts, tls), tls)
            if error is not None:  # the members say why already: no need to wait out the timeout
                _give_up(client)
                raise error
        return False

    poll_until(session_opened, bool, started + connect_timeout, interval=0)
    if not client.connected:
        _give_up(client)
        raise unavailable_error(hosts, member_modes(hosts, tls), tls) or ZooKeeperUnavailableError(
            f"no ZooKeeper session within {connect_timeout:.0f}s at {format_zk_hosts(hosts)}",
            "retry; `svcctl cluster status` shows how each member is doing",
        )


def _give_up(client: KazooClient) -> None:
    client.stop()
    client.close()


def member_modes(hosts: list[ZkHost], tls: ZkTls | None = None) -> dict[ZkHost, str]:
    """Each member's mode by `srvr`, asked in parallel (over TLS with `tls`): leader, follower,
    standalone, observer, not-serving (up, but no quorum), down (refused or silent), or unknown
    (srvr not allowed)."""
    from concurrent.futures import ThreadPoolExecutor

    from svcctl.zk.fourletter import server_stats

    context = tls.context() if tls is not None else None
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        stats = list(pool.map(lambda h: server_stats(h.host, h.port, timeout=1.0, with_mntr=False, tls=context), hosts))
    return {host: stat.mode for host, stat in zip(hosts, stats, strict=True)}


def unavailable_error(hosts: list[ZkHost], modes: dict[ZkHost, str], tls: ZkTls | None = None) -> SvcctlError | None:
    """Why no session can open, from the members' modes; None while some member may serve. When
    none answers, a TLS mismatch (wrong CA, refused certificate, plain client on a TLS-only port
    or the reverse) is named before concluding that the members are down."""
    up = [h for h in hosts if modes.get(h) != "down"]
    if not up:
        from svcctl.zk.tls import diagnose

        known = diagnose(hosts, tls)
        if known is not None:
            return known
        return ZooKeeperUnavailableError(
            f"no ZooKeeper member answers at {format_zk_hosts(hosts)} (all {len(hosts)} down)",
            "start the ensemble with `svcctl cluster up`, or pass the right --zk / SVCCTL_ZK",
        )
    if all(modes.get(h) == "not-serving" for h in up):
        states = "; ".join(f"{h} {'up, not serving' if modes.get(h) == 'not-serving' else 'down'}" for h in hosts)
        return ZooKeeperUnavailableError(
            f"ZooKeeper has lost its quorum: {len(up)} of {len(hosts)} members up, none serving ({states})",
            "start the members that are down (`svcctl cluster up`); a majority must run for the ensemble to serve",
        )
    return None


def started_client(
    hosts: list[ZkHost], connect_timeout: float = 5.0, session_timeout: float = 10.0, tls: ZkTls | None = None
) -> KazooClient:
    """A started client (the caller stops it); bad TLS files fail before any connection."""
    if tls is not None:
        tls.validate()
    client = make_client(hosts, timeout=session_timeout, tls=tls)
    start_client(client, hosts, connect_timeout, tls)
    return client


@contextmanager
def zk_session(
    hosts: list[ZkHost], connect_timeout: float = 5.0, session_timeout: float = 10.0, tls: ZkTls | None = None
) -> Iterator[KazooClient]:
    """A started client for a one-shot command; always stopped and closed on exit."""
    client = started_client(hosts, connect_timeout, session_timeout, tls)
    try:
        yield client
    finally:
        client.stop()
        client.close()
