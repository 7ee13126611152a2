"""Fenced writes: a reconciliation plan's ops → ZooKeeper transactions → typed outcomes.

Every transaction first checks that our election lock node exists (any version: the identity
in it is rewritten). That node lives exactly as long as the elected session, so a write that
went out on any other session (kazoo opens a new one on the same client after an expiry) fails
as a whole. A burst's ops go out as one multi-op transaction (one round trip); only when one of
them fails are they sent one by one, to learn which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from svcctl.registry.model import Op, OpKind, Registration

if TYPE_CHECKING:
    from kazoo.client import KazooClient

WRITE_KINDS = (OpKind.CREATE, OpKind.REPLACE, OpKind.UPDATE, OpKind.DELETE)
MAX_OPS_PER_TRANSACTION = 100  # ~0.5 KB a payload: far below ZooKeeper's 1 MB request limit
CREATE_ATTEMPTS = 6


class OutcomeStatus(StrEnum):
    """done: written; raced: someone wrote the node meanwhile (NodeExists/BadVersion: re-plan
    from fresh reads); fenced: our lock node is gone, this session is not the elected one;
    failed: anything else (connection loss…)."""

    DONE = "done"
    RACED = "raced"
    FENCED = "fenced"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    op: Op
    status: OutcomeStatus
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.DONE


class NotElected(Exception):
    """A fenced transaction's check failed: nothing of it was written."""


def fenced_result(results: list) -> list:
    """The results of a fenced transaction without the check's. Raises NotElected when the check
    failed; when a later operation failed the check's slot holds RolledBackError, which is not a
    failure of the check."""
    from kazoo.exceptions import RolledBackError

    if isinstance(results[0], Exception) and not isinstance(results[0], RolledBackError):
        raise NotElected()
    return results[1:]


def first_error(results: list) -> Exception | None:
    """The operation's own error in a failed multi (the others say RolledBack / RuntimeInconsistency)."""
    from kazoo.exceptions import RolledBackError, RuntimeInconsistency

    errors = [r for r in results if isinstance(r, Exception)]
    real = [e for e in errors if not isinstance(e, (RolledBackError, RuntimeInconsistency))]
    return (real or errors or [None])[0]


