"""A registration znode's data: gliderlabs/registrator's keys (Go field order), plus ours under
one extra key, `svcctl`. RegistrationPayload is the only reader and writer of it: the daemon's
writes and reconciliation plan, discovery, `ps`, `zk tree`/`watch` summaries and prune all go
through it. Pure (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from svcctl.zk.tree import cut, decoded_summary
from svcctl.zk.znode import decode_json

if TYPE_CHECKING:
    from svcctl.registry.model import Registration

STAMP_KEY = "svcctl"
# gliderlabs/registrator's keys a well-formed registration carries, with their JSON types.
REGISTRATOR_KEYS: dict[str, type] = {"Name": str, "IP": str, "PublicPort": int, "PrivatePort": int, "ContainerID": str}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, eq=False)
class RegistrationPayload(Mapping[str, Any]):
    """A registration node's data, typed; also a read-only Mapping over the raw JSON object
    (`payload["Name"]`), equal to any mapping with the same body.

    The typed fields read registrator's keys (`container_hostname` is its ContainerID: the
    hostname, by default the short id) and our stamp (None, "tcp" or () when absent or of the
    wrong type). Three notions of "is a registration", each for its reader: discovery takes any
    JSON object (an instance falls back to the node name); trees label what has registrator's
    Name and PublicPort (has_registrator_keys); prune judges only what a registrator would have
    written at that very path (is_registration_at)."""

    name: str | None
    ip: str | None
    public_port: int | None  # ints only, never a bool
    private_port: int | None
    container_hostname: str | None
    tags: tuple[str, ...]
    stamped: bool  # our `svcctl` object is there: one of our registrators wrote it
    container_id: str | None  # ours: the full id
    container_name: str | None
    compose_project: str | None  # ours: the container's Compose project, when it has one
    protocol: str  # tcp | udp
    engine_id: str | None
    registrator: str | None
    registered_at: int | float | None
    raw: Mapping[str, Any] = field(repr=False)

    # --- reading and writing ---------------------------------------------------------------

    @classmethod
    def decode(cls, data: bytes | str | None) -> RegistrationPayload | None:
        """The payload in a node's data; None when it holds no JSON object."""
        _, value = decode_json(data)
        return cls._of_body(value) if isinstance(value, dict) else None

    @classmethod
    def of(
        cls, reg: Registration, engine_id: str | None, registrator_id: str, registered_at: float
    ) -> RegistrationPayload:
        """What a registrator writes for `reg`: registrator's keys exactly, then our stamp."""
        return cls._of_body(
            {
                "Name": reg.name,
                "IP": reg.ip,
                "PublicPort": reg.port,
                "PrivatePort": reg.private_port,
                "ContainerID": reg.container_hostname,
                "Tags": list(reg.tags),
                "Attrs": dict(reg.attrs),
                STAMP_KEY: {
                    "container_id": reg.container_id,
                    "container_name": reg.container_name,
                    "compose_project": reg.compose_project,
                    "compose_service": reg.compose_service,
                    "protocol": reg.protocol,
                    "engine_id": engine_id,
                    "registrator": registrator_id,
                    "registered_at": registered_at,
                },
            }
        )

    def encode(self) -> bytes:
        # Compact like Go's encoding/json, which registrator's consumers read.
        return json.dumps(self.raw, separators=(",", ":")).encode()

    @classmethod
    def _of_body(cls, body: dict[str, Any]) -> RegistrationPayload:
        stamp = body.get(STAMP_KEY)
        ours = stamp if isinstance(stamp, dict) else {}
        name, ip, hostname, tags = body.get("Name"), body.get("IP"), body.get("ContainerID"), body.get("Tags")
        return cls(
            name=str(name) if name is not None else None,
            ip=str(ip) if ip else None,
            public_port=_int(body.get("PublicPort")),
            private_port=_int(body.get("PrivatePort")),
            container_hostname=str(hostname) if hostname else None,
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            stamped=isinstance(stamp, dict),
            container_id=_text(ours.get("container_id")),
            container_name=_text(ours.get("container_name")),
            compose_project=_text(ours.get("compose_project")),
            protocol=_text(ours.get("protocol")) or "tcp",
            engine_id=_text(ours.get("engine_id")),
            registrator=_text(ours.get("registrator")),
            registered_at=_number(ours.get("registered_at")),
            raw=body,
        )

    # --- the Mapping view of the raw body ----------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    # --- predicates ----------------------------------------------------------------------------

    @property
    def has_registrator_keys(self) -> bool:
        """It carries registrator's Name and PublicPort (other JSON objects are just data): what
        a tree labels as a registration."""
        return "Name" in self.raw and "PublicPort" in self.raw

    @property
    def wellformed(self) -> bool:
        """Every one of registrator's keys with its JSON type; Name and IP not empty."""
        for key, kind in REGISTRATOR_KEYS.items():
            value = self.raw.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                return False
            if kind is str and key != "ContainerID" and not value:
                return False
        return True

    def names_node(self, path: str) -> bool:
        """The node at `path` is the one it names: `<Name>/<IP>:<PublicPort>`."""
        if self.name is None or self.ip is None or self.public_port is None:
            return False
        parent, _, node = path.rpartition("/")
        return node == f"{self.ip}:{self.public_port}" and parent.rpartition("/")[2] == self.name

    def is_registration_at(self, path: str) -> bool:
        """A registration exactly as a registrator writes it, at the path it names."""
        return self.wellformed and self.names_node(path)

    @property
    def names_a_container(self) -> bool:
        return bool(self.container_id or self.container_hostname)

    def names_container(self, container_id: str, hostname: str | None = None) -> bool:
        """Does it name this container (full id, and its hostname when known)? Our stamp has the
        full id; registrator's own ContainerID is the short id or the hostname."""
        if self.container_id:
            return self.container_id == container_id
        if self.container_hostname:
            return container_id.startswith(self.container_hostname) or hostname == self.container_hostname
        return False

    @property
    def endpoint(self) -> tuple[str, int] | None:
        """(IP, PublicPort) when both are usable."""
        if self.ip and self.public_port is not None and self.public_port > 0:
            return self.ip, self.public_port
        return None

    @property
    def is_udp(self) -> bool:
        return self.protocol == "udp" or "udp" in self.tags

    def same_as(self, other: RegistrationPayload) -> bool:
        """Equal bodies but for the registration time: rewriting it would change nothing else."""
        return _without_registration_time(self.raw) == _without_registration_time(other.raw)

    # --- one line ----------------------------------------------------------------------------

    def summary(self) -> str:
        """`[Name container public->private/proto]`, as trees and watch lines show it."""
        container = self.container_name or self.container_hostname or "?"
        ports = f"{self.raw.get('PublicPort')}->{self.raw.get('PrivatePort')}/{self.protocol}"
        return f"[{self.raw.get('Name')} {container} {ports}]"

    @classmethod
    def summary_of(cls, data: bytes | str | None, max_len: int = 80) -> str:
        """A one-line summary of any znode's data: a registration shows its summary, anything
        else as svcctl.zk.tree.data_summary shows it (the data decoded once); all cut to
        `max_len`."""
        text, value = decode_json(data)
        if isinstance(value, dict):
            payload = cls._of_body(value)
            if payload.has_registrator_keys:
                return cut(payload.summary(), max_len)
        return decoded_summary(text, value, max_len)


def _without_registration_time(body: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if isinstance(out.get(STAMP_KEY), dict):
        out[STAMP_KEY] = {k: v for k, v in out[STAMP_KEY].items() if k != "registered_at"}
    return out
