"""Stale registrations: a pure decision from a snapshot of nodes and containers, then deletion
guarded against re-creation.

Layout under a registry base (default /services): level 1 = service nodes, level 2 = instance
nodes (`IP:PORT`, ephemeral, registration payload). Deeper nodes are never touched.

Why each rule:
- container gone: the payload names the container (`svcctl.container_id`, else `ContainerID`,
  a short id or a hostname); if that container no longer runs on this engine the registration
  is stale. Payloads stamped with another engine's id are not ours to judge.
- no owner: ephemeral nodes of an ended session vanish by themselves (the server deletes them on
  expiry), so a live ephemeral node has a live owner. An instance node with ephemeralOwner 0 is
  persistent: nobody will ever remove it when its container goes. A caller that knows the live
  sessions (e.g. from a leader's `dump`) can pass them to judge ephemeral owners too.
- probe (opt-in): the advertised TCP endpoint refuses connections.
- empty service: a service node with no instance left (after this prune).
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..config import DEFAULT_BASE
from .tree import join_path

if TYPE_CHECKING:
    from kazoo.client import KazooClient

CONTAINER_GONE = "container not running"
NO_OWNER = "no owner session"
OWNER_GONE = "owner session gone"
REFUSED = "endpoint refuses"
EMPTY_SERVICE = "empty service"


@dataclass
class NodeSnapshot:
    path: str
    data: bytes
    version: int
    czxid: int
    ephemeral_owner: int
    children: list[str] = field(default_factory=list)


@dataclass
class ContainerInfo:
    id: str  # full id
    hostname: str | None = None


@dataclass
class PruneDecision:
    path: str
    kind: str  # "instance" or "service"
    reason: str
    detail: str
    version: int
    czxid: int
    outcome: str | None = None  # after apply: deleted, kept (...), gone

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def registry_base(path: str, default_base: str = DEFAULT_BASE) -> str:
    """The base the levels count from: the default base when PATH is it or below it, else PATH."""
    if path == default_base or path.startswith(default_base.rstrip("/") + "/"):
        return default_base
    return path


def _level(base: str, path: str) -> int:
    if path == base:
        return 0
    return path[len(base.rstrip("/")):].strip("/").count("/") + 1


def _payload(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    try:
        value = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _endpoint(path: str, payload: dict[str, Any]) -> tuple[str, int] | None:
    name = path.rsplit("/", 1)[-1]
    host, _, port_text = name.rpartition(":")
    ip = payload.get("IP") or host
    port = payload.get("PublicPort")
    if not isinstance(port, int):
        port = int(port_text) if port_text.isdigit() else None
    return (str(ip), port) if ip and port else None


def container_running(payload: dict[str, Any], containers: list[ContainerInfo]) -> bool | None:
    """True/False when the payload names a container; None when it names none."""
    ours = payload.get("svcctl") if isinstance(payload.get("svcctl"), dict) else {}
    full = ours.get("container_id")
    if isinstance(full, str) and full:
        return any(c.id == full for c in containers)
    short = payload.get("ContainerID")
    if isinstance(short, str) and short:
        return any(c.id.startswith(short) or c.hostname == short for c in containers)
    return None


def decide(
    path: str,
    nodes: dict[str, NodeSnapshot],
    containers: list[ContainerInfo] | None,
    engine_id: str | None = None,
    live_sessions: set[int] | None = None,
    refused: set[str] | None = None,
    base: str | None = None,
) -> list[PruneDecision]:
    """What to delete under `path`, instances first then services, from a snapshot.

    `containers` is what runs on this engine (None: the engine was not asked, skip that rule);
    `refused` the instance paths whose endpoint refused a probe (None: no probe).
    """
    base = base or registry_base(path)
    prefix = path.rstrip("/") + "/"
    inside = {p: n for p, n in nodes.items() if p == path or p.startswith(prefix)}
    decisions: list[PruneDecision] = []
    pruned: set[str] = set()
    for p in sorted(inside):
        node = inside[p]
        if _level(base, p) != 2 or node.children:
            continue  # a node with children is no plain registration: not ours to judge
        payload = _payload(node.data)
        reason = detail = None
        stamped_engine = (payload.get("svcctl") or {}).get("engine_id") if isinstance(payload.get("svcctl"), dict) else None
        foreign = bool(engine_id and stamped_engine and stamped_engine != engine_id)
        running = container_running(payload, containers) if containers is not None and not foreign else None
        if running is False:
            ours = payload.get("svcctl") if isinstance(payload.get("svcctl"), dict) else {}
            cid = ours.get("container_id") or payload.get("ContainerID")
            reason, detail = CONTAINER_GONE, f"container {str(cid)[:12]} does not run on this engine"
        elif node.ephemeral_owner == 0:
            reason, detail = NO_OWNER, "persistent node: no session will ever remove it"
        elif live_sessions is not None and node.ephemeral_owner not in live_sessions:
            reason, detail = OWNER_GONE, f"session {hex(node.ephemeral_owner)} is not live"
        elif refused is not None and p in refused:
            endpoint = _endpoint(p, payload)
            reason, detail = REFUSED, f"{endpoint[0]}:{endpoint[1]} refuses connections" if endpoint else "refuses connections"
        if reason:
            decisions.append(PruneDecision(p, "instance", reason, detail or "", node.version, node.czxid))
            pruned.add(p)
    for p in sorted(inside):
        node = inside[p]
        if _level(base, p) != 1:
            continue
        left = [c for c in node.children if join_path(p, c) not in pruned]
        if not left:
            detail = "no instances" if not node.children else f"no instances after pruning {len(node.children)}"
            decisions.append(PruneDecision(p, "service", EMPTY_SERVICE, detail, node.version, node.czxid))
    return decisions


def probe_refused(endpoints: dict[str, tuple[str, int]], timeout: float = 1.0) -> set[str]:
    """Paths whose TCP endpoint actively refuses (a timeout is not proof: not counted)."""
    refused: set[str] = set()
    for path, (ip, port) in endpoints.items():
        try:
            with socket.create_connection((ip, port), timeout=timeout):
                pass
        except ConnectionRefusedError:
            refused.add(path)
        except OSError:
            pass
    return refused


def read_snapshot(client: "KazooClient", path: str) -> dict[str, NodeSnapshot]:
    from .ops import walk

    children, infos = walk(client, path, with_data=True)
    out: dict[str, NodeSnapshot] = {}
    for p, info in infos.items():
        out[p] = NodeSnapshot(p, info.data, info.stat.version, info.stat.czxid, info.stat.ephemeral_owner, children.get(p, []))
    return out


def instance_endpoints(path: str, nodes: dict[str, NodeSnapshot], base: str | None = None) -> dict[str, tuple[str, int]]:
    base = base or registry_base(path)
    out: dict[str, tuple[str, int]] = {}
    for p, node in nodes.items():
        payload = _payload(node.data)
        if _level(base, p) == 2 and (payload.get("svcctl") or {}).get("protocol", "tcp") != "udp":
            endpoint = _endpoint(p, payload)
            if endpoint:
                out[p] = endpoint
    return out


def apply(client: "KazooClient", path: str, decisions: list[PruneDecision], on_progress: Callable[[str], None] | None = None) -> list[PruneDecision]:
    """Delete what `decide` chose, each only if it is still the node that was judged: same
    czxid (not re-created meanwhile) and same data version (delete is conditional on it)."""
    from kazoo.exceptions import BadVersionError, NoNodeError, NotEmptyError

    prefix = path.rstrip("/") + "/"
    for d in decisions:
        if not (d.path == path or d.path.startswith(prefix)) or d.path in ("/", "/zookeeper"):
            d.outcome = "kept (outside PATH)"
            continue
        stat = client.exists(d.path)
        if stat is None:
            d.outcome = "gone"
            continue
        if stat.czxid != d.czxid:
            d.outcome = "kept (re-created meanwhile)"
            continue
        try:
            client.delete(d.path, version=d.version)
            d.outcome = "deleted"
        except NoNodeError:
            d.outcome = "gone"
        except BadVersionError:
            d.outcome = "kept (changed meanwhile)"
        except NotEmptyError:
            d.outcome = "kept (has instances again)"
        if on_progress:
            on_progress(f"{d.path}: {d.outcome}")
    return decisions


def running_containers() -> tuple[list[ContainerInfo], str]:
    """What runs on this engine (ids and hostnames) and the engine's id; imports docker lazily."""
    from ..engine import docker_client, engine_id

    client = docker_client()
    infos: list[ContainerInfo] = []
    for container in client.containers.list():
        # The list API has no hostname; registrator's ContainerID is the hostname, so inspect.
        hostname = (container.attrs.get("Config") or {}).get("Hostname")
        if hostname is None:
            try:
                hostname = client.api.inspect_container(container.id)["Config"].get("Hostname")
            except Exception:  # the container went away meanwhile: it does not run
                continue
        infos.append(ContainerInfo(container.id, hostname))
    return infos, engine_id(client)
