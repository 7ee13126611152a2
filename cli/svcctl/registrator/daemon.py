"""The registrator daemon: small glue around the pure model in svcctl.registration.

Threads: one reads the engine's event stream (resumed with `since=` after any error), one runs
the election (kazoo's Election under /svcctl/registrators/<engine-id>), kazoo's own threads
report session states. Everything that writes to ZooKeeper runs on ONE loop thread fed by a
queue, so writes are ordered and never race each other.

Only the elected registrator writes, and only while its session is the one it was elected
with: after a LOST session it must win the election again before it re-creates anything.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal as signal_module  # `signal` is the kill event's attribute below
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..config import RegistryUri, format_zk_hosts
from ..errors import DockerUnavailableError
from ..registration import (
    ActualNode,
    Op,
    Options,
    Registration,
    container_registrations,
    decode_payload,
    desired_map,
    encode_payload,
    plan,
)
from . import election_path
from .logfmt import log

if TYPE_CHECKING:
    import docker
    from kazoo.client import KazooClient

# Engine actions that can change what a container registers (ports come with start). `oom` is
# not among them: a `die` follows when the container really ends. `kill` is: `docker stop`
# (and compose's stop/scale-down) first signals the container, which starts shutting down and
# refusing connections there, and emits `die` only when the process has exited, up to the stop
# timeout later. A load balancer drains at the signal; so do we (see terminating_kill).
ACTIONS = {"start", "restart", "die", "stop", "kill", "pause", "unpause", "destroy", "rename", "update"}
# After these the container registers nothing, so it is not inspected: an inspect during the
# engine's teardown of a dying container waits for that teardown (~100 ms).
GONE_ACTIONS = {"die", "stop", "pause", "destroy"}
# These end a drain (see Registrator.draining): the container is gone, or it runs again.
DRAIN_END_ACTIONS = {"die", "stop", "destroy", "start", "restart"}
PARENT_PRUNE_AGE_MS = 10_000  # an empty service node younger than this may be about to get a child
# How long a container that got a terminating signal but keeps running stays deregistered. A
# `docker stop` ends in SIGKILL after its timeout (10 s by default, compose's stop_grace_period),
# so `die` normally comes long before; a container that ignores a `docker kill -s TERM` and
# keeps serving must not stay out of ZooKeeper forever.
DRAIN_HOLD_S = 180.0

# The `kill` event's `signal` attribute is a number on the engines we know ("15") and a name on
# others ("SIGTERM"); a container's Config.StopSignal is usually a name ("SIGWINCH"), sometimes a
# number. The registrator runs on Linux, like the engine, so Python's signal table is theirs.
RTMIN, RTMAX = int(signal_module.SIGRTMIN), int(signal_module.SIGRTMAX)
# Signals whose default action ends the process. Others (HUP, USR1, USR2, WINCH…) are what
# servers use to reload or reopen logs: the container goes on serving, so it stays registered.
TERMINATING_SIGNALS = frozenset(int(s) for s in (signal_module.SIGINT, signal_module.SIGQUIT, signal_module.SIGKILL, signal_module.SIGTERM))


def signal_number(value: object) -> int | None:
    """"15", "SIGTERM", "TERM", "sigterm", "SIGRTMIN+3" → a Linux signal number; None when it
    names no signal (absent, empty, unknown)."""
    text = str(value if value is not None else "").strip().upper()
    if text.isdigit():
        number = int(text)
        return number if 0 < number <= RTMAX else None
    text = text.removeprefix("SIG")
    for base, origin, sign in (("RTMIN+", RTMIN, 1), ("RTMAX-", RTMAX, -1)):
        if text.startswith(base) and text[len(base):].isdigit():
            number = origin + sign * int(text[len(base):])
            return number if RTMIN <= number <= RTMAX else None
    if text in ("RTMIN", "RTMAX"):
        return RTMIN if text == "RTMIN" else RTMAX
    try:
        return int(signal_module.Signals["SIG" + text])
    except KeyError:
        return None


def terminating_kill(signal: object, stop_signal: object = None) -> bool:
    """Does a `kill` event with this signal mean the container is about to end, so its
    registrations must go now (before `die`)? Yes for the signals that terminate by default,
    and for the container's own STOPSIGNAL: that is what `docker stop` sends, and an image may
    choose one that terminates only that server gracefully (Apache's SIGWINCH: our service_2).
    No for reload signals (HUP, USR1…) and for an unknown or missing signal (die still follows
    when the container really ends)."""
    number = signal_number(signal)
    if number is None:
        return False
    return number in TERMINATING_SIGNALS or (stop_signal is not None and number == signal_number(stop_signal))


class NotElected(Exception):
    """A fenced write found our election lock node gone: the session it went out on is not the
    elected one (it expired and kazoo opened a new one), so nothing was written."""


def fenced_result(results: list) -> list:
    """The results of a fenced transaction (check of our lock node first) without the check's.
    Raises NotElected when the check failed; when a later operation failed the check's slot
    holds RolledBackError, which is not a failure of the check."""
    from kazoo.exceptions import RolledBackError

    if isinstance(results[0], Exception) and not isinstance(results[0], RolledBackError):
        raise NotElected()
    return results[1:]


@dataclass
class Config:
    uri: RegistryUri
    options: Options
    registrator_id: str
    resync: float = 30.0  # seconds between full reconciliations; 0 = only on (re)connects
    session_timeout: float = 10.0
    handover_wait: float = 5.0  # on SIGTERM: how long to wait for a standby to take over
    drain_hold: float = DRAIN_HOLD_S  # see DRAIN_HOLD_S


def default_registrator_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def host_address() -> str:
    """The address advertised for ports bound to every interface (0.0.0.0)."""
    try:
        address = socket.gethostbyname(socket.gethostname())
        if not address.startswith("127."):
            return address
    except OSError:
        pass
    # The address of the default route, found without sending anything.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            return sock.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def connect_engine() -> "docker.DockerClient":
    """The engine client; a missing socket is a clear, fatal error (exit 3 at the CLI)."""
    from ..engine import docker_client, engine_address

    address = engine_address()
    if address.startswith("unix://") and not os.path.exists(address[len("unix://"):]):
        raise DockerUnavailableError(
            f"Docker socket {address[len('unix://'):]} does not exist",
            "mount it into the registrator (-v /var/run/docker.sock:/var/run/docker.sock:ro) or set DOCKER_HOST",
        )
    return docker_client(timeout=30)


def port_signature_from_inspect(info: dict) -> frozenset:
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    sig = set()
    for key, bindings in ports.items():
        port, _, proto = key.partition("/")
        for b in bindings or []:
            if b and b.get("HostPort"):
                sig.add((int(port), proto or "tcp", int(b["HostPort"])))
    return frozenset(sig)


def port_signature_from_list(entry: dict) -> frozenset:
    return frozenset(
        (int(p["PrivatePort"]), p.get("Type", "tcp"), int(p["PublicPort"])) for p in entry.get("Ports") or [] if p.get("PublicPort")
    )


class Registrator:
    def __init__(self, config: Config, engine: "docker.DockerClient | None" = None) -> None:
        self.config = config
        self.base = config.uri.base
        self.engine = engine or connect_engine()
        from ..engine import engine_id

        self.engine_id = engine_id(self.engine)
        self.election_path = election_path(self.engine_id)
        # SimpleQueue, not Queue: stop() puts from the SIGTERM handler, which runs on the main
        # thread, possibly while that thread is inside get(). Queue's lock is not reentrant (a
        # deadlock); SimpleQueue.put is reentrant and documented as safe from signal handlers.
        self.queue: "queue.SimpleQueue[tuple]" = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.demote = threading.Event()  # ends the current leadership term
        self.active = False
        self.lead_session = 0  # the session that owns our election lock node (the elected one)
        self.lead_node = ""  # that lock node's path: every write is fenced by its existence
        self.active_since: float | None = None
        self.started_at = time.time()
        self.dirty = True  # a full resync is due as soon as we may write
        self.owned: dict[str, set[str]] = {}  # container id → paths we registered for it
        self.inspect_cache: dict[str, dict] = {}
        # Container id → monotonic deadline: containers that got a terminating signal (see
        # terminating_kill) and may still be running while they shut down. Their registrations
        # were removed at the signal; without this the next resync would see them in `docker ps`
        # and register them again for the rest of their drain. Kept by every registrator, active
        # or standby (all read the events), so a takeover mid-drain does not re-register either,
        # and kept across session loss: it is the engine's state, not ZooKeeper's. An entry ends
        # with the container (die/stop/destroy), when it runs again (start/restart), or at its
        # deadline: a container that ignored the signal and keeps serving is registered again.
        self.draining: dict[str, float] = {}
        self.conflicts_logged: set[str] = set()
        self.zk: "KazooClient | None" = None
        self.election = None
        self.stream = None
        self.next_resync = 0.0
        self.stopped = threading.Event()
        self.suspended_since: float | None = None
        self.next_stuck_check = 0.0
        self.hand_over = False

    # --- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        """Blocks until stop(); ZooKeeper being down at start is waited out, never fatal."""
        log("starting", registrator=self.config.registrator_id, engine=self.engine_id, zk=self.config.uri.connect_string(),
            base=self.base, resync_s=self.config.resync, session_timeout_s=self.config.session_timeout,
            ip=self.config.options.ip, internal=self.config.options.internal, explicit=self.config.options.explicit)
        self._connect_zookeeper()
        if self.stopping.is_set():
            return self._shutdown()
        threading.Thread(target=self._events_loop, name="docker-events", daemon=True).start()
        threading.Thread(target=self._election_loop, name="election", daemon=True).start()
        try:
            self._main_loop()
        finally:
            self._shutdown()

    def stop(self, reason: str = "stop requested") -> None:
        """Safe from a signal handler: only sets flags and wakes the loop."""
        if not self.stopping.is_set():
            self.hand_over = self.active  # read before demote flips it
            # stopping before demote: the election thread queues ("demoted") as soon as demote is
            # set, and _handle must already see stopping then, so it keeps `owned` for the handover.
            self.stopping.set()
            self.demote.set()
            self.queue.put(("stop", reason))

    def _connect_zookeeper(self) -> None:
        from kazoo.protocol.states import KazooState

        hosts = self.config.uri.hosts
        connected = self._new_client()
        wait, attempt, started = 1.0, 0, time.monotonic()
        while not self.stopping.is_set():
            # Short slices, so a SIGTERM while ZooKeeper is down ends us at once.
            until = time.monotonic() + wait
            while time.monotonic() < until and not self.stopping.is_set() and not connected.wait(0.2):
                pass
            if self.stopping.is_set():
                return
            if connected.is_set() and self.zk.state == KazooState.CONNECTED:
                log("zookeeper connected", session=hex(self.zk.client_id[0]), waited_s=round(time.monotonic() - started, 1))
                return
            attempt += 1
            log("zookeeper unavailable", logging.WARNING, hosts=format_zk_hosts(hosts), waited_s=round(time.monotonic() - started, 1),
                attempt=attempt, next_check_s=min(wait * 2, 30), fix="start the ensemble (svcctl cluster up); retrying with backoff")
            wait = min(wait * 2, 30)

    def _new_client(self) -> threading.Event:
        from ..zk.client import make_client

        self.zk = make_client(self.config.uri.hosts, timeout=self.config.session_timeout)
        self.zk.add_listener(self._on_state)
        # kazoo retries every member forever (make_client's connection_retry); we only report.
        return self.zk.start_async()

    def _check_stuck(self) -> None:
        """A client that saw a higher zxid than the ensemble now has (the ensemble was wiped
        and recreated) is refused by every member forever; so is any client whose session the
        ensemble forgot. When members serve but we stay disconnected, start a new session."""
        from ..zk.fourletter import server_stats

        if self.suspended_since is None or self.zk is None or self.zk.connected:
            return
        waited = time.monotonic() - self.suspended_since
        if waited < 2 or time.monotonic() < self.next_stuck_check:
            return
        self.next_stuck_check = time.monotonic() + 2
        stats = [server_stats(h.host, h.port, timeout=1.0) for h in self.config.uri.hosts]
        serving = [s for s in stats if s.mode in ("leader", "follower", "standalone", "observer")]
        if not serving:
            return  # the ensemble is down: keep the session and wait for it
        newest = max(int(s.zxid, 16) for s in serving if s.zxid) if any(s.zxid for s in serving) else 0
        behind = newest < (self.zk.last_zxid or 0)
        if behind or waited > 2 * self.config.session_timeout:
            log("zookeeper session abandoned", logging.WARNING, waited_s=round(waited, 1),
                reason="the ensemble is behind what this client has seen (wiped and recreated?)" if behind else "members serve but refuse this session",
                client_zxid=hex(self.zk.last_zxid or 0), ensemble_zxid=hex(newest))
            old = self.zk
            old.remove_listener(self._on_state)
            self.demote.set()
            self._handle_state("LOST")
            self.suspended_since = time.monotonic()
            self._new_client()
            threading.Thread(target=lambda: (old.stop(), old.close()), name="old-zk-client", daemon=True).start()

    def _shutdown(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.stream is not None:
            try:
                self.stream.close()
            except Exception:  # the stream may already be broken; closing is best effort
                pass
        if self.zk is not None:
            if self.hand_over:
                self._wait_for_handover()
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:
                pass
        log("stopped", registrator=self.config.registrator_id)

    def _wait_for_handover(self) -> None:
        """After releasing the election (stop() demoted us): give a standby the time to take our
        nodes over (it replaces them in one transaction each), so clients see no gap."""
        deadline = time.monotonic() + self.config.handover_wait
        session = self.zk.client_id[0] if self.zk.client_id else 0
        # Every path we registered (kept intact by _handle while stopping). Done only when none
        # is still owned by our session: the successor replaces each one atomically (delete +
        # create in one transaction) or deletes it (container gone), so closing our session
        # then removes nothing. With no paths this would pass as soon as the successor calls
        # itself active, before its resync re-created anything: a gap.
        paths = [p for ps in self.owned.values() for p in ps]
        while time.monotonic() < deadline:
            try:
                contenders = self._contenders()
                others_active = contenders and contenders[0][2] != session and contenders[0][1].get("role") == "active"
                if others_active:
                    stats = [self.zk.exists_async(p) for p in paths]
                    mine = sum(1 for s in stats if (st := s.get()) is not None and st.ephemeralOwner == session)
                    if mine == 0:
                        log("handover done", successor=contenders[0][1].get("id"), registrations=len(paths))
                        return
            except Exception:
                return
            time.sleep(0.1)
        log("handover timeout", logging.WARNING, waited_s=self.config.handover_wait, note="no standby took over; our nodes go with our session")

    # --- ZooKeeper session states ----------------------------------------------------------

    def _on_state(self, state: str) -> None:
        # Called on kazoo's thread: never block here.
        from kazoo.protocol.states import KazooState

        if state == KazooState.LOST:
            self.demote.set()
        self.queue.put(("zk", state))

    def _handle_state(self, state: str) -> None:
        from kazoo.protocol.states import KazooState

        self.dirty = True
        if state == KazooState.CONNECTED:
            self.suspended_since = None
        elif self.suspended_since is None:
            self.suspended_since = time.monotonic()
        if state == KazooState.SUSPENDED:
            log("zookeeper suspended", logging.WARNING, note="connection to the member lost; keeping state and waiting for the session to move")
        elif state == KazooState.LOST:
            log("zookeeper session lost", logging.WARNING, note="every registration of the session is gone; re-creating them after reconnect and re-election",
                registrations=sum(len(p) for p in self.owned.values()))
            self.active = False
            self.owned.clear()
        elif state == KazooState.CONNECTED:
            session = self.zk.client_id[0] if self.zk and self.zk.client_id else 0
            log("zookeeper connected", session=hex(session), member=self._member(), same_session=session == self.lead_session if self.active else None)

    def _member(self) -> str | None:
        try:
            conn = self.zk._connection._socket  # which member we talk to, for the logs only
            host, port = conn.getpeername()[:2]
            return f"{host}:{port}"
        except Exception:
            return None

    def can_write(self) -> bool:
        from kazoo.protocol.states import KazooState

        return (
            self.active
            and not self.demote.is_set()
            and self.zk is not None
            and self.zk.state == KazooState.CONNECTED
            and bool(self.zk.client_id)
            and self.zk.client_id[0] == self.lead_session
        )

    # --- election ----------------------------------------------------------------------------

    def _identity(self, role: str) -> str:
        return json.dumps(
            {
                "id": self.config.registrator_id,
                "role": role,
                "since": self.active_since if role == "active" else self.started_at,
                "started_at": self.started_at,
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "engine_id": self.engine_id,
                "base": self.base,
                "registrations": sum(len(p) for p in self.owned.values()) if role == "active" else 0,
            },
            separators=(",", ":"),
        )

    def _contenders(self) -> list[tuple[str, dict, int]]:
        """(node, data, session) in election order: the first is the active writer."""
        children = self.zk.get_children(self.election_path)
        ordered = sorted((c for c in children if "__lock__" in c), key=lambda c: c[-10:])
        out = []
        for child in ordered:
            try:
                data, stat = self.zk.get(f"{self.election_path}/{child}")
            except Exception:
                continue
            out.append((child, decode_payload(data) or {}, stat.ephemeralOwner))
        return out

    def _drop_stale_contenders(self) -> None:
        """A lock node of our own session left by an earlier term (a release that failed while
        disconnected) would stand before everyone forever: delete it before contending again."""
        session = self.zk.client_id[0] if self.zk.client_id else 0
        for child, _data, owner in self._contenders():
            if owner == session:
                try:
                    self.zk.delete(f"{self.election_path}/{child}")
                except Exception:
                    pass

    def _election_loop(self) -> None:
        from kazoo.recipe.election import Election

        while not self.stopping.is_set():
            if not self.zk.connected:
                time.sleep(0.2)
                continue
            try:
                self.zk.ensure_path(self.election_path)
                self._drop_stale_contenders()
                self.demote.clear()
                # A fresh Election each term: a lock whose release failed keeps is_acquired set.
                client = self.zk
                election = self.election = Election(client, self.election_path, self._identity("standby"))
                # The lock retries forever, even on a closed client: stop it when we stop or
                # when the client is replaced (see _check_stuck).
                election.lock._retry.interrupt = lambda: self.stopping.is_set() or client is not self.zk
                election.lock._retry.max_delay = 2
                log("standby", election=self.election_path, registrator=self.config.registrator_id)
                election.run(self._lead, client, election)
            except Exception as exc:  # connection loss while contending: contend again
                if not self.stopping.is_set():
                    log("election interrupted", logging.WARNING, error=type(exc).__name__, detail=str(exc) or None)
                    time.sleep(0.5)

    def _lead(self, client: "KazooClient", election) -> None:
        """Runs while we hold the election: we are the active writer until demoted."""
        if self.stopping.is_set():
            return
        # The elected session is the owner of our lock node, read through the election's own
        # client: self.zk may already be a replacement (_check_stuck) whose session never won,
        # and kazoo may have opened a new session on `client` after an expiry (lock node gone).
        node = f"{election.lock.path}/{election.lock.node}" if election.lock.node else ""
        stat = client.exists(node) if node else None
        if stat is None or client is not self.zk or not client.client_id or stat.ephemeralOwner != client.client_id[0]:
            log("election void", logging.WARNING, registrator=self.config.registrator_id, reason="session changed while winning; contending again")
            return
        self.lead_node = node
        self.lead_session = stat.ephemeralOwner
        self.active_since = time.time()
        self.active = True
        self.dirty = True
        log("elected active", registrator=self.config.registrator_id, session=hex(self.lead_session), election=self.election_path)
        self._publish_identity()
        self.queue.put(("elected", self.lead_session))
        self.demote.wait()
        self.active = False
        log("leadership released", registrator=self.config.registrator_id, reason="stopping" if self.stopping.is_set() else "session lost")
        self.queue.put(("demoted", None))

    def _publish_identity(self) -> None:
        election = self.election
        if election is None or not election.lock.node or not self.active:
            return
        try:
            self.zk.set(f"{election.lock.path}/{election.lock.node}", self._identity("active").encode())
        except Exception:
            pass  # informative only

    # --- docker events -----------------------------------------------------------------------

    def _events_loop(self) -> None:
        since: str | None = None
        backoff = 0.5
        resumed = False
        while not self.stopping.is_set():
            try:
                self.stream = self.engine.events(decode=True, since=since, filters={"type": "container"})
                if resumed:
                    log("event stream resumed", since=since)
                    self.queue.put(("resync", "event stream resumed"))
                backoff = 0.5
                for event in self.stream:
                    nano = int(event.get("timeNano") or int(event.get("time", time.time())) * 1_000_000_000)
                    since = f"{nano // 1_000_000_000}.{nano % 1_000_000_000:09d}"
                    action = (event.get("Action") or event.get("status") or "").split(":")[0]
                    if action in ACTIONS:
                        actor = event.get("Actor") or {}
                        signal = (actor.get("Attributes") or {}).get("signal") if action == "kill" else None
                        self.queue.put(("container", event.get("id") or actor.get("ID"), action, nano / 1e9, signal))
                if self.stopping.is_set():
                    return
                raise ConnectionError("event stream closed by the engine")
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log("event stream lost", logging.WARNING, error=type(exc).__name__, detail=str(exc)[:200] or None, retry_in_s=backoff)
                resumed = True
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)

    # --- the loop ----------------------------------------------------------------------------

    def _main_loop(self) -> None:
        while not self.stopping.is_set():
            timeout = 1.0
            if self.config.resync > 0 and self.active:
                timeout = max(0.05, min(timeout, self.next_resync - time.monotonic()))
            try:
                item = self.queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            try:
                if item is not None:
                    self._handle(item)
                self._expire_draining()
                self._check_stuck()
                if self.can_write() and (self.dirty or (self.config.resync > 0 and time.monotonic() >= self.next_resync)):
                    self.full_resync("periodic" if not self.dirty else "state change")
            except Exception as exc:  # one failed step must never end the daemon
                self.dirty = True
                log("step failed", logging.WARNING, error=type(exc).__name__, detail=str(exc)[:300] or None)
                time.sleep(0.2)

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "container":
            _, cid, action, when, *rest = item
            if action == "kill":
                signal = rest[0] if rest else None
                if not self._starts_drain(cid, signal):
                    return  # a reload signal (HUP, USR1…): the container goes on serving
                # Recorded whether or not we may write now: a resync (ours after a
                # reconnect, or after we win the election) must leave the container out too.
                self.draining[cid] = time.monotonic() + self.config.drain_hold
                log("draining", container_id=cid[:12], signal=signal, hold_s=self.config.drain_hold,
                    note="terminating signal: deregistered now, not at die")
            elif action in DRAIN_END_ACTIONS:
                self.draining.pop(cid, None)
            if action == "destroy":
                self.inspect_cache.pop(cid, None)
            if self.can_write() and not self.dirty:
                self.sync_container(cid, action, when)
            elif self.can_write():
                pass  # a full resync follows in this iteration and covers it
            else:
                self.inspect_cache.pop(cid, None)
        elif kind == "zk":
            self._handle_state(item[1])
        elif kind == "elected":
            self.dirty = True
        elif kind == "demoted":
            # Not when stopping: _wait_for_handover needs the paths we own (the session lives on
            # until the successor has taken them over). Otherwise the term ended with a lost session.
            if not self.stopping.is_set():
                self.owned.clear()
        elif kind == "resync":
            self.dirty = True
            log("resync requested", reason=item[1])
        elif kind == "stop":
            log("stopping", reason=item[1], active=self.active)

    # --- draining ------------------------------------------------------------------------------

    def _starts_drain(self, cid: str, signal: object) -> bool:
        """terminating_kill with the container's STOPSIGNAL: from the inspect cache (filled at
        start and by every resync), else a fresh inspect, only needed for a signal that does
        not terminate by default; the container is still running, so that inspect is quick."""
        if cid is None or signal_number(signal) is None:
            return False
        if terminating_kill(signal):
            return True
        info = self.inspect_cache.get(cid)
        if info is None:
            try:
                info = self.inspect(cid)
            except Exception as exc:  # the engine is busy or gone: keep the registration, die still follows
                log("inspect failed", logging.WARNING, container_id=cid[:12], error=type(exc).__name__)
                info = None
        stop_signal = ((info or {}).get("Config") or {}).get("StopSignal")
        return terminating_kill(signal, stop_signal)

    def is_draining(self, cid: str) -> bool:
        deadline = self.draining.get(cid)
        return deadline is not None and time.monotonic() < deadline

    def _expire_draining(self) -> None:
        """A container still running when its hold ends ignored the signal: a resync registers
        it again (the dirty flag, so it happens now, even with periodic resync off)."""
        now = time.monotonic()
        for cid, deadline in list(self.draining.items()):
            if now >= deadline:
                del self.draining[cid]
                self.dirty = True
                log("drain hold expired", container_id=cid[:12], hold_s=self.config.drain_hold,
                    note="still running after a terminating signal? the resync registers it again")

    # --- docker side -------------------------------------------------------------------------

    def inspect(self, cid: str) -> dict | None:
        """Fresh `docker inspect`, or None when the container is gone (died while we asked)."""
        import docker.errors

        try:
            info = self.engine.api.inspect_container(cid)
        except docker.errors.NotFound:
            self.inspect_cache.pop(cid, None)
            return None
        self.inspect_cache[cid] = info
        return info

    def running_containers(self) -> list[dict]:
        """`docker ps` (running and paused) with inspect data; cached inspects are reused when
        the container's published ports did not change, missing ones fetched in parallel."""
        import docker.errors

        listed = self.engine.api.containers()
        infos: dict[str, dict] = {}
        missing = []
        for entry in listed:
            cid = entry["Id"]
            cached = self.inspect_cache.get(cid)
            if cached is not None and port_signature_from_inspect(cached) == port_signature_from_list(entry):
                state = dict(cached.get("State") or {})
                state["Running"] = True
                state["Paused"] = entry.get("State") == "paused"
                infos[cid] = {**cached, "State": state}
            else:
                missing.append(cid)

        def fetch(cid: str) -> dict | None:
            try:
                return self.engine.api.inspect_container(cid)
            except docker.errors.NotFound:
                return None  # died between ps and inspect: skipped

        if missing:
            with ThreadPoolExecutor(max_workers=4) as pool:
                for cid, info in zip(missing, pool.map(fetch, missing)):
                    if info is not None:
                        infos[cid] = info
                        self.inspect_cache[cid] = info
        for cid in list(self.inspect_cache):
            if cid not in infos:
                del self.inspect_cache[cid]
        return [infos[e["Id"]] for e in listed if e["Id"] in infos]

    def registrations_of(self, info: dict | None) -> list[Registration]:
        if info is None:
            return []
        naming = container_registrations(info, self.config.options)
        for refusal in naming.refused:
            log("refused", logging.WARNING, container=refusal.container_name, port=refusal.port, name=refusal.name, reason=refusal.reason)
        return naming.registrations

    # --- ZooKeeper side ----------------------------------------------------------------------

    def read_nodes(self, paths: list[str]) -> dict[str, ActualNode]:
        results = [(p, self.zk.get_async(p)) for p in paths]
        return self._collect(results)

    def _collect(self, results) -> dict[str, ActualNode]:
        from kazoo.exceptions import NoNodeError

        out: dict[str, ActualNode] = {}
        for path, result in results:
            try:
                data, stat = result.get()
            except NoNodeError:
                continue
            out[path] = ActualNode(path, decode_payload(data), stat.ephemeralOwner, stat.version)
        return out

    def read_tree(self) -> tuple[dict[str, ActualNode], list[str]]:
        """Every registration node under BASE, and the empty service nodes."""
        from kazoo.exceptions import NoNodeError

        try:
            services = self.zk.get_children(self.base)
        except NoNodeError:
            return {}, []
        children = [(s, self.zk.get_children_async(f"{self.base}/{s}")) for s in services]
        results, empty = [], []
        for service, result in children:
            try:
                kids = result.get()
            except NoNodeError:
                continue
            if not kids:
                empty.append(f"{self.base}/{service}")
            for kid in kids:
                path = f"{self.base}/{service}/{kid}"
                results.append((path, self.zk.get_async(path)))
        return self._collect(results), empty

    def _fenced(self, fence: str) -> Any:
        """A transaction whose first operation checks that our election lock node exists (any
        version: _publish_identity rewrites its data). That node lives exactly as long as the
        elected session, so a write that went out on any other session fails as a whole."""
        tx = self.zk.transaction()
        tx.check(fence, -1)
        return tx

    def _create(self, path: str, data: bytes, fence: str) -> None:
        """Create an ephemeral registration (fenced); its persistent parent is (re)created as
        needed: a concurrent prune of an empty parent makes the create fail with NoNode, so retry."""
        from kazoo.exceptions import NodeExistsError, NoNodeError

        parent = path.rsplit("/", 1)[0]
        for attempt in range(6):
            tx = self._fenced(fence)
            tx.create(path, data, ephemeral=True)
            error = fenced_result(tx.commit())[0]
            if not isinstance(error, Exception):
                return
            if not isinstance(error, NoNodeError) or attempt == 5:
                raise error
            try:
                self.zk.ensure_path(parent)
            except NodeExistsError:
                pass

    def _prune_parent(self, parent: str) -> None:
        """Delete a service node that became empty, with its version: a node that got a child
        or changed meanwhile is kept (NotEmpty / BadVersion)."""
        from kazoo.exceptions import BadVersionError, NoNodeError, NotEmptyError

        try:
            stat = self.zk.exists(parent)
            if stat is None or stat.numChildren:
                return
            self.zk.delete(parent, version=stat.version)
            log("service removed", path=parent, reason="no instances left")
        except (NotEmptyError, BadVersionError, NoNodeError):
            pass

    def apply(self, ops: list[Op], cause: str, started: float, event_time: float | None = None) -> dict[str, int]:
        """Apply a plan; one log line per register/deregister, with its latency (from the
        engine's event when there is one, else from the start of the step)."""
        from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, RolledBackError, RuntimeInconsistency

        counts = {"create": 0, "replace": 0, "update": 0, "delete": 0, "conflict": 0, "failed": 0}
        now = time.time()
        pending = []
        parents_touched: set[str] = set()
        # The caller's can_write() was a moment ago; the session may have changed since (an
        # expiry makes kazoo open a new one on the same client). Check again, then fence each
        # write by our lock node (see _fenced), which closes the window between check and send.
        fence = self.lead_node
        if not self.can_write() or not fence:
            self.dirty = True
            counts["failed"] = sum(op.kind != "conflict" for op in ops)
            if counts["failed"]:
                log("writes skipped", logging.WARNING, reason="not the elected session", ops=counts["failed"], cause=cause)
            return counts
        # Every write is a fenced transaction, sent pipelined (async).
        fenced = 0
        for op in ops:
            if op.kind == "delete":
                tx = self._fenced(fence)
                tx.delete(op.path, version=op.version)
                pending.append((op, tx.commit_async()))
            elif op.kind == "create":
                data = encode_payload(op.registration, self.engine_id, self.config.registrator_id, now)
                tx = self._fenced(fence)
                tx.create(op.path, data, ephemeral=True)
                pending.append((op, tx.commit_async()))
            elif op.kind == "update":
                data = encode_payload(op.registration, self.engine_id, self.config.registrator_id, now)
                tx = self._fenced(fence)
                tx.set_data(op.path, data, version=op.version)
                pending.append((op, tx.commit_async()))
            elif op.kind == "replace":
                data = encode_payload(op.registration, self.engine_id, self.config.registrator_id, now)
                tx = self._fenced(fence)
                tx.delete(op.path, version=op.version)
                tx.create(op.path, data, ephemeral=True)
                pending.append((op, tx.commit_async()))
            elif op.kind == "conflict":
                counts["conflict"] += 1
                if op.path not in self.conflicts_logged:
                    self.conflicts_logged.add(op.path)
                    log("conflict", logging.WARNING, path=op.path, reason=op.reason, container=op.registration.container_name)
        for op, result in pending:
            ok = True
            try:
                errors = [r for r in fenced_result(result.get()) if isinstance(r, Exception)]
                real = [e for e in errors if not isinstance(e, (RolledBackError, RuntimeInconsistency))]
                if errors:
                    raise (real or errors)[0]
            except NoNodeError:
                try:
                    if op.kind in ("create", "replace", "update"):
                        self._create(op.path, encode_payload(op.registration, self.engine_id, self.config.registrator_id, now), fence)
                    # delete of a node already gone: fine
                except NotElected:
                    ok = False
                    fenced += 1
            except NotElected:
                ok = False
                fenced += 1
            except (NodeExistsError, BadVersionError) as exc:
                ok = False
                self.dirty = True  # someone wrote meanwhile: the next resync re-plans from fresh reads
                log("write raced", logging.WARNING, op=op.kind, path=op.path, error=type(exc).__name__)
            except Exception as exc:
                ok = False
                self.dirty = True
                log("write failed", logging.WARNING, op=op.kind, path=op.path, error=type(exc).__name__)
            if not ok:
                counts["failed"] += 1
                continue
            counts[op.kind] += 1
            latency_ms = (time.time() - (event_time if event_time else started)) * 1000
            reg = op.registration
            if op.kind == "delete":
                parents_touched.add(op.path.rsplit("/", 1)[0])
                log("deregister", path=op.path, reason=op.reason, cause=cause, latency_ms=round(latency_ms, 1))
            else:
                log("register" if op.kind != "update" else "update", path=op.path, service=reg.name, container=reg.container_name,
                    container_id=reg.container_id[:12], protocol=reg.protocol, takeover=op.kind == "replace" or None, cause=cause,
                    latency_ms=round(latency_ms, 1))
                self.conflicts_logged.discard(op.path)
        if fenced:
            self.dirty = True  # re-planned once we are elected (again) on the current session
            log("writes fenced", logging.WARNING, ops=fenced, cause=cause, reason="our election lock node is gone: this session is not the elected one")
        for parent in parents_touched:
            self._prune_parent(parent)
        return counts

    # --- the two kinds of work ---------------------------------------------------------------

    def sync_container(self, cid: str, action: str, event_time: float) -> None:
        """React to one engine event: only this container's nodes are read and written."""
        started = time.time()
        if action in GONE_ACTIONS:
            info = None
            if action != "pause":
                self.inspect_cache.pop(cid, None)
        elif self.is_draining(cid):
            # A terminating `kill`, or another event (unpause, rename, update) of a container
            # that is shutting down: it registers nothing until it runs again after a start.
            info = None
        else:
            info = self.inspect(cid)
        desired, duplicates = desired_map(self.registrations_of(info), self.base)
        paths = sorted(set(desired) | self.owned.get(cid, set()))
        if not paths:
            return
        actual = self.read_nodes(paths)
        session = self.lead_session
        ops = plan(desired, actual, engine_id=self.engine_id, registrator_id=self.config.registrator_id, session_id=session)
        # A path of this container's earlier life that another container now holds is not ours to delete.
        ops = [op for op in ops if not (op.kind == "delete" and (actual[op.path].body or {}).get("svcctl", {}).get("container_id") not in (cid, None))]
        self.apply(ops, cause=action, started=started, event_time=event_time)
        if desired:
            self.owned[cid] = set(desired)
        else:
            self.owned.pop(cid, None)

    def full_resync(self, reason: str) -> None:
        """Reconcile the whole BASE tree against `docker ps`: add what is missing, take over
        what a dead registrator of this engine left, fix changed data, remove what no longer runs."""
        started = time.time()
        self.dirty = False
        self.next_resync = time.monotonic() + self.config.resync
        infos = self.running_containers()
        # Entries of containers no longer running are done (their die may have come while we
        # read); running ones that are draining register nothing (see self.draining).
        running = {info.get("Id") for info in infos}
        for cid in [c for c in self.draining if c not in running]:
            del self.draining[cid]
        regs = [r for info in infos if not self.is_draining(info.get("Id")) for r in self.registrations_of(info)]
        desired, duplicates = desired_map(regs, self.base)
        for dup in duplicates:
            log("duplicate", logging.WARNING, path=dup.path(self.base), container=dup.container_name, protocol=dup.protocol)
        actual, empty = self.read_tree()
        ops = plan(desired, actual, engine_id=self.engine_id, registrator_id=self.config.registrator_id, session_id=self.lead_session)
        if not self.can_write():
            self.dirty = True
            return
        counts = self.apply(ops, cause=f"resync:{reason}", started=started)
        self.owned = {}
        for path, reg in desired.items():
            self.owned.setdefault(reg.container_id, set()).add(path)
        self._prune_empty(empty)
        changed = any(counts[k] for k in ("create", "replace", "update", "delete", "failed"))
        if changed or reason != "periodic":
            log("resync", reason=reason, containers=len(infos), registrations=len(desired), duration_ms=round((time.time() - started) * 1000, 1),
                **{k: v for k, v in counts.items() if v})
        self._publish_identity()

    def _prune_empty(self, empty: list[str]) -> None:
        for parent in empty:
            try:
                stat = self.zk.exists(parent)
            except Exception:
                continue
            if stat is not None and not stat.numChildren and (time.time() * 1000 - stat.ctime) > PARENT_PRUNE_AGE_MS:
                self._prune_parent(parent)


def run_registrator(config: Config, install_signals: bool = True, on_ready: Callable[[Registrator], None] | None = None) -> None:
    """Run until SIGTERM/SIGINT (an immediate handover to a standby when we are active)."""
    registrator = Registrator(config)
    if install_signals:
        def handle(signum: int, _frame: Any) -> None:
            registrator.stop(f"signal {signal_module.Signals(signum).name}")

        signal_module.signal(signal_module.SIGTERM, handle)
        signal_module.signal(signal_module.SIGINT, handle)
    if on_ready is not None:
        on_ready(registrator)
    registrator.run()
