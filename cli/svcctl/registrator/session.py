"""The registrator's ZooKeeper session: one kazoo client on every member (failover is kazoo's),
a start that waits for the ensemble with bounded retries, and recovery from a session the
ensemble will never accept again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from svcctl.config.settings import ZkHost, format_zk_hosts
from svcctl.errors import ZooKeeperUnavailableError
from svcctl.registrator.logfmt import log
from svcctl.wait import Backoff, poll_until
from svcctl.zk.fourletter import SERVING_MODES

if TYPE_CHECKING:
    from kazoo.client import KazooClient

    from svcctl.zk.tls import ZkTls

# kazoo's state after which a client never connects again (it ends its connection loop): an
# authentication the ensemble refused, reported late (start() may have returned long before).
DEAD_CLIENT_STATES = ("AUTH_FAILED",)
FAULT_BACKOFF_MAX = 30.0  # seconds between new clients while the ensemble keeps refusing us


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

    def backoff(self) -> Backoff:
        """The attempts as a Backoff: `interval` each (kazoo itself keeps trying the members)."""
        return Backoff(self.interval, factor=1, tries=None if self.attempts < 0 else self.attempts)


class SessionKeeper:
    def __init__(
        self,
        hosts: list[ZkHost],
        session_timeout: float,
        post: Callable[[object], None],
        client_factory: Callable[..., KazooClient] | None = None,
        tls: ZkTls | None = None,
        fault_backoff: float = 2.0,
    ) -> None:
        self.hosts = hosts
        self.session_timeout = session_timeout
        self.post = post
        self.client_factory = client_factory
        self.tls = tls  # TLS and the x509 identity of a secured ensemble (None: plain)
        self.client: KazooClient | None = None
        self.suspended_since: float | None = None
        self._next_stuck_check = 0.0
        self.fault_backoff = fault_backoff
        self._faults = Backoff(fault_backoff, factor=2, cap=FAULT_BACKOFF_MAX)  # consecutive dead clients
        self._next_client_at = 0.0

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
        tries, started = retry.backoff(), time.monotonic()
        while not stopping.is_set():
            # Short slices, so a SIGTERM while ZooKeeper is down ends us at once.
            poll_until(
                lambda connected=connected: stopping.is_set() or connected.wait(0.1),
                bool,
                time.monotonic() + tries.delay,
                interval=0,
            )
            if stopping.is_set():
                return False
            if connected.is_set() and self.connected:
                log("zookeeper connected", session=hex(self.session_id), waited_s=round(time.monotonic() - started, 1))
                return True
            if self.check_dead():
                connected = self._started
                continue
            tries.failed()
            attempt = tries.failures
            waited = round(time.monotonic() - started, 1)
            if tries.exhausted:
                fault = self._diagnose()
                self.close()
                raise ZooKeeperUnavailableError(
                    f"no ZooKeeper member answered at {format_zk_hosts(self.hosts)} after {attempt} attempts "
                    f"({waited} s)" + (f": {fault.cause}" if fault else ""),
                    fault.fix
                    if fault
                    else "start the ensemble (svcctl cluster up), check the registry URI, or raise -retry-attempts "
                    "(-1: forever)",
                )
            if attempt <= 3 or attempt % 10 == 0:
                fault = self._diagnose()
                log(
                    "zookeeper unavailable",
                    logging.WARNING,
                    hosts=format_zk_hosts(self.hosts),
                    waited_s=waited,
                    attempt=attempt,
                    attempts=retry.attempts if retry.attempts >= 0 else "unlimited",
                    fault=fault.cause if fault else None,
                    fix=fault.fix if fault else "start the ensemble (svcctl cluster up)",
                )
        return False

    def _new_client(self) -> threading.Event:
        from svcctl.zk.client import make_client

        if self.client_factory is not None:
            self.client = self.client_factory(self.hosts, timeout=self.session_timeout)
        else:
            # Every node we create carries our identity's ACL: all for us, read for anyone.
            acl = self.tls.registry_acl() if self.tls is not None else None
            self.client = make_client(self.hosts, timeout=self.session_timeout, tls=self.tls, default_acl=acl)
        self.client.add_listener(self._on_state)
        # kazoo retries every member forever (make_client's connection_retry); we only report.
        self._started = self.client.start_async()
        return self._started

    def _diagnose(self):
        """Why a TLS session does not start (wrong CA, refused certificate…), for the log."""
        if self.tls is None:
            return None
        from svcctl.zk.tls import diagnose

        try:
            return diagnose(self.hosts, self.tls, timeout=1.0)
        except Exception:  # a diagnosis must never break the daemon
            return None

    def check_dead(self) -> bool:
        """A client kazoo gave up on (an authentication the ensemble refused, possibly after
        start() returned) never reconnects: a fault, logged and retried with a new client after
        a backoff that doubles up to FAULT_BACKOFF_MAX, never in a tight loop. Returns True
        when a new client was started (the caller treats it as a lost session)."""
        client = self.client
        state = str(getattr(client, "client_state", "")) if client is not None else ""
        if state not in DEAD_CLIENT_STATES:
            if state == "CONNECTED":
                self._faults.reset()
            return False
        now = time.monotonic()
        if not self._next_client_at:
            delay = self._faults.failed()
            self._next_client_at = now + delay
            fault = self._diagnose()
            log(
                "zookeeper session refused",
                logging.ERROR,
                state=state,
                faults=self._faults.failures,
                retry_in_s=round(delay, 1),
                fault=fault.cause if fault else "the ensemble refused this client's authentication",
                fix=fault.fix
                if fault
                else "check the registrator's certificate (--zk-cert/--zk-key) against the ensemble's CA and ACLs",
            )
            return False
        if now < self._next_client_at:
            return False
        self._next_client_at = 0.0
        client.remove_listener(self._on_state)
        self._new_client()
        threading.Thread(target=lambda: (client.stop(), client.close()), name="old-zk-client", daemon=True).start()
        return True

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
        from svcctl.zk.fourletter import server_stats

        client = self.client
        if self.suspended_since is None or client is None or client.connected:
            return False
        if str(getattr(client, "client_state", "")) in DEAD_CLIENT_STATES:
            return False  # check_dead's case
        waited = time.monotonic() - self.suspended_since
        if waited < 2 or time.monotonic() < self._next_stuck_check:
            return False
        self._next_stuck_check = time.monotonic() + 2
        tls = self.tls.context() if self.tls is not None else None
        stats = [server_stats(h.host, h.port, timeout=1.0, tls=tls) for h in self.hosts]
        serving = [s for s in stats if s.mode in SERVING_MODES]
        if not serving:
            return False  # the ensemble is down: keep the session and wait for it
        newest = max((int(s.zxid, 16) for s in serving if s.zxid), default=0)
        behind = newest < (client.last_zxid or 0)
        if not behind and waited <= 2 * self.session_timeout:
            return False
        log(
            "zookeeper session abandoned",
            logging.WARNING,
            waited_s=round(waited, 1),
            reason="the ensemble is behind what this client has seen (wiped and recreated?)"
            if behind
            else "members serve but refuse this session",
            client_zxid=hex(client.last_zxid or 0),
            ensemble_zxid=hex(newest),
        )
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
