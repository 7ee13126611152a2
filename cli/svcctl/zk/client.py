"""Kazoo sessions with the ensemble, mapped to domain errors."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from ..config import ZkHost, format_zk_hosts
from ..errors import ZooKeeperUnavailableError

if TYPE_CHECKING:
    from kazoo.client import KazooClient


def make_client(hosts: list[ZkHost], timeout: float = 10.0, **kwargs: Any) -> "KazooClient":
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    # Retry the connection across members forever by default in daemons; one-shot commands
    # pass a bounded start timeout instead.
    kwargs.setdefault("connection_retry", KazooRetry(max_tries=-1, delay=0.2, backoff=2, max_delay=2))
    kwargs.setdefault("command_retry", KazooRetry(max_tries=3, delay=0.1, backoff=2, max_delay=1))
    return KazooClient(hosts=format_zk_hosts(hosts), timeout=timeout, **kwargs)


def start_client(client: "KazooClient", hosts: list[ZkHost], connect_timeout: float) -> None:
    import kazoo.exceptions
    import kazoo.handlers.threading

    try:
        client.start(timeout=connect_timeout)
    except (kazoo.handlers.threading.KazooTimeoutError, kazoo.exceptions.KazooException, OSError) as exc:
        client.stop()
        client.close()
        raise ZooKeeperUnavailableError(
            f"no ZooKeeper member answers at {format_zk_hosts(hosts)} ({type(exc).__name__})",
            "start the ensemble with `svcctl cluster up`, or pass the right --zk / SVCCTL_ZK",
        ) from exc


@contextmanager
def zk_session(hosts: list[ZkHost], connect_timeout: float = 5.0, session_timeout: float = 10.0) -> Iterator["KazooClient"]:
    """A started client for a one-shot command; always stopped and closed on exit."""
    client = make_client(hosts, timeout=session_timeout)
    start_client(client, hosts, connect_timeout)
    try:
        yield client
    finally:
        client.stop()
        client.close()
