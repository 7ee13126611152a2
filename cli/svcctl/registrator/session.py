"""The registrator's ZooKeeper session: one kazoo client on every member (failover is kazoo's),
a start that waits for the ensemble with bounded retries, and recovery from a session the
ensemble will never accept again."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..config import ZkHost, format_zk_hosts
from ..errors import ZooKeeperUnavailableError
from .logfmt import log

if TYPE_CHECKING:
    from kazoo.client import KazooClient

SERVING_MODES = ("leader", "follower", "standalone", "observer")


@dataclass(frozen=True)
class SessionChanged:
    """kazoo's state listener said CONNECTED, SUSPENDED or LOST. `replaced`: the keeper gave up
    the session itself and opened a new one (see SessionKeeper.check_stuck)."""

    state: str
    replaced: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for ZooKeeper at start: `attempts` -1 = forever (the default)."""

    attempts: int = -1
    interval: float = 2.0  # seconds between attempts


class SessionKeeper:
    def __init__(self, hosts: list[ZkHost], session_timeout: float, post: Callable[[object], None],
                 client_factory: Callable[..., "KazooClient"] | None = None) -> None:
        self.hosts = hosts
        self.session_timeout = session_timeout
        self.post = post
        self.client_factory = client_factory
        self.client: "KazooClient | None" = None
        self.suspended_since: float | None = None
        self._next_stuck_check = 0.0

    @property
    def session_id(self) -> int:
        client = self.client
        return client.client_id[0] if client is not None and client.client_id else 0

    @property
    def connected(self) -> bool:
        from kazoo.protocol.states import KazooState

        return self.client is not None and self.client.state == KazooState.CONNECTED

    def connect(self, retry: RetryPolicy, stopping: threading.Event) -> bool:
        """Start the session; blocks until connected (True), stopping is set (False), or the
        retry policy is exhausted (ZooKeeperUnavailableError)."""
        connected = self._new_client()
        attempt, started = 0, time.monotonic()
        while not stopping.is_set():
            # Short slices, so a SIGTERM while ZooKeeper is down ends us at once.
            until = time.monotonic() + retry.interval
            while time.monotonic() < until and not stopping.is_set() and not connected.wait(0.1):
                pass
            if stopping.is_set():
                return False
            if connected.is_set() and self.connected:
                log("zookeeper connected", session=hex(self.session_id), waited_s=round(time.monotonic() - started, 1))
                return True
            attempt += 1
            waited = round(time.monotonic() - started, 1)
            if 0 <= retry.attempts <= attempt:
                self.close()
                raise ZooKeeperUnavailableError(
                    f"no ZooKeeper member answered at {format_zk_hosts(self.hosts)} after {attempt} attempts ({waited} s)",
                    "start the ensemble (svcctl cluster up), check the registry URI, or raise -retry-attempts (-1: forever)",
                )
            if attempt <= 3 or attempt % 10 == 0:
                log("zookeeper unavailable", logging.WARNING, hosts=format_zk_hosts(self.hosts), waited_s=waited, attempt=attempt,
                    attempts=retry.attempts if retry.attempts >= 0 else "unlimited", fix="start the ensemble (svcctl cluster up)")
        return False

    def _new_client(self) -> threading.Event:
        from ..zk.client import make_client

        factory = self.client_factory or make_client
        self.client = factory(self.hosts, timeout=self.session_timeout)
        self.client.add_listener(self._on_state)
        # kazoo retries every member forever (make_client's connection_retry); we only report.
        return self.client.start_async()

    def _on_state(self, state: str) -> None:
        # Called on kazoo's thread: never block here.
        self.post(SessionChanged(str(state)))

    def note_state(self, state: str) -> None:
        """The loop thread's view of the state: when the connection went, for check_stuck."""
        if state == "CONNECTED":
            self.suspended_since = None
        elif self.suspended_since is None:
            self.suspended_since = time.monotonic()

    def check_stuck(self) -> bool:
        """A client that saw a higher zxid than the ensemble now has (the ensemble was wiped
        and recreated) is refused by every member forever; so is any client whose session the
        ensemble forgot. When members serve but we stay disconnected, start a new session.
        Returns True when the session was replaced (the caller treats it as LOST)."""
        from ..zk.fourletter import server_stats

        client = self.client
        if self.suspended_since is None or client is None or client.connected:
            return False
        waited = time.monotonic() - self.suspended_since
        if waited < 2 or time.monotonic() < self._next_stuck_check:
            return False
        self._next_stuck_check = time.monotonic() + 2
        stats = [server_stats(h.host, h.port, timeout=1.0) for h in self.hosts]
        serving = [s for s in stats if s.mode in SERVING_MODES]
        if not serving:
            return False  # the ensemble is down: keep the session and wait for it
        newest = max((int(s.zxid, 16) for s in serving if s.zxid), default=0)
        behind = newest < (client.last_zxid or 0)
        if not behind and waited <= 2 * self.session_timeout:
            return False
        log("zookeeper session abandoned", logging.WARNING, waited_s=round(waited, 1),
            reason="the ensemble is behind what this client has seen (wiped and recreated?)" if behind else "members serve but refuse this session",
            client_zxid=hex(client.last_zxid or 0), ensemble_zxid=hex(newest))
        client.remove_listener(self._on_state)
        self.suspended_since = time.monotonic()
        self._new_client()
        threading.Thread(target=lambda: (client.stop(), client.close()), name="old-zk-client", daemon=True).start()
        return True

    def member(self) -> str | None:
        """Which member we talk to, for the logs only (kazoo keeps it private)."""
        try:
            host, port = self.client._connection._socket.getpeername()[:2]
            return f"{host}:{port}"
        except Exception:
            return None

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.stop()
            self.client.close()
        except Exception:  # closing a broken client is best effort
            pass
