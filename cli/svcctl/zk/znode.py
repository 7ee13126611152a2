"""A znode as read at one moment (ZnodeSnapshot: path, data, stat, and its child names when they
were read): the one value type of every read — `zk get/stat/tree`, the tree walks, the watcher's
local copy, the registrators' reconciliation input and prune's snapshot. Pure: no kazoo import."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any


def decode_json(data: bytes | str | None) -> tuple[str, Any | None]:
    """Any znode's data as (text, parsed JSON or None): the one JSON decoder of node data (the
    registration payload type builds on it). Binary data reads with replacement characters."""
    if not data:
        return "", None
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        return text, json.loads(text)
    except ValueError:
        return text, None


@dataclass(frozen=True)
class ZnodeSnapshot:
    """ZooKeeper's Stat fields a reader uses, with the data they describe. A snapshot built by
    hand (tests) leaves what it does not know 0."""

    path: str
    data: bytes = b""  # b"" also when only the stat was read (stat_node)
    version: int = 0
    cversion: int = 0
    aversion: int = 0
    czxid: int = 0
    mzxid: int = 0
    pzxid: int = 0
    ctime: float = 0.0  # seconds since the epoch (ZooKeeper keeps milliseconds)
    mtime: float = 0.0
    ephemeral_owner: int = 0  # the owning session; 0: persistent
    data_length: int = 0
    num_children: int = 0
    children: frozenset[str] | None = None  # None: not read

    @classmethod
    def from_kazoo(
        cls, path: str, data: bytes | None, stat: Any, children: Iterable[str] | None = None
    ) -> ZnodeSnapshot:
        """From kazoo's (data, ZnodeStat) and, when read, get_children's names."""
        return cls(
            path=path,
            data=data or b"",
            version=stat.version,
            cversion=stat.cversion,
            aversion=stat.aversion,
            czxid=stat.czxid,
            mzxid=stat.mzxid,
            pzxid=stat.pzxid,
            ctime=stat.ctime / 1000.0,
            mtime=stat.mtime / 1000.0,
            ephemeral_owner=stat.ephemeralOwner,
            data_length=stat.dataLength,
            num_children=stat.numChildren,
            children=frozenset(children) if children is not None else None,
        )

    @property
    def ephemeral(self) -> bool:
        return bool(self.ephemeral_owner)

    def with_children(self, names: Iterable[str]) -> ZnodeSnapshot:
        return replace(self, children=frozenset(names))

    def json(self) -> tuple[str, Any | None]:
        """Its data as decode_json reads it."""
        return decode_json(self.data)

    def stat_dict(self) -> dict[str, Any]:
        """The stat as `zk stat --json` prints it."""
        return {
            "version": self.version,
            "cversion": self.cversion,
            "aversion": self.aversion,
            "ephemeral_owner": hex(self.ephemeral_owner) if self.ephemeral_owner else "0x0",
            "ephemeral": self.ephemeral,
            "ctime": self.ctime,
            "mtime": self.mtime,
            "czxid": self.czxid,
            "mzxid": self.mzxid,
            "pzxid": self.pzxid,
            "data_length": self.data_length,
            "num_children": self.num_children,
        }

    def to_dict(self) -> dict[str, Any]:
        """Path, data (parsed when JSON) and stat, as `zk get --json` (and each node of `zk tree
        --json`) prints it."""
        text, parsed = self.json()
        data = parsed if parsed is not None else text
        return {"path": self.path, "data": data, "json": parsed is not None, "stat": self.stat_dict()}
