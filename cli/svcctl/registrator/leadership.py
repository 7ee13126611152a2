"""One active writer per engine: kazoo's Election among the registrators of that engine, under
/svcctl/registrators/<engine-id>. The active one publishes who it is in its lock node (read by
`svcctl registrator status`); a SIGTERM hands over to a standby with no gap; a registrator that
crashed and came back removes its dead predecessor's lock node so the next in line takes over at
once instead of after the dead session's timeout."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from svcctl.registrator.logfmt import log
from svcctl.registry.election import ElectionIdentity, contenders_in_order
from svcctl.wait import poll_until

if TYPE_CHECKING:
    from svcctl.registrator.session import SessionKeeper


@dataclass(frozen=True)
class Elected:
    session: int
    node: str  # our lock node: every write is fenced by its existence


@dataclass(frozen=True)
class Demoted:
    pass


@dataclass(frozen=True)
class Contender:
    node: str  # the lock node's name
    identity: ElectionIdentity
    session: int  # its ephemeral owner


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, not ours to signal
        return True
    return True


def predecessor_is_dead(
    theirs: ElectionIdentity, ours: ElectionIdentity, is_pid_alive: Callable[[int], bool] = pid_alive
) -> bool:
    """Is a contender with our registrator id, on another session than ours, an earlier life of
    this registrator? Only when that can be known here: same host (a restarted container keeps
    its hostname) and its process is gone — our own pid (only one process has it: us, so that
    node is from a session we abandoned, or from the previous process of a restarted container,
    where the daemon is pid 1 again) or no such process. A contender with our id on another
    host, or with a live process, is a misconfigured duplicate: alive."""
    if theirs.id != ours.id or theirs.hostname != ours.hostname or theirs.pid is None:
        return False
    return theirs.pid == ours.pid or not is_pid_alive(theirs.pid)


class Leadership:
    def __init__(
        self,
        session: SessionKeeper,
        election_path: str,
        registrator_id: str,
        engine_id: str,
        base: str,
        post: Callable[[object], None],
        registrations: Callable[[], int],
        x509_identity: str | None = None,
    ) -> None:
        self.session = session
        self.x509_identity = x509_identity  # what a secured registry knows us as (status shows it per host)
        self.election_path = election_path
        self.registrator_id = registrator_id
        self.engine_id = engine_id
        self.base = base
        self.post = post
        self.registrations = registrations
        self.started_at = time.time()
        self.active = False
        self.active_since: float | None = None
        self.lead_session = 0  # the session that owns our lock node (the elected one)
        self.lead_node = ""
        self.demoting = threading.Event()  # ends the current term
        self.stopping = threading.Event()
        self._duplicates_logged: set[str] = set()

    # --- what the loop asks --------------------------------------------------------------------

    def can_write(self) -> bool:
        """Active, connected, and on the very session that won (not a new one after expiry)."""
        return (
            self.active
            and not self.demoting.is_set()
            and self.session.connected
            and self.session.session_id == self.lead_session
        )

    def identity(self, role: str) -> ElectionIdentity:
        return ElectionIdentity(
            id=self.registrator_id,
            role=role,
            since=self.active_since if role == "active" else self.started_at,
            started_at=self.started_at,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            engine_id=self.engine_id,
            base=self.base,
            registrations=self.registrations() if role == "active" else 0,
            x509=self.x509_identity,
        )

    def publish_identity(self) -> None:
        """Informative only (status reads it): failures are ignored."""
        if not self.active or not self.lead_node:
            return
        try:
            self.session.client.set(self.lead_node, self.identity("active").to_bytes())
        except Exception:
            pass

    def contenders(self) -> list[Contender]:
        """In election order: the first is the active writer."""
        client = self.session.client
        out = []
        for child in contenders_in_order(client.get_children(self.election_path)):
            try:
                data, stat = client.get(f"{self.election_path}/{child}")
            except Exception:  # left between the listing and the read
                continue
            out.append(Contender(child, ElectionIdentity.from_bytes(data), stat.ephemeralOwner))
        return out

    # --- the term ------------------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._run, name="election", daemon=True).start()

    def demote(self) -> None:
        self.demoting.set()

    def stop(self) -> None:
        self.stopping.set()
        self.demoting.set()

    def _run(self) -> None:
        from kazoo.recipe.election import Election

        while not self.stopping.is_set():
            if not self.session.connected:
                time.sleep(0.2)
                continue
            try:
                client = self.session.client
                client.ensure_path(self.election_path)
                self.clear_stale_contenders()
                self.demoting.clear()
                # A fresh Election each term: a lock whose release failed keeps is_acquired set.
                election = Election(
                    client, self.election_path, self.identity("standby").to_bytes().decode()
                )  # kazoo encodes it
                # The lock retries forever, even on a closed client: stop it when we stop or when
                # the session keeper replaced the client (kazoo keeps this knob private).
                election.lock._retry.interrupt = lambda client=client: (
                    self.stopping.is_set() or client is not self.session.client
                )
                election.lock._retry.max_delay = 2
                log("standby", election=self.election_path, registrator=self.registrator_id)
                election.run(self.serve_term, client, election)
            except Exception as exc:  # connection loss while contending: contend again
                if not self.stopping.is_set():
                    log("election interrupted", logging.WARNING, error=type(exc).__name__, detail=str(exc) or None)
                    time.sleep(0.5)

    def clear_stale_contenders(self) -> None:
        """Before contending: remove lock nodes that can only be dead — our own session's from an
        earlier term (a release that failed while disconnected would stand before everyone
        forever), and those of an earlier life of this registrator (a crash and restart: the
        next in line takes over now, not at the dead session's expiry). A live registrator with
        our id is a misconfiguration: logged, left alone, so the two never flap each other out."""
        client = self.session.client
        ours = self.identity("standby")
        for contender in self.contenders():
            path = f"{self.election_path}/{contender.node}"
            if contender.session == self.session.session_id:
                reason = "our own session's earlier term"
            elif predecessor_is_dead(contender.identity, ours):
                reason = "an earlier life of this registrator (crashed and restarted)"
            else:
                if contender.identity.id == self.registrator_id and contender.node not in self._duplicates_logged:
                    self._duplicates_logged.add(contender.node)
                    log(
                        "duplicate registrator id",
                        logging.WARNING,
                        registrator=self.registrator_id,
                        other_host=contender.identity.hostname,
                        other_pid=contender.identity.pid,
                        fix="give every registrator of an engine its own id (--id / SVCCTL_REGISTRATOR_ID)",
                    )
                continue
            try:
                client.delete(path)
                log(
                    "contender removed",
                    node=contender.node,
                    reason=reason,
                    was_active=contender.identity.role == "active" or None,
                )
            except Exception:  # gone already, or the connection moved: the next term retries
                pass

    def serve_term(self, client, election) -> None:
        """Runs while we hold the election: we are the active writer until demoted."""
        if self.stopping.is_set():
            return
        # The elected session is the owner of our lock node, read through the election's own
        # client: the keeper may have replaced the client (its session never won), and kazoo may
        # have opened a new session on `client` after an expiry (our lock node gone with it).
        node = f"{election.lock.path}/{election.lock.node}" if election.lock.node else ""
        stat = client.exists(node) if node else None
        if (
            stat is None
            or client is not self.session.client
            or not client.client_id
            or stat.ephemeralOwner != client.client_id[0]
        ):
            log(
                "election void",
                logging.WARNING,
                registrator=self.registrator_id,
                reason="session changed while winning; contending again",
            )
            return
        self.lead_node, self.lead_session = node, stat.ephemeralOwner
        self.active_since = time.time()
        self.active = True
        log(
            "elected active",
            registrator=self.registrator_id,
            session=hex(self.lead_session),
            election=self.election_path,
        )
        self.publish_identity()
        self.post(Elected(self.lead_session, node))
        self.demoting.wait()
        self.active = False
        log(
            "leadership released",
            registrator=self.registrator_id,
            reason="stopping" if self.stopping.is_set() else "session lost",
        )
        self.post(Demoted())

    # --- SIGTERM -----------------------------------------------------------------------------

    def wait_for_handover(self, paths: list[str], timeout: float) -> None:
        """After releasing the election: give a standby the time to take our nodes over (it
        replaces each in one transaction), so clients see no gap. Done only when none of `paths`
        is still owned by our session: with no paths this would pass as soon as the successor
        calls itself active, before its resync re-created anything."""
        client, session = self.session.client, self.session.session_id

        def handover() -> tuple[str, str | None] | None:
            """(outcome, successor) once there is one: skipped, done, or failed (our session
            is going: nothing more to wait for)."""
            try:
                contenders = self.contenders()
                if not any(c.session != session for c in contenders):
                    return "skipped", None
                if contenders[0].session != session and contenders[0].identity.role == "active":
                    stats = [client.exists_async(p) for p in paths]
                    if not any((st := s.get()) is not None and st.ephemeralOwner == session for s in stats):
                        return "done", contenders[0].identity.id
            except Exception:
                return "failed", None
            return None

        outcome = poll_until(handover, lambda found: found is not None, time.monotonic() + timeout, interval=0.1)
        if outcome is None:
            log(
                "handover timeout",
                logging.WARNING,
                waited_s=timeout,
                note="no standby took over; our nodes go with our session",
            )
        elif outcome[0] == "skipped":
            log("handover skipped", reason="no standby registrator: our nodes go with our session")
        elif outcome[0] == "done":
            log("handover done", successor=outcome[1], registrations=len(paths))
