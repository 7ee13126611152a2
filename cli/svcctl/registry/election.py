"""Where the registrators of one engine elect their writer: the election tree's paths and the
order of its contenders (kazoo's Lock recipe). Pure: read by the daemon, the status readers,
the cache and the audit of a secured tree alike; and the identity a registrator publishes in
its lock node (ElectionIdentity: the one reader and writer of that JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from svcctl.zk.znode import decode_json

ELECTION_ROOT = "/svcctl/registrators"
LOCK_MARKER = "__lock__"  # kazoo's Lock names its contender nodes `<uuid>__lock__<sequence>`


def election_path(engine_id: str, base: str = "/services") -> str:
    """One election per engine and registry base: registrators writing /services and others
    writing another base on the same engine do not stand by for each other."""
    key = engine_id if base.rstrip("/") == "/services" else f"{engine_id}@{base.strip('/').replace('/', '~')}"
    return f"{ELECTION_ROOT}/{key}"


def contenders_in_order(children: list[str]) -> list[str]:
    """kazoo lock contender node names in election order (by their 10-digit sequence suffix):
    the first one holds the lock, i.e. is the active registrator."""
    return sorted((c for c in children if LOCK_MARKER in c), key=lambda c: c[-10:])


@dataclass(frozen=True)
class ElectionIdentity:
    """Who holds an election lock node, as its registrator wrote it: informative for status, and
    what the audit of a secured registry and a restarted registrator judge a lock by."""

    id: str | None = None
    role: str | None = None  # active | standby
    since: float | None = None  # active: since when; standby: since it started
    started_at: float | None = None
    hostname: str | None = None
    pid: int | None = None
    engine_id: str | None = None
    base: str | None = None
    registrations: int = 0
    x509: str | None = None  # its identity on a secured registry

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ElectionIdentity:
        def text(key: str) -> str | None:
            value = body.get(key)
            return value if isinstance(value, str) else None

        def number(key: str) -> float | None:
            value = body.get(key)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        pid, registrations = body.get("pid"), body.get("registrations")
        return cls(
            id=text("id"),
            role=text("role"),
            since=number("since"),
            started_at=number("started_at"),
            hostname=text("hostname"),
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            engine_id=text("engine_id"),
            base=text("base"),
            registrations=registrations if isinstance(registrations, int) else 0,
            x509=text("x509"),
        )

    @classmethod
    def from_bytes(cls, data: bytes | str | None) -> ElectionIdentity:
        """The identity in a lock node's data; an empty one when it holds no JSON object (a
        lock some other client made)."""
        _, value = decode_json(data)
        return cls.from_dict(value) if isinstance(value, dict) else cls()

    def to_bytes(self) -> bytes:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, separators=(",", ":")).encode()
