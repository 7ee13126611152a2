"""Stale registrations: a pure decision from a snapshot of nodes and containers, then deletion
guarded against re-creation.

Layout under a registry base (default /services): level 1 = service nodes, level 2 = instance
nodes (`IP:PORT`, registration payload). Deeper nodes are never touched.

Safety first: PATH may not be `/`, ZooKeeper's own `/zookeeper` subtree or the registrators'
election tree (/svcctl); only nodes that look exactly like what a registrator writes are judged,
everything else (other applications' data) is left alone:
- an instance node is judged only when it is a registration: a childless level-2 node whose
  data is registrator's JSON payload (Name, IP, PublicPort, PrivatePort, ContainerID) naming
  this very node (`<Name>/<IP>:<PublicPort>`);
- a service node is judged only when it is what a registrator creates: persistent, empty data,
  and no children (or only registrations this prune removes).

Why each instance rule:
- container gone: our payloads name their engine (`svcctl.engine_id`) and container
  (`svcctl.container_id`); when the engine is this one and the container no longer runs here,
  the registration is stale. Payloads of another engine, or without our stamp (plain
  gliderlabs/registrator, other hosts), are not ours to judge by containers.
- no owner session: ZooKeeper deletes the ephemeral nodes of an expired session itself, so a
  live ephemeral node always has a live owner. A registration with ephemeralOwner 0 is
  persistent: no session will ever remove it when its container goes.
- probe (opt-in): the advertised TCP endpoint refuses connections.
- empty service: a service node with no instance left (after this prune).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import DEFAULT_BASE
from svcctl.errors import BadInputError
from svcctl.registry.payload import RegistrationPayload
from svcctl.zk.ops import check_removable, normalize_path
from svcctl.zk.tree import join_path

if TYPE_CHECKING:
    from kazoo.client import KazooClient

    from svcctl.zk.znode import ZnodeSnapshot

CONTAINER_GONE = "container not running"
NO_OWNER = "no owner session"
REFUSED = "endpoint refuses"
EMPTY_SERVICE = "empty service"

# The registrators' election tree (svcctl.registry.election.ELECTION_ROOT lives below it); not imported
# from there so that `zk` commands stay light.
SVCCTL_TREE = "/svcctl"


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
    outcome: str | None = None  # after apply: deleted, gone, kept (...), skipped (...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def protected_reason(path: str) -> str | None:
    """Why prune must never work on `path` (a normalized path), or None when it may."""
    if path == "/":
        return "the root holds every application's data and ZooKeeper's own"
    if _under(path, SVCCTL_TREE):
        return "it holds the registrators' election"
    try:
        check_removable(path)  # the guard of `zk rm`: /zookeeper and everything below it
    except BadInputError:
        return "it belongs to ZooKeeper itself"
    return None


def check_prunable(path: str) -> str:
    """The normalized PATH, or BadInputError when prune must not work there."""
    path = normalize_path(path)
    why = protected_reason(path)
    if why:
        raise BadInputError(
            f"refusing to prune {path}: {why}", f"name a registry base or one service node, e.g. {DEFAULT_BASE}"
        )
    return path


def registry_base(path: str, nodes: dict[str, ZnodeSnapshot] | None = None, default_base: str = DEFAULT_BASE) -> str:
    """The base the levels count from: the default base when PATH is it or below it; else PATH's
    parent when PATH holds registrations itself (PATH is one service node of another base, e.g.
    of `registrator run zookeeper://…/myservices`); else PATH."""
    if path == default_base or path.startswith(default_base.rstrip("/") + "/"):
        return default_base
    node = (nodes or {}).get(path)
    if node is not None:
        for child in node.children or ():
            child_path = f"{path.rstrip('/')}/{child}"
            if child_path in nodes and _registration(child_path, nodes[child_path].data) is not None:
                return path.rpartition("/")[0] or "/"
    return path


def _level(base: str, path: str) -> int:
    if path == base:
        return 0
    return path[len(base.rstrip("/")) :].strip("/").count("/") + 1


def _registration(path: str, data: bytes) -> RegistrationPayload | None:
    """The payload when the node at `path` is a registration as a registrator writes it."""
    payload = RegistrationPayload.decode(data)
    return payload if payload is not None and payload.is_registration_at(path) else None


def container_running(payload: RegistrationPayload, containers: list[ContainerInfo]) -> bool | None:
    """True/False when the payload names a container; None when it names none."""
    if not payload.names_a_container:
        return None
    return any(payload.names_container(c.id, c.hostname) for c in containers)


def decide(
    path: str,
    nodes: dict[str, ZnodeSnapshot],
    containers: list[ContainerInfo] | None,
    engine_id: str | None = None,
    refused: set[str] | None = None,
) -> list[PruneDecision]:
    """What to delete under `path`, instances first then services, from a snapshot.

    `containers` is what runs on this engine and `engine_id` its id (either None: the engine was
    not asked, skip the container rule); `refused` the instance paths whose endpoint refused a
    probe (None: no probe). A protected PATH (see protected_reason) yields nothing.
    """
    if protected_reason(path):
        return []
    base = registry_base(path, nodes)
    prefix = path.rstrip("/") + "/"
    # (No node below an unprotected PATH is protected: the check above covers the whole tree.)
    inside = {p: n for p, n in nodes.items() if p == path or p.startswith(prefix)}
    decisions: list[PruneDecision] = []
    pruned: set[str] = set()
    for p in sorted(inside):
        node = inside[p]
        if _level(base, p) != 2 or node.children:
            continue  # a node with children is no plain registration: not ours to judge
        payload = _registration(p, node.data)
        if payload is None:
            continue  # not a registration: other data, never proposed
        reason = detail = None
        ours = containers is not None and engine_id is not None and payload.engine_id == engine_id
        if ours and container_running(payload, containers) is False:
            cid = payload.container_id or payload.container_hostname
            reason, detail = CONTAINER_GONE, f"container {str(cid)[:12]} does not run on this engine"
        elif node.ephemeral_owner == 0:
            reason, detail = NO_OWNER, "persistent registration: no session will ever remove it"
        elif refused is not None and p in refused:
            endpoint = payload.endpoint
            reason, detail = (
                REFUSED,
                f"{endpoint[0]}:{endpoint[1]} refuses connections" if endpoint else "refuses connections",
            )
        if reason:
            decisions.append(PruneDecision(p, "instance", reason, detail or "", node.version, node.czxid))
            pruned.add(p)
    for p in sorted(inside):
        node = inside[p]
        if _level(base, p) != 1 or node.ephemeral_owner != 0 or node.data:
            continue  # a registrator's service node is persistent with empty data
        left = [c for c in node.children or () if join_path(p, c) not in pruned]
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


def instance_endpoints(path: str, nodes: dict[str, ZnodeSnapshot]) -> dict[str, tuple[str, int]]:
    """The TCP endpoints `--probe` may try: registrations only (UDP ones are not probed)."""
    base = registry_base(path, nodes)
    out: dict[str, tuple[str, int]] = {}
    for p, node in nodes.items():
        if _level(base, p) != 2 or node.children:
            continue
        payload = _registration(p, node.data)
        if payload is None or payload.is_udp:
            continue
        endpoint = payload.endpoint
        if endpoint:
            out[p] = endpoint
    return out


def _outcome(client: KazooClient, path: str, d: PruneDecision) -> str:
    from kazoo.exceptions import (
        BadVersionError,
        KazooException,
        NoNodeError,
        NotEmptyError,
    )

    if not (d.path == path or d.path.startswith(path.rstrip("/") + "/")):
        return "kept (outside PATH)"
    why = protected_reason(d.path)
    if why:
        return f"skipped ({why})"
    try:
        stat = client.exists(d.path)
        if stat is None:
            return "gone"
        if stat.czxid != d.czxid:
            return "kept (re-created meanwhile)"
        client.delete(d.path, version=d.version)
        return "deleted"
    except NoNodeError:
        return "gone"
    except BadVersionError:
        return "kept (changed meanwhile)"
    except NotEmptyError:
        return "kept (not empty)"
    except KazooException as exc:  # a refusal (NoAuth, ...), a lost connection: this node is skipped
        return f"skipped ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"


def apply(
    client: KazooClient, path: str, decisions: list[PruneDecision], on_progress: Callable[[str], None] | None = None
) -> list[PruneDecision]:
    """Delete what `decide` chose, each only if it is still the node that was judged: same
    czxid (not re-created meanwhile) and same data version (delete is conditional on it).
    Nothing outside PATH or protected is touched; any ZooKeeper error skips that node with the
    reason in its outcome."""
    for d in decisions:
        d.outcome = _outcome(client, path, d)
        if on_progress:
            on_progress(f"{d.path}: {d.outcome}")
    return decisions
