"""The registration model, pure logic (no I/O): which registrations a container yields (the
naming rules of gliderlabs/registrator) and the reconciliation plan that turns ZooKeeper's actual
state into the desired one (their znode data: svcctl.registry.payload).

Naming rules (see ../shared/compat/registrator-zookeeper.md):
- candidate ports are the published ones (every exposed port with `--internal`; the exposed ports
  themselves for a host-network container);
- the name is the image basename (a swarm task's: its service's name) unless `SERVICE_NAME` /
  `SERVICE_<port>_NAME` (env or label, a label wins, a port-scoped key wins over a general one);
- several candidate ports → `-<exposed port>` suffix unless the name came from a port-scoped key;
- `SERVICE_IGNORE` / `SERVICE_<port>_IGNORE` skip, `SERVICE_TAGS` (`\\,` escapes a comma) are
  tags, every other `SERVICE_X` becomes attribute `x`; UDP ports get a `udp` tag.
Scope: with `-label-filter`, only the containers carrying those labels register at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from svcctl.docker.labels import COMPOSE_PROJECT, COMPOSE_SERVICE, SWARM_SERVICE_NAME
from svcctl.errors import BadInputError
from svcctl.registry.payload import RegistrationPayload

if TYPE_CHECKING:
    from svcctl.zk.znode import ZnodeSnapshot

UNSPECIFIED_IPS = ("", "0.0.0.0", "::")
# Characters ZooKeeper refuses in a node name (its PathUtils), plus the path separator.
_BAD_NAME_CHARS = re.compile("[/\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]")


@dataclass(frozen=True)
class Options:
    """How the registrator advertises (its -ip, -internal, -explicit, -tags, -useIpFromLabel flags)."""

    ip: str | None = None  # forces the advertised address of host-mapped ports
    internal: bool = False  # container IP + exposed port instead of host IP + host port
    explicit: bool = False  # only containers whose name is set by SERVICE_[<port>_]NAME
    host_ip: str = "127.0.0.1"  # advertised when a port is bound to every address (0.0.0.0)
    tags: tuple[str, ...] = ()  # appended to every registration's tags
    ip_label: str | None = None  # a container label naming the address to advertise (wins over -ip)
    # -label-filter: only the containers that carry every one of these labels (none: every container)
    label_filters: tuple[LabelFilter, ...] = ()


@dataclass(frozen=True)
class Registration:
    """One published port of one running container: one ephemeral znode."""

    name: str
    ip: str
    port: int  # PublicPort: the host port (the exposed port with --internal)
    private_port: int  # the exposed port inside the container
    protocol: str  # tcp | udp
    container_id: str  # full id
    container_hostname: str  # registrator's ContainerID: the hostname, by default the short id
    container_name: str
    compose_project: str | None = None
    compose_service: str | None = None
    tags: tuple[str, ...] = ()
    attrs: tuple[tuple[str, str], ...] = ()

    def path(self, base: str) -> str:
        return f"{base.rstrip('/')}/{self.name}/{self.ip}:{self.port}"


@dataclass(frozen=True)
class Refusal:
    """A port the rules would register under a name ZooKeeper cannot hold (logged, skipped)."""

    container_id: str
    container_name: str
    port: str
    name: str
    reason: str


@dataclass
class Naming:
    registrations: list[Registration] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # "<port>/<proto>: why"


def image_basename(image: str) -> str:
    """`registry:5000/team/app:1.2` → `app`; a digest (`app@sha256:…`) is dropped too."""
    base = image.rsplit("/", 1)[-1]
    return base.split("@", 1)[0].split(":", 1)[0]


def default_service_name(image: str, labels: Mapping[str, str]) -> str:
    """The name a container registers under without SERVICE_NAME: a swarm task's service name
    (its tasks share it, their image may change in a rolling update), else its image's basename."""
    return (labels or {}).get(SWARM_SERVICE_NAME) or image_basename(image)


def split_tags(text: str) -> list[str]:
    """Comma separated, `\\,` keeps a comma inside a tag; blanks dropped."""
    tags, current, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] == ",":
            current.append(",")
            i += 2
            continue
        if text[i] == ",":
            tags.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    tags.append("".join(current))
    return [t.strip() for t in tags if t.strip()]