class FencedWriter:
    def __init__(self, client: Callable[[], KazooClient]) -> None:
        self.client = client  # a provider: the session keeper may replace the client
        self.known_parents: set[str] = set()  # service nodes known to exist (saves a round trip)

    def apply(self, ops: list[Op], fence: str, encode: Callable[[Registration], bytes]) -> list[Outcome]:
        writes = [op for op in ops if op.kind in WRITE_KINDS]
        if not writes:
            return []
        client = self.client()
        creates = (OpKind.CREATE, OpKind.REPLACE)
        self._ensure_parents(client, {op.path.rsplit("/", 1)[0] for op in writes if op.kind in creates})
        outcomes: list[Outcome] = []
        for start in range(0, len(writes), MAX_OPS_PER_TRANSACTION):
            chunk = writes[start : start + MAX_OPS_PER_TRANSACTION]
            outcomes += (
                self._apply_together(client, chunk, fence, encode)
                if len(chunk) > 1
                else self._apply_each(client, chunk, fence, encode)
            )
        return outcomes

    def _apply_together(self, client: KazooClient, ops: list[Op], fence: str, encode) -> list[Outcome]:
        tx = client.transaction()
        tx.check(fence, -1)
        for op in ops:
            _add(tx, op, encode)
        try:
            results = fenced_result(tx.commit())
        except NotElected:
            return [Outcome(op, OutcomeStatus.FENCED) for op in ops]
        except Exception as exc:  # connection loss: nothing is known of it, the caller resyncs
            return [Outcome(op, OutcomeStatus.FAILED, type(exc).__name__) for op in ops]
        if first_error(results) is None:
            return [Outcome(op, OutcomeStatus.DONE) for op in ops]
        return self._apply_each(client, ops, fence, encode)  # all rolled back: learn which failed

    def _apply_each(self, client: KazooClient, ops: list[Op], fence: str, encode) -> list[Outcome]:
        from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

        pending = []
        for op in ops:  # pipelined: every transaction sent before the first answer is awaited
            tx = client.transaction()
            tx.check(fence, -1)
            _add(tx, op, encode)
            pending.append((op, tx.commit_async()))
        outcomes = []
        for op, result in pending:
            try:
                error = first_error(fenced_result(result.get()))
                if isinstance(error, NoNodeError) and op.kind != OpKind.DELETE:
                    self._create(client, op.path, encode(op.registration), fence)  # its parent went meanwhile
                elif error is not None and not isinstance(error, NoNodeError):  # a delete of a node gone: done
                    raise error
                outcomes.append(Outcome(op, OutcomeStatus.DONE))
            except NotElected:
                outcomes.append(Outcome(op, OutcomeStatus.FENCED))
            except (NodeExistsError, BadVersionError) as exc:
                outcomes.append(Outcome(op, OutcomeStatus.RACED, type(exc).__name__))
            except Exception as exc:
                outcomes.append(Outcome(op, OutcomeStatus.FAILED, type(exc).__name__))
        return outcomes

    def _create(self, client: KazooClient, path: str, data: bytes, fence: str) -> None:
        """Create an ephemeral registration (fenced), re-creating its persistent parent when a
        concurrent prune of an empty parent makes the create fail with NoNode: CREATE_ATTEMPTS
        tries through kazoo's KazooRetry, one right after the other, on NoNode only (a lost
        connection is the caller's to report; the next resync repairs it)."""
        from kazoo.exceptions import NoNodeError
        from kazoo.retry import KazooRetry, RetryFailedError

        parent = path.rsplit("/", 1)[0]
        tried = False

        def create() -> None:
            nonlocal tried
            if tried:  # NoNode: the parent went after it was made
                self.known_parents.discard(parent)
                self._ensure_parents(client, {parent})
            tried = True
            tx = client.transaction()
            tx.check(fence, -1)
            tx.create(path, data, ephemeral=True)
            error = fenced_result(tx.commit())[0]
            if isinstance(error, Exception):
                raise error

        retry = KazooRetry(
            max_tries=CREATE_ATTEMPTS, delay=0, max_jitter=0, ignore_expire=False, sleep_func=lambda _seconds: None
        )
        retry.retry_exceptions = (NoNodeError,)
        try:
            retry(create)
        except RetryFailedError as exc:  # the tries are spent: the last NoNode is the outcome
            raise exc.__context__ from None

    def _ensure_parents(self, client: KazooClient, parents: set[str]) -> None:
        from kazoo.exceptions import NodeExistsError

        unknown = sorted(parents - self.known_parents)
        checks = [(p, client.exists_async(p)) for p in unknown]
        for parent, check in checks:
            try:
                if check.get() is None:
                    client.ensure_path(parent)
            except NodeExistsError:
                pass
            except Exception:  # the transaction will say NoNode and _create retries
                continue
            self.known_parents.add(parent)

    def prune_parent(self, parent: str, older_than_ms: float = 0, now_ms: float = 0) -> bool:
        """Delete a service node that has no instance, with its version: a node that got a child
        or changed meanwhile is kept (NotEmpty / BadVersion). Not fenced: an empty service node
        is nobody's registration. Returns True when it was deleted."""
        from kazoo.exceptions import BadVersionError, NoNodeError, NotEmptyError

        client = self.client()
        try:
            stat = client.exists(parent)
            if stat is None or stat.numChildren or (older_than_ms and now_ms - stat.ctime <= older_than_ms):
                return False
            self.known_parents.discard(parent)
            client.delete(parent, version=stat.version)
            return True
        except (NotEmptyError, BadVersionError, NoNodeError):
            return False


def _add(tx, op: Op, encode: Callable[[Registration], bytes]) -> None:
    if op.kind == OpKind.DELETE:
        tx.delete(op.path, version=op.version)
    elif op.kind == OpKind.CREATE:
        tx.create(op.path, encode(op.registration), ephemeral=True)
    elif op.kind == OpKind.UPDATE:
        tx.set_data(op.path, encode(op.registration), version=op.version)
    elif op.kind == OpKind.REPLACE:
        tx.delete(op.path, version=op.version)
        tx.create(op.path, encode(op.registration), ephemeral=True)
