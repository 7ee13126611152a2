"""Kazoo sessions with the ensemble, mapped to domain errors."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from ..config import ZkHost, format_zk_hosts
from ..errors import ZooKeeperUnavailableError

if TYPE_CHECKING:
    from kazoo.client import KazooClient

    from .tls import ZkTls


def make_client(hosts: list[ZkHost], timeout: float = 10.0, tls: "ZkTls | None" = None, **kwargs: Any) -> "KazooClient":
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


def start_client(client: "KazooClient", hosts: list[ZkHost], connect_timeout: float, tls: "ZkTls | None" = None) -> None:
    import kazoo.exceptions
    import kazoo.handlers.threading

    try:
        client.start(timeout=connect_timeout)
    except (kazoo.handlers.threading.KazooTimeoutError, kazoo.exceptions.KazooException, OSError) as exc:
        client.stop()
        client.close()
        from .tls import diagnose

        known = diagnose(hosts, tls)
        if known is not None:
            raise known from exc
        raise ZooKeeperUnavailableError(
            f"no ZooKeeper member answers at {format_zk_hosts(hosts)} ({type(exc).__name__})",
            "start the ensemble with `svcctl cluster up`, or pass the right --zk / SVCCTL_ZK",
        ) from exc


def started_client(hosts: list[ZkHost], connect_timeout: float = 5.0, session_timeout: float = 10.0, tls: "ZkTls | None" = None) -> "KazooClient":
    """A started client (the caller stops it); bad TLS files fail before any connection."""
    if tls is not None:
        tls.validate()
    client = make_client(hosts, timeout=session_timeout, tls=tls)
    start_client(client, hosts, connect_timeout, tls)
    return client


@contextmanager
def zk_session(hosts: list[ZkHost], connect_timeout: float = 5.0, session_timeout: float = 10.0, tls: "ZkTls | None" = None) -> Iterator["KazooClient"]:
    """A started client for a one-shot command; always stopped and closed on exit."""
    client = started_client(hosts, connect_timeout, session_timeout, tls)
    try:
        yield client
    finally:
        client.stop()
        client.close()