def service_metadata(env: list[str], labels: Mapping[str, str], port: str) -> tuple[dict[str, str], set[str]]:
    """SERVICE_* keys for one exposed port: (metadata, keys that came from a port-scoped key).
    Labels come after env so a label wins; a port-scoped key wins over a general one."""
    pairs = [item.split("=", 1) for item in env or []]
    pairs += [[k, v] for k, v in (labels or {}).items()]
    metadata: dict[str, str] = {}
    from_port: set[str] = set()
    for pair in pairs:
        if len(pair) != 2 or not pair[0].startswith("SERVICE_"):
            continue
        key, value = pair[0][len("SERVICE_") :].lower(), pair[1]
        scope, sep, rest = key.partition("_")
        if sep and scope.isdigit():
            if scope != port:
                continue
            metadata[rest] = value
            from_port.add(rest)
        elif key not in from_port:
            metadata[key] = value
    return metadata, from_port


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a znode name under BASE, or None when it can."""
    if not name:
        return "empty service name"
    if name in (".", ".."):
        return f"service name {name!r} is reserved by ZooKeeper"
    bad = _BAD_NAME_CHARS.search(name)
    if bad:
        what = "'/'" if bad.group() == "/" else f"character {bad.group()!r}"
        return f"service name {name!r} contains {what}"
    return None


def _container_ip(inspect: Mapping[str, Any]) -> str:
    settings = inspect.get("NetworkSettings") or {}
    if settings.get("IPAddress"):
        return settings["IPAddress"]
    for network in (settings.get("Networks") or {}).values():
        if network and network.get("IPAddress"):
            return network["IPAddress"]
    return ""


def candidate_ports(inspect: Mapping[str, Any], options: Options) -> dict[str, tuple[str, str, str]]:
    """`"<port>/<proto>"` → (host ip, host port, exposed port) of every port to register."""
    config = inspect.get("Config") or {}
    host_config = inspect.get("HostConfig") or {}
    ports: dict[str, tuple[str, str]] = {}
    # A host-network container listens on the host itself: its exposed ports are its published ones.
    if host_config.get("NetworkMode") == "host":
        for key in config.get("ExposedPorts") or {}:
            ports[key] = ("0.0.0.0", key.split("/")[0])
    elif options.internal:
        for key in config.get("ExposedPorts") or {}:
            ports[key] = ("", "")
    for key, bindings in ((inspect.get("NetworkSettings") or {}).get("Ports") or {}).items():
        published = [b for b in bindings or [] if b and b.get("HostPort")]
        ports[key] = (
            (published[0].get("HostIp", ""), published[0]["HostPort"]) if published else ports.get(key, ("", ""))
        )
    chosen = {}
    for key, (host_ip, host_port) in ports.items():
        if not host_port and not options.internal:
            continue  # not published on the host
        chosen[key] = (host_ip, host_port, key.split("/")[0])
    return chosen


def label_address(labels: Mapping[str, str], label: str | None) -> str | None:
    """-useIpFromLabel: the address in that label (a CIDR suffix dropped, as upstream does);
    None when no such label is asked for or set, "" when its value is not an IP address."""
    import ipaddress

    value = (labels or {}).get(label or "") if label else None
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip().rsplit("/", 1)[0]))
    except ValueError:
        return ""


def is_registrable(inspect: Mapping[str, Any]) -> bool:
    state = inspect.get("State") or {}
    return bool(state.get("Running")) and not state.get("Paused") and not state.get("Restarting")


# --- the scope: which containers a registrator registers -----------------------------------------


@dataclass(frozen=True)
class LabelFilter:
    """`-label-filter KEY[=VALUE]`, as `docker ps --filter label=KEY[=VALUE]`: a container carrying
    label KEY (with exactly that value when one is given); `!KEY[=VALUE]`: one that does not.
    `com.docker.compose.project=NAME` scopes a registrator to one Compose project,
    `com.docker.stack.namespace=NAME` to one Swarm stack's task containers, and
    `!io.svcctl.scoped=true` leaves out named svcctl projects' containers (they have their own)."""

    key: str
    value: str | None = None
    negated: bool = False

    @classmethod
    def parse(cls, text: str) -> LabelFilter:
        spec = text.strip()
        negated = spec.startswith("!")
        key, sep, value = spec.removeprefix("!").partition("=")
        if not key.strip() or any(c.isspace() for c in key):
            raise BadInputError(
                f"bad -label-filter {text!r}",
                "give KEY, KEY=VALUE or !KEY[=VALUE], e.g. -label-filter com.docker.compose.project=dev",
            )
        return cls(key, value if sep else None, negated)

    def matches(self, labels: Mapping[str, str]) -> bool:
        carries = self.key in labels and (self.value is None or labels[self.key] == self.value)
        return carries != self.negated

    def __str__(self) -> str:
        text = self.key if self.value is None else f"{self.key}={self.value}"
        return f"!{text}" if self.negated else text


def in_scope(labels: Mapping[str, str] | None, filters: tuple[LabelFilter, ...]) -> bool:
    """The container's labels pass every filter (no filter: every container is in scope)."""
    return all(f.matches(labels or {}) for f in filters)


def container_registrations(inspect: Mapping[str, Any], options: Options = Options()) -> Naming:
    """Every registration `docker inspect` output yields under the naming rules; stopped,
    paused and restarting containers yield none, nor do those out of the scope (-label-filter)."""
    result = Naming()
    if not is_registrable(inspect):
        return result
    config = inspect.get("Config") or {}
    labels = config.get("Labels") or {}
    if not in_scope(labels, options.label_filters):
        result.ignored.append("*: out of scope (-label-filter " + " ".join(map(str, options.label_filters)) + ")")
        return result
    env = config.get("Env") or []
    container_id = inspect.get("Id", "")
    container_name = (inspect.get("Name") or "").lstrip("/")
    default_name = default_service_name(config.get("Image") or "", labels)
    ports = candidate_ports(inspect, options)
    is_group = len(ports) > 1
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]) if k.split("/")[0].isdigit() else 0, k)):
        host_ip, host_port, exposed = ports[key]
        protocol = key.split("/")[1] if "/" in key else "tcp"
        metadata, from_port = service_metadata(env, labels, exposed)
        if metadata.get("ignore"):
            result.ignored.append(f"{key}: SERVICE_IGNORE")
            continue
        name = metadata.get("name", "")
        if not name:
            if options.explicit:
                result.ignored.append(f"{key}: no SERVICE_NAME (explicit mode)")
                continue
            name = default_name
        if is_group and "name" not in from_port:
            name = f"{name}-{exposed}"
        problem = name_problem(name)
        if problem:
            result.refused.append(Refusal(container_id, container_name, key, name, problem))
            continue
        if options.internal:
            ip, port = _container_ip(inspect), exposed
        else:
            ip = options.ip or (host_ip if host_ip not in UNSPECIFIED_IPS else options.host_ip)
            port = host_port
        labelled = label_address(labels, options.ip_label)
        if labelled is not None:
            if not labelled:
                result.refused.append(
                    Refusal(container_id, container_name, key, name, f"label {options.ip_label} is not an IP address")
                )
                continue
            ip = labelled
        if not ip or not port.isdigit():
            result.refused.append(Refusal(container_id, container_name, key, name, "no address to advertise"))
            continue
        tags = list(dict.fromkeys([*split_tags(metadata.get("tags", "")), *options.tags]))
        if protocol == "udp":
            tags.append("udp")
        attrs = {k: v for k, v in metadata.items() if k not in ("id", "tags", "name", "ignore")}
        result.registrations.append(
            Registration(
                name=name,
                ip=ip,
                port=int(port),
                private_port=int(exposed) if exposed.isdigit() else 0,
                protocol=protocol,
                container_id=container_id,
                container_hostname=config.get("Hostname") or container_id[:12],
                container_name=container_name,
                compose_project=labels.get(COMPOSE_PROJECT),
                compose_service=labels.get(COMPOSE_SERVICE),
                tags=tuple(tags),
                attrs=tuple(sorted(attrs.items())),
            )
        )
    return result


# --- reconciliation plan ---------------------------------------------------------------------


class OpKind(StrEnum):
    """create: absent → create; replace: left by another session of this engine (a dead or
    retired registrator) → delete(version) + create in one transaction; update: ours, data
    differs → set(version); delete: ours (or this engine's) and no longer wanted;
    conflict: held by another engine or a foreign writer → left alone, logged."""

    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    DELETE = "delete"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Op:
    """One step of a reconciliation plan (see OpKind)."""

    kind: OpKind
    path: str
    registration: Registration | None = None
    version: int = -1
    reason: str = ""


def plan(
    desired: Mapping[str, Registration],
    actual: Mapping[str, ZnodeSnapshot],
    *,
    engine_id: str,
    registrator_id: str,
    session_id: int,
) -> list[Op]:
    """Creates, replaces, updates and deletes that make `actual` what `desired` says, touching
    only nodes of this engine (or our own session). Deterministic order: deletes first (they free
    paths), then the rest by path. Each node's data is decoded once."""
    held = {path: RegistrationPayload.decode(node.data) for path, node in actual.items()}

    def this_engines(path: str) -> bool:
        payload = held[path]
        return payload is not None and payload.engine_id == engine_id

    ops: list[Op] = []
    for path in sorted(actual):
        if path in desired:
            continue
        node = actual[path]
        if node.ephemeral_owner == session_id and session_id:
            ops.append(Op(OpKind.DELETE, path, version=node.version, reason="no longer running"))
        elif this_engines(path):
            reason = "left by another registrator of this engine"
            ops.append(Op(OpKind.DELETE, path, version=node.version, reason=reason))
    for path in sorted(desired):
        reg = desired[path]
        node = actual.get(path)
        if node is None:
            ops.append(Op(OpKind.CREATE, path, reg, reason="missing"))
            continue
        if node.ephemeral_owner != session_id or not session_id:
            if this_engines(path):
                reason = "taking over from another session"
                ops.append(Op(OpKind.REPLACE, path, reg, version=node.version, reason=reason))
            else:
                ops.append(Op(OpKind.CONFLICT, path, reg, version=node.version, reason="held by another writer"))
            continue
        payload = held[path]
        if payload is None or not payload.same_as(RegistrationPayload.of(reg, engine_id, registrator_id, 0.0)):
            ops.append(Op(OpKind.UPDATE, path, reg, version=node.version, reason="data changed"))
    return ops


def desired_map(regs: list[Registration], base: str) -> tuple[dict[str, Registration], list[Registration]]:
    """Path → registration; a second registration for the same path (tcp and udp on one host
    port) is returned apart as a duplicate."""
    out: dict[str, Registration] = {}
    duplicates: list[Registration] = []
    for reg in regs:
        path = reg.path(base)
        if path in out:
            duplicates.append(reg)
        else:
            out[path] = reg
    return out, duplicates
